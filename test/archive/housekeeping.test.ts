import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compactArchive, retainArchive } from '../../src/archive/housekeeping.js';
import { MANIFEST_ROOT } from '../../src/archive/manifest.js';
import { parsePartitionPath, PARTITION_ROOT } from '../../src/archive/partition.js';
import type { Codec } from '../../src/archive/parquet/writer.js';
import { ArchiveChangedError, openArchiveView, queryArchive, QueryError } from '../../src/archive/query.js';
import { LocalStore, type ArchiveStore, type StoredObject } from '../../src/archive/store.js';
import { ArchiveWriter, type FlushResult } from '../../src/archive/writer.js';
import { FlowDecoder } from '../../src/decode/decoder.js';
import type { FlowBatch } from '../../src/flowlog/batch.js';
import { subscriptionPayload } from '../../src/sim/cloudwatch.js';
import { SeededRandom } from '../../src/sim/random.js';
import { simulateTraffic } from '../../src/sim/traffic.js';
import type { KinesisRecordIn } from '../../src/sources/types.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const KEY_COLUMNS = ['source_location', 'sub_index', 'srcaddr', 'dstaddr', 'bytes', 'start'];

function recordKey(b: FlowBatch, r: number): string {
  return [b.origins[r]!.location, b.subIndex[r], b.get(r, 'srcaddr'), b.get(r, 'dstaddr'), b.get(r, 'bytes'), b.get(r, 'start')].map((v) => (v === null ? '' : String(v))).join('|');
}

/** The archive's records as sorted keys (a multiset), read with DuckDB through the query view. */
async function archived(store: LocalStore): Promise<string[]> {
  const view = await openArchiveView(store);
  try {
    expect(view.skipped).toEqual([]);
    const rows = (
      await view.connection.runAndReadAll(`SELECT concat_ws('|', ${KEY_COLUMNS.map((c) => `coalesce(${c}::VARCHAR, '')`).join(', ')}) AS k FROM flows`)
    ).getRowsJS();
    return rows.map((r) => String(r[0])).sort();
  } finally {
    await view.close();
  }
}

async function list(store: ArchiveStore, prefix = PARTITION_ROOT): Promise<StoredObject[]> {
  const out: StoredObject[] = [];
  for await (const o of store.list(prefix)) out.push(o);
  return out;
}

async function filesPerPartition(store: ArchiveStore): Promise<Map<string, number>> {
  const m = new Map<string, number>();
  for (const o of await list(store)) {
    const dir = o.key.slice(0, o.key.lastIndexOf('/') + 1);
    m.set(dir, (m.get(dir) ?? 0) + 1);
  }
  return m;
}

/** Archives `objects` text objects (each a slice of simulated traffic) as object units: many small files per hour. */
async function archiveObjects(store: ArchiveStore, objects: { location: string; lines: string[] }[], codec: Codec = 'snappy'): Promise<string[]> {
  const writer = new ArchiveWriter({ store, chunkRecords: 400, codec });
  const keys: string[] = [];
  for (const o of objects) {
    const unit = { objectId: o.location.replace(/\W/g, '_'), location: o.location };
    const decoder = new FlowDecoder({
      batch: (b) => {
        for (let r = 0; r < b.length; r++) keys.push(recordKey(b, r));
        writer.add(b, unit);
      },
      reject: (r) => {
        throw new Error(r.reason);
      },
    });
    await decoder.decodeObject({ location: o.location, key: o.location, open: async function* () { yield Buffer.from(o.lines.join('\n') + '\n'); } });
    decoder.flush();
    writer.endObject(unit);
    const r = await writer.flush();
    await writer.release(r);
  }
  return keys.sort();
}

function trafficObjects(startSec: number, minutes: number, perObject: number, tag: string): { location: string; lines: string[] }[] {
  const lines = simulateTraffic({ seed: startSec % 1000, startSec, minutes, flowsPerEniMinute: 3 }).map((l) => l.line);
  const out: { location: string; lines: string[] }[] = [];
  for (let i = 0; i < lines.length; i += perObject) out.push({ location: `/in/${tag}-${out.length}.log`, lines: lines.slice(i, i + perObject) });
  return out;
}

/** A store that fails once when compaction deletes merged inputs: a crash between output and cleanup. */
class FailingDeletes extends LocalStore {
  armed = true;
  override async delete(keys: readonly string[]): Promise<void> {
    if (this.armed && keys.some((k) => k.startsWith(PARTITION_ROOT) && !k.includes('/c-'))) {
      this.armed = false;
      throw new Error('injected crash');
    }
    return super.delete(keys);
  }
}

const SHARDS = ['shardId-000000000000', 'shardId-000000000001'];

/** Kinesis records as CloudWatch Logs writes them (1..41 flow events each), and their records' keys. */
function kinesisRecords(seed: number, perShard: number, minutes = 120, rate = 4): { records: KinesisRecordIn[]; expected: string[] } {
  const rnd = new SeededRandom(seed);
  const lines = simulateTraffic({ seed, minutes, flowsPerEniMinute: rate }).map((l) => l.line);
  const records: KinesisRecordIn[] = [];
  let at = 0;
  for (let k = 0; k < perShard; k++) {
    for (const [s, shardId] of SHARDS.entries()) {
      const n = 1 + rnd.int(0, 40);
      const chunk = lines.slice(at, at + n);
      at += n;
      records.push({
        streamName: 'vpc-flows', shardId, partitionKey: 'p', arrivalMs: 0,
        sequenceNumber: `4959${s}${String(k * 10 + 7).padStart(40, '0')}`,
        data: subscriptionPayload(chunk, { logStream: `eni-${s}`, logGroup: '/vpc/flows' }),
      });
    }
  }
  const expected: string[] = [];
  const ref = new FlowDecoder({ batch: (b) => { for (let r = 0; r < b.length; r++) expected.push(recordKey(b, r)); }, reject: () => {} });
  for (const rec of records) ref.decodeKinesisRecord(rec);
  ref.flush();
  return { records, expected: expected.sort() };
}

/**
 * Runs `hook` once, right after the first listing of the partitions or of the manifests (whichever
 * compaction does first): between its two reads of the archive.
 */
class HookStore extends LocalStore {
  hook: (() => Promise<void>) | undefined;
  override async *list(prefix: string): AsyncGenerator<StoredObject> {
    yield* super.list(prefix);
    if (prefix !== PARTITION_ROOT && prefix !== MANIFEST_ROOT) return;
    const h = this.hook;
    this.hook = undefined;
    if (h) await h();
  }
}

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'flowcut-housekeeping-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('compaction', () => {
  it('merges each partition into one file holding every record exactly once, and is safe to re-run', async () => {
    const store = new LocalStore(join(dir, 'a'));
    const expected = await archiveObjects(store, trafficObjects(Date.UTC(2026, 0, 5, 0, 30) / 1000, 90, 250, 'a'));
    const before = await filesPerPartition(store);
    expect(before.size).toBeGreaterThanOrEqual(2);
    expect(Math.max(...before.values())).toBeGreaterThanOrEqual(3);

    const r = await compactArchive(store, { minAgeMs: 0, maxRecords: 1_000_000 });
    expect(r.partitions).toBe([...before.values()].filter((n) => n >= 2).length);
    expect(r.records).toBeGreaterThan(expected.length / 2);
    expect([...(await filesPerPartition(store)).values()]).toEqual([...before.values()].map(() => 1));
    expect(await archived(store)).toEqual(expected);
    expect(await list(store, '_flowcut/compactions/')).toEqual([]);

    // Again: nothing to merge, nothing lost; then new small files beside a merged one merge into it.
    const again = await compactArchive(store, { minAgeMs: 0, maxRecords: 1_000_000 });
    expect(again.outputs).toBe(0);
    expect(await archived(store)).toEqual(expected);
    const more = await archiveObjects(store, trafficObjects(Date.UTC(2026, 0, 5, 1, 0) / 1000, 20, 200, 'b'));
    await compactArchive(store, { minAgeMs: 0, maxRecords: 1_000_000 });
    expect(await archived(store)).toEqual([...expected, ...more].sort());
    expect([...(await filesPerPartition(store)).values()].every((n) => n === 1)).toBe(true);
  });

  it('a query whose files compaction deletes before DuckDB reads them is answered from a fresh listing', async () => {
    const store = new LocalStore(join(dir, 'q'));
    const expected = await archiveObjects(store, trafficObjects(Date.UTC(2026, 0, 5, 7) / 1000, 30, 200, 'q'));
    const sql = 'SELECT count(*) AS n, sum(bytes) AS b FROM flows';
    const whole = await queryArchive(store, sql);
    // Compaction runs after the view listed the files and before the query reads them.
    const attempts: number[] = [];
    const raced = await queryArchive(store, sql, {
      viewOpened: async (view, attempt) => {
        attempts.push(attempt);
        if (attempt === 1) {
          expect(view.files.length).toBeGreaterThan(1);
          expect((await compactArchive(store, { minAgeMs: 0, maxRecords: 1_000_000 })).outputs).toBeGreaterThan(0);
        }
      },
    });
    expect(attempts).toEqual([1, 2]);
    expect(raced.rows).toEqual(whole.rows);
    expect(Number(raced.rows[0]![0])).toBe(expected.length);
    expect(raced.files).toHaveLength(1);
    // Compaction between the view's listing and its reading of the files: the listing is stale
    // (it lacks the merged file), so the view is built again instead of answering short.
    await archiveObjects(store, trafficObjects(Date.UTC(2026, 0, 5, 7, 30) / 1000, 20, 150, 'r'));
    const full = await queryArchive(store, sql);
    let listings = 0;
    const racing = new (class extends LocalStore {
      armed = true;
      override async *list(prefix: string): AsyncGenerator<StoredObject> {
        if (prefix !== PARTITION_ROOT) return yield* super.list(prefix);
        listings++;
        const items: StoredObject[] = [];
        for await (const o of super.list(prefix)) items.push(o);
        if (this.armed) {
          this.armed = false;
          expect((await compactArchive(this, { minAgeMs: 0, maxRecords: 1_000_000, now: Date.now() + 60_000 })).outputs).toBeGreaterThan(0);
        }
        yield* items;
      }
    })(store.root);
    await expect(openArchiveView(racing)).rejects.toThrow(ArchiveChangedError);
    expect((await queryArchive(store, sql)).rows).toEqual(full.rows);
    // Again with new small files, through queryArchive: answered in full from a second listing.
    const more = await archiveObjects(store, trafficObjects(Date.UTC(2026, 0, 5, 7, 50) / 1000, 8, 150, 's'));
    const fuller = await queryArchive(store, sql);
    expect(Number(fuller.rows[0]![0])).toBe(Number(full.rows[0]![0]) + more.length);
    racing.armed = true;
    listings = 0;
    expect((await queryArchive(racing, sql)).rows).toEqual(fuller.rows);
    expect(listings).toBe(3); // the first view's listing, the compaction's own, the second view's
    // A mistake in the SQL is not retried.
    const tries: number[] = [];
    await expect(queryArchive(store, 'SELECT nope FROM flows', { viewOpened: async (_v, a) => void tries.push(a) })).rejects.toThrow(QueryError);
    expect(tries).toEqual([1]);
  });

  it('respects --max-records and --min-age, and reads GZIP archives', async () => {
    const store = new LocalStore(join(dir, 'b'));
    const expected = await archiveObjects(store, trafficObjects(Date.UTC(2026, 0, 5, 3) / 1000, 30, 150, 'c'), 'gzip');
    expect((await compactArchive(store, { minAgeMs: 3_600_000, maxRecords: 1_000 })).outputs).toBe(0);
    const r = await compactArchive(store, { minAgeMs: 0, maxRecords: 1_000 });
    expect(r.outputs).toBeGreaterThan(1);
    expect(await archived(store)).toEqual(expected);
  });

  it('a merge interrupted after its output was written is invisible to queries and finished by the next run', async () => {
    const store = new FailingDeletes(join(dir, 'c'));
    const expected = await archiveObjects(store, trafficObjects(Date.UTC(2026, 0, 5, 5) / 1000, 30, 200, 'd'));
    await expect(compactArchive(store, { minAgeMs: 0, maxRecords: 1_000_000 })).rejects.toThrow('injected crash');
    // Output and inputs both exist now.
    expect(await archived(store)).toEqual(expected);
    await compactArchive(store, { minAgeMs: 0, maxRecords: 1_000_000 });
    expect(await archived(store)).toEqual(expected);
    expect([...(await filesPerPartition(store)).values()].every((n) => n === 1)).toBe(true);
    expect(await list(store, '_flowcut/compactions/')).toEqual([]);
  });

  it('runs beside a live Kinesis writer that crashes and replays: nothing lost, nothing doubled', async () => {
    const store = new LocalStore(join(dir, 'live'));
    const rnd = new SeededRandom(5);
    const { records, expected } = kinesisRecords(9, 150);
    const shards = SHARDS;

    let done = false;
    let compactions = 0, merged = 0;
    const compactor = (async () => {
      while (!done) {
        const r = await compactArchive(store, { minAgeMs: 0, maxRecords: 1_000_000 });
        compactions++;
        merged += r.inputs;
        await new Promise((res) => setTimeout(res, rnd.int(0, 5)));
      }
    })();

    const checkpoints = new Map<string, string>();
    let crashes = 0;
    const committed = (shardId: string, seq: string): boolean => {
      const cp = checkpoints.get(shardId);
      return cp !== undefined && (seq.length < cp.length || (seq.length === cp.length && seq <= cp));
    };
    const checkpoint = async (writer: ArchiveWriter, r: FlushResult): Promise<void> => {
      for (const p of r.positions) if (p.kind === 'kinesis') checkpoints.set(p.shardId, p.sequenceNumber);
      await writer.release(r);
    };
    for (let attempt = 0; ; attempt++) {
      const writer = new ArchiveWriter({ store, maxAgeMs: 0, maxRecords: 50 + rnd.int(0, 300) });
      await writer.recover(shards.map((shardId) => ({ streamName: 'vpc-flows', shardId, sequenceNumber: checkpoints.get(shardId) ?? null })));
      const decoder = new FlowDecoder({ batch: (b) => writer.add(b), reject: () => {} });
      let crashed = false;
      for (const rec of records) {
        if (committed(rec.shardId, rec.sequenceNumber)) continue;
        decoder.decodeKinesisRecord(rec);
        decoder.flush();
        if (rnd.next() < 0.15) {
          const r = await writer.flush();
          // Now and then the process dies after the files are durable and before the checkpoint.
          if (attempt < 6 && rnd.next() < 0.1) {
            crashed = true;
            crashes++;
            break;
          }
          await checkpoint(writer, r);
          await new Promise((res) => setTimeout(res, rnd.int(0, 3)));
        }
      }
      if (crashed) continue;
      await checkpoint(writer, await writer.flush());
      break;
    }
    done = true;
    await compactor;
    await compactArchive(store, { minAgeMs: 0, maxRecords: 1_000_000 });
    expect(crashes).toBeGreaterThan(0);
    expect(compactions).toBeGreaterThan(3);
    expect(merged).toBeGreaterThan(0);
    expect(await list(store, '_flowcut/manifests/')).toEqual([]);
    expect(await archived(store)).toEqual(expected);
    expect([...(await filesPerPartition(store)).values()].every((n) => n === 1)).toBe(true);
  });
});

describe('compaction and a writer flushing mid-compaction', () => {
  it('never merges a file whose range is not checkpointed yet, even one written between its listing and its manifest read', async () => {
    const store = new HookStore(join(dir, 'race'));
    // One hour: the files of the unconfirmed range land in partitions that already hold small files.
    const { records, expected } = kinesisRecords(4, 30, 50, 12);
    expect(expected.length).toBeGreaterThan(30 * 2 * 15);
    const checkpoints = new Map<string, string>();
    const half = records.length / 2;
    let writer = new ArchiveWriter({ store, maxAgeMs: 0 });
    let decoder = new FlowDecoder({ batch: (b) => writer.add(b), reject: () => {} });
    // Committed small files first.
    for (let i = 0; i < half; i++) {
      decoder.decodeKinesisRecord(records[i]!);
      decoder.flush();
      if (i % 5 === 4 || i === half - 1) {
        const r = await writer.flush();
        for (const p of r.positions) if (p.kind === 'kinesis') checkpoints.set(p.shardId, p.sequenceNumber);
        await writer.release(r);
      }
    }
    // While compaction looks at the archive, the writer makes the rest durable and dies before its checkpoint.
    store.hook = async () => {
      for (let i = half; i < records.length; i++) decoder.decodeKinesisRecord(records[i]!);
      decoder.flush();
      await writer.flush();
    };
    // The compactor's clock runs a minute ahead of the store's (S3 stamps objects with its own clock).
    const merged = await compactArchive(store, { minAgeMs: 0, maxRecords: 1_000_000, now: Date.now() + 60_000 });
    expect(merged.outputs).toBeGreaterThan(0);
    expect(store.hook).toBeUndefined();
    // The restarted writer rolls back what was not checkpointed and replays it.
    writer = new ArchiveWriter({ store, maxAgeMs: 0 });
    const rec = await writer.recover(SHARDS.map((shardId) => ({ streamName: 'vpc-flows', shardId, sequenceNumber: checkpoints.get(shardId) ?? null })));
    expect(rec.rolledBack).toBeGreaterThan(0);
    decoder = new FlowDecoder({ batch: (b) => writer.add(b), reject: () => {} });
    // With other file boundaries than the lost run's (so other file names).
    for (let i = half; i < records.length; i++) {
      decoder.decodeKinesisRecord(records[i]!);
      decoder.flush();
      await writer.release(await writer.flush());
    }
    expect(await archived(store)).toEqual(expected);
  });
});

describe('retention', () => {
  const now = Date.UTC(2026, 0, 20, 12);

  it('drops hour partitions older than N days; --dry-run lists them and deletes nothing', async () => {
    const store = new LocalStore(join(dir, 'r'));
    const day = (d: number): number => Date.UTC(2026, 0, d, 10) / 1000;
    const old = await archiveObjects(store, [...trafficObjects(day(5), 20, 300, 'o1'), ...trafficObjects(day(12), 20, 300, 'o2')]);
    const recent = await archiveObjects(store, trafficObjects(day(18), 20, 300, 'n'));
    const all = await list(store);
    const oldFiles = all.filter((o) => parsePartitionPath(o.key.slice(0, o.key.lastIndexOf('/') + 1))!.hour * 3_600_000 < Date.UTC(2026, 0, 13, 12)).map((o) => o.key).sort();
    expect(oldFiles.length).toBeGreaterThan(0);

    const dry = await retainArchive(store, { retainDays: 7, dryRun: true, now });
    expect([...dry.keys].sort()).toEqual(oldFiles);
    expect(dry.partitions).toBeGreaterThanOrEqual(2);
    expect(await list(store)).toEqual(all);

    const r = await retainArchive(store, { retainDays: 7, now });
    expect(r.files).toBe(oldFiles.length);
    expect(await archived(store)).toEqual(recent);
    expect(old.length).toBeGreaterThan(0);
    // Nothing left to drop.
    expect((await retainArchive(store, { retainDays: 7, now })).files).toBe(0);
  });

  it.skipIf(!existsSync(CLI))('flowcut archive retain --dry-run and archive compact', async () => {
    const store = new LocalStore(join(dir, 'cli'));
    const hourAgo = Math.floor(Date.now() / 3_600_000 - 1) * 3600;
    await archiveObjects(store, [...trafficObjects(hourAgo - 40 * 86_400, 10, 100, 'x'), ...trafficObjects(hourAgo, 10, 100, 'y')]);
    const oldKeys = (await list(store)).filter((o) => parsePartitionPath(o.key.slice(0, o.key.lastIndexOf('/') + 1))!.hour < hourAgo / 3600 - 24).map((o) => o.key).sort();
    const dry = await run(['archive', 'retain', '--archive', store.root, '--retain-days', '30', '--dry-run']);
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout.trim().split('\n').sort()).toEqual(oldKeys);
    expect(dry.stderr).toMatch(/would delete \d+ file\(s\)/);
    const compact = await run(['archive', 'compact', '--archive', store.root, '--min-age', '0']);
    expect(compact.code, compact.stderr).toBe(0);
    expect(compact.stderr).toMatch(/compacted [1-9]\d* partition\(s\)/);
    const real = await run(['archive', 'retain', '--archive', store.root, '--retain-days', '30']);
    expect(real.stderr).toMatch(/deleted [1-9]\d* file\(s\)/);
    expect((await list(store)).every((o) => parsePartitionPath(o.key.slice(0, o.key.lastIndexOf('/') + 1))!.hour >= hourAgo / 3600 - 24)).toBe(true);
  });
});

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d));
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    child.on('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
  });
}
