/**
 * The archive sink when a lease changes hands while the former owner is still writing: its late
 * files must not stay beside the new owner's, whether it lives to undo them (shardStopped) or
 * crashes first (the next recovery undoes them). Two pipelines share one directory, as two
 * workers share one bucket; the former owner's Parquet writes are held back by a gate.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { MANIFEST_ROOT } from '../../archive/manifest.js';
import { readArchiveColumns } from '../../archive/read.js';
import { COL_SEQUENCE, COL_SUB_INDEX } from '../../archive/schema.js';
import { LocalStore } from '../../archive/store.js';
import { ArchiveWriter } from '../../archive/writer.js';
import { subscriptionPayload } from '../../sim/cloudwatch.js';
import type { KinesisRecordIn } from '../../sources/types.js';
import { Pipeline } from '../pipeline.js';
import { ArchiveSink } from './archive.js';
import { GatedStore } from '../../../test/support/gated-store.js';

const SHARD = 'shardId-000000000000';
const PER_RECORD = 50;

function records(count: number): KinesisRecordIn[] {
  const line = (i: number) => `2 123456789012 eni-0abc 10.0.${i >> 8}.${i & 255} 10.1.0.1 ${1024 + (i % 50000)} 443 6 1 ${i} 1700000000 1700000060 ACCEPT OK`;
  return Array.from({ length: count }, (_, r) => ({
    streamName: 'flows',
    shardId: SHARD,
    sequenceNumber: String(5000 + r),
    partitionKey: 'k',
    arrivalMs: 0,
    data: subscriptionPayload(Array.from({ length: PER_RECORD }, (_, e) => line(r * PER_RECORD + e)), { logStream: 'eni-0abc-all', logGroup: 'g' }),
  }));
}

/** Every archived record's identity (sequence number/event index), one entry per stored row. */
async function archivedIdentities(store: LocalStore, dir: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of store.list('AWSLogs/')) {
    if (!o.key.endsWith('.parquet')) continue;
    const { rows, columns } = await readArchiveColumns(await readFile(join(dir, o.key)));
    for (let r = 0; r < rows; r++) out.push(`${columns[COL_SEQUENCE]!.strings![r]}/${columns[COL_SUB_INDEX]!.numbers![r]}`);
  }
  return out;
}

async function manifestKeys(store: LocalStore): Promise<string[]> {
  const keys: string[] = [];
  for await (const o of store.list(MANIFEST_ROOT)) keys.push(o.key);
  return keys;
}

describe('archive sink across a lease handover with a flush in flight', () => {
  let dir: string;
  let store: LocalStore;
  const all = records(10);
  const expected = all.flatMap((r) => Array.from({ length: PER_RECORD }, (_, e) => `${r.sequenceNumber}/${e + 1}`)).sort();

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowcut-handover-'));
    store = new LocalStore(dir);
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * A (tenure A#1) reads the shard from its start and begins a flush of all 10 records that
   * stalls; B (tenure B#2) takes the lease, recovers, reads the same records in two flushes
   * (other boundaries than A's) and checkpoints them. Returns A's stalled flush.
   */
  async function handover() {
    const clock = { now: 1_000_000 };
    const gated = new GatedStore(store);
    const a = new Pipeline([new ArchiveSink(new ArchiveWriter({ store: gated }))]);
    await a.shardStarting('flows', SHARD, null, { id: 'A#1' });
    await a.handle(SHARD, all);
    const aFlush = a.flush();
    while (gated.parquetPutsWaiting === 0) await new Promise((r) => setTimeout(r, 5));

    const bSink = new ArchiveSink(new ArchiveWriter({ store }), { lateWriteGraceMs: 60_000, now: () => clock.now });
    const b = new Pipeline([bSink]);
    await b.shardStarting('flows', SHARD, null, { id: 'B#2' });
    await b.handle(SHARD, all.slice(0, 4));
    await b.flush();
    await b.handle(SHARD, all.slice(4));
    const bPositions = await b.flush();
    const checkpoint = bPositions.get(SHARD)!.sequenceNumber;
    expect(checkpoint).toBe(all[9]!.sequenceNumber);
    await b.checkpointed('flows', [{ shardId: SHARD, sequenceNumber: checkpoint }]);
    expect((await archivedIdentities(store, dir)).sort()).toEqual(expected);
    // B's recovery found A's manifest (written before A's files) and kept it.
    expect(await manifestKeys(store)).toHaveLength(1);
    return { a, aFlush, gated, b, bSink, checkpoint, clock };
  }

  it('the former owner, told it lost the lease, undoes its late files once its flush lands', async () => {
    const { a, aFlush, gated } = await handover();
    const stopped = a.shardStopped('flows', SHARD, { hold: 'A#1', checkpointed: null, mayHave: null });
    gated.open();
    await aFlush;
    await stopped;
    const ids = await archivedIdentities(store, dir);
    expect(ids.length).toBe(expected.length);
    expect(ids.sort()).toEqual(expected);
    expect(await manifestKeys(store)).toEqual([]);
  });

  it('if the former owner dies before undoing them, the new owner deletes them after the grace period', async () => {
    const { aFlush, gated, b, bSink, checkpoint, clock } = await handover();
    gated.open();
    await aFlush; // A's files are in place, then A is gone
    expect((await archivedIdentities(store, dir)).length).toBe(2 * expected.length);
    // Within the grace period nothing is swept (A could still be writing).
    clock.now += 30_000;
    await b.checkpointed('flows', [{ shardId: SHARD, sequenceNumber: checkpoint }]);
    expect(await manifestKeys(store)).toHaveLength(1);
    clock.now += 30_001;
    await bSink.sweep();
    const ids = await archivedIdentities(store, dir);
    expect(ids.length).toBe(expected.length);
    expect(ids.sort()).toEqual(expected);
    expect(await manifestKeys(store)).toEqual([]);
  });

  it('if both die, the next recovery of the shard deletes the late files', async () => {
    const { aFlush, gated, checkpoint } = await handover();
    gated.open();
    await aFlush;
    expect((await archivedIdentities(store, dir)).length).toBe(2 * expected.length);

    // B restarts (or C takes over): the checkpoint was written by B#2, A#1's range is not its.
    const c = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }))]);
    await c.shardStarting('flows', SHARD, checkpoint, { id: 'C#3', checkpointedBy: 'B#2' });
    const ids = await archivedIdentities(store, dir);
    expect(ids.length).toBe(expected.length);
    expect(ids.sort()).toEqual(expected);
    // Kept again for C's grace period, in case A were still alive.
    expect(await manifestKeys(store)).toHaveLength(1);
    await c.close();
  });

  it('a manifest the recovery kept is swept by a timer when the shard stays idle', async () => {
    const writer = new ArchiveWriter({ store });
    const a = new Pipeline([new ArchiveSink(writer)]);
    await a.shardStarting('flows', SHARD, null, { id: 'A#1' });
    await a.handle(SHARD, all);
    await a.flush(); // never checkpointed
    const b = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }), { lateWriteGraceMs: 50 })]);
    await b.shardStarting('flows', SHARD, null, { id: 'B#2' });
    expect(await archivedIdentities(store, dir)).toEqual([]);
    expect(await manifestKeys(store)).toHaveLength(1);
    const t0 = Date.now();
    while ((await manifestKeys(store)).length > 0 && Date.now() - t0 < 5000) await new Promise((r) => setTimeout(r, 20));
    expect(await manifestKeys(store)).toEqual([]);
  });

  it('close() sweeps the kept manifests whose grace is over, and survives a sweep that fails', async () => {
    const a = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }))]);
    await a.shardStarting('flows', SHARD, null, { id: 'A#1' });
    await a.handle(SHARD, all);
    await a.flush(); // never checkpointed
    const clock = { now: 0 };
    const b = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }), { lateWriteGraceMs: 60_000, now: () => clock.now })]);
    await b.shardStarting('flows', SHARD, null, { id: 'B#2' });
    expect(await manifestKeys(store)).toHaveLength(1);
    await b.close(); // within the grace period: kept
    expect(await manifestKeys(store)).toHaveLength(1);
    clock.now += 60_001;
    await b.close();
    expect(await manifestKeys(store)).toEqual([]);

    // Again, with deletes failing: close() still resolves, and the manifest stays for later.
    await a.shardStarting('flows', SHARD, null, { id: 'A#3' });
    await a.handle(SHARD, all);
    await a.flush();
    const failing = new (class extends LocalStore {
      override async delete(keys: readonly string[]): Promise<void> {
        if (keys.some((k) => k.startsWith(MANIFEST_ROOT))) throw new Error('injected: S3 unavailable');
        await super.delete(keys);
      }
    })(dir);
    const c = new Pipeline([new ArchiveSink(new ArchiveWriter({ store: failing }), { lateWriteGraceMs: 0 })]);
    await c.shardStarting('flows', SHARD, null, { id: 'C#4' });
    await expect(c.close()).resolves.toBeUndefined();
    expect(await manifestKeys(store)).toHaveLength(1);
  });

  it('a flush the former owner began only after the new owner recovered is undone when the shard ends', async () => {
    const a = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }))]);
    await a.shardStarting('flows', SHARD, null, { id: 'A#1' });
    const b = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }), { lateWriteGraceMs: 60_000 })]);
    await b.shardStarting('flows', SHARD, null, { id: 'B#2' });
    await b.handle(SHARD, all.slice(0, 4));
    await b.flush();
    // A (tenure A#1) had not noticed the loss yet: it flushes the same records now, then dies.
    await a.handle(SHARD, all);
    await a.flush();
    await b.handle(SHARD, all.slice(4));
    await b.flush();
    expect((await archivedIdentities(store, dir)).length).toBe(2 * expected.length);
    // B reaches the end of the (closed) shard: nobody will recover it again.
    await b.checkpointed('flows', [{ shardId: SHARD, sequenceNumber: 'SHARD_END', hold: 'B#2' }]);
    const ids = await archivedIdentities(store, dir);
    expect(ids.sort()).toEqual(expected);
    // A's manifest stays, marked, for the grace period (A might still be writing).
    expect(await manifestKeys(store)).toHaveLength(1);
    await b.close();
  });

  it('a recovery leaves the ranges of a newer tenure alone', async () => {
    const b = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }))]);
    await b.shardStarting('flows', SHARD, null, { id: 'B#5' });
    await b.handle(SHARD, all);
    await b.flush(); // not checkpointed yet
    const before = await archivedIdentities(store, dir);
    expect(before.sort()).toEqual(expected);
    // A slow recovery by an older tenure of another worker, still running after the lease moved on.
    const a = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }))]);
    await a.shardStarting('flows', SHARD, null, { id: 'A#3' });
    expect((await archivedIdentities(store, dir)).sort()).toEqual(expected);
    expect(await manifestKeys(store)).toHaveLength(1);
  });

  it('a range only a checkpoint of unknown outcome covers is left to the next recovery', async () => {
    const a = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }))]);
    await a.shardStarting('flows', SHARD, null, { id: 'A#1' });
    const b = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }))]);
    await b.shardStarting('flows', SHARD, null, { id: 'B#2' });
    await b.handle(SHARD, all);
    const checkpoint = (await b.flush()).get(SHARD)!.sequenceNumber;
    await b.checkpointed('flows', [{ shardId: SHARD, sequenceNumber: checkpoint, hold: 'B#2' }]);
    // A, not yet aware, flushes the same records after B's recovery; its checkpoint of them
    // fails and A cannot read the table to learn whether it landed.
    await a.handle(SHARD, all);
    await a.flush();
    await a.shardStopped('flows', SHARD, { hold: 'A#1', checkpointed: null, mayHave: checkpoint });
    // Neither committed (that would keep A's copy forever) nor rolled back (its write may have landed).
    expect((await archivedIdentities(store, dir)).length).toBe(2 * expected.length);
    expect(await manifestKeys(store)).toHaveLength(1);
    // The next recovery, by the checkpoint's tenure, knows: A's range is not B's.
    const c = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }))]);
    await c.shardStarting('flows', SHARD, checkpoint, { id: 'C#3', checkpointedBy: 'B#2' });
    expect((await archivedIdentities(store, dir)).sort()).toEqual(expected);
    await c.close();
  });

  it('keeps what the lost tenure did checkpoint, and undoes only the rest', async () => {
    const a = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }))]);
    await a.shardStarting('flows', SHARD, null, { id: 'A#1' });
    await a.handle(SHARD, all.slice(0, 6));
    const first = (await a.flush()).get(SHARD)!.sequenceNumber;
    await a.handle(SHARD, all.slice(6));
    await a.flush();
    // A's checkpoint of the first range was written (its confirmation may not have reached the
    // sink), the second never was: the lease was lost in between.
    await a.shardStopped('flows', SHARD, { hold: 'A#1', checkpointed: first, mayHave: first });
    const ids = (await archivedIdentities(store, dir)).sort();
    expect(ids).toEqual(all.slice(0, 6).flatMap((r) => Array.from({ length: PER_RECORD }, (_, e) => `${r.sequenceNumber}/${e + 1}`)).sort());
    expect(await manifestKeys(store)).toEqual([]);
  });
});
