/**
 * Two `flowcut run` worker processes (the built CLI) share a 4-shard stream; one is killed with
 * SIGKILL mid-stream. The survivor must take its shards within the failover time, and every
 * record put must come out of one worker or the other; the only duplicates allowed are records
 * after the dead worker's last checkpoint (the un-checkpointed tail, re-read by the survivor).
 * Needs `npm run build` first (as the other CLI tests).
 */
import { describe, expect, it } from 'vitest';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readArchiveColumns } from '../../src/archive/read.js';
import { COL_SEQUENCE, COL_SHARD, COL_SUB_INDEX } from '../../src/archive/schema.js';
import { setTimeout as sleep } from 'node:timers/promises';
import { cloudWatchPayloads, replayPayloads } from '../../src/pipeline/replay.js';
import { LeaseTable } from '../../src/sources/kinesis/lease-table.js';
import { compareSequence } from '../../src/sources/kinesis/sequence.js';
import { createStream, until } from './helpers.js';
import { lineKey, simEvents, useRunWorkers, type Worker } from './workers.js';

// Generous enough that a stalled event loop on a loaded CI machine does not expire a live lease.
const FAILOVER_MS = 3000;

describe('failover between worker processes', () => {
  const { aws, start } = useRunWorkers();
  const startWorker = (id: string, stream: string, app: string, kinesis: string, dynamo: string, extra?: string[], checkpointMs?: number): Worker =>
    start({ id, stream, app, kinesis, dynamo, failoverMs: FAILOVER_MS, ...(extra ? { extra } : {}), ...(checkpointMs ? { checkpointMs } : {}) });

  it('survives kill -9 of a worker: shards move within the failover time, nothing is lost', async () => {
    const { kinesis, dynamo } = aws;
    const stream = await createStream(kinesis, 4, 'fo');
    const app = `app-${stream}`;
    const table = new LeaseTable(dynamo, app);
    // w1 checkpoints rarely, so that when it is killed it has read past its last checkpoint.
    const w1 = startWorker('w1', stream, app, aws.kinesisEndpoint, aws.dynamoEndpoint, undefined, 6000);
    const w2 = startWorker('w2', stream, app, aws.kinesisEndpoint, aws.dynamoEndpoint);
    const owners = async () => (await table.listLeases().catch(() => [])).map((l) => l.leaseOwner ?? '-');
    const balanced = async () => (await owners()).filter((o) => o === 'w1').length === 2 && (await owners()).filter((o) => o === 'w2').length === 2;
    await until(balanced, 20_000, () => `2/2 balance\n${w1.stderr()}\n${w2.stderr()}`);
    // A lease taken to balance is read by its new owner only after a failover time, and its old
    // owner may still read it until its next renewal: records put in that window are delivered
    // twice, legitimately (at least once). Let the balance settle before the test's records flow.
    await sleep(FAILOVER_MS + 1000);
    expect(await balanced()).toBe(true);

    const all = simEvents();
    // Small chunks, put over longer than w1's checkpoint interval: its JSON-lines sink prints in
    // 64 KB drains or at a checkpoint's flush, so a tail (printed, not yet checkpointed) exists
    // only once a drain falls between two checkpoints. Records that all arrive within one
    // interval could be printed and checkpointed together, leaving no tail to find.
    const chunks = 48;
    const size = Math.ceil(all.length / chunks);
    const put = async (i: number) =>
      replayPayloads(kinesis, cloudWatchPayloads(all.slice(i * size, (i + 1) * size)), { streamName: stream, asFastAsPossible: true, distribution: 'random' });
    let leasesSeen = '';
    const hasTail = async () => {
      const leases = await table.listLeases();
      leasesSeen = leases.map((l) => `${l.leaseKey}:${l.leaseOwner ?? '-'}@${l.checkpoint}`).join(' ');
      const cps = new Map(leases.filter((l) => l.leaseOwner === 'w1').map((l) => [l.leaseKey, l.checkpoint]));
      return w1.records.some((r) => cps.has(r.shard) && (cps.get(r.shard) === 'TRIM_HORIZON' || compareSequence(r.seq, cps.get(r.shard)!) > 0));
    };
    // Mid-stream: kill w1 once it has printed records past its checkpoint (an un-checkpointed
    // tail); a few chunks are kept for after the kill.
    let next = 0;
    while (next < chunks - 6) {
      await put(next++);
      await sleep(250);
      if (await hasTail()) break;
    }
    await until(hasTail, 10_000, () => `w1 to have an un-checkpointed tail (${next} chunks put; w1 printed ${w1.records.length} records; leases ${leasesSeen})\n${w1.stderr().slice(-3000)}`);
    w1.child.kill('SIGKILL');
    const killedAt = Date.now();
    await w1.exited;
    const atKill = await table.listLeases();
    const w1Checkpoints = new Map(atKill.filter((l) => l.leaseOwner === 'w1').map((l) => [l.leaseKey, l.checkpoint]));
    expect(w1Checkpoints.size).toBe(2);
    while (next < chunks) await put(next++);

    await until(async () => (await owners()).every((o) => o === 'w2'), 10_000, () => `w2 to own all leases\n${w2.stderr()}`);
    const tookMs = Date.now() - killedAt;
    // Expired after FAILOVER_MS without renewal, noticed by the next scan (every failover/2).
    expect(tookMs).toBeLessThan(FAILOVER_MS * 2 + 1000);

    const union = () => new Set([...w1.records, ...w2.records].map((r) => r.key));
    await until(() => union().size >= all.length, 30_000, () => `all ${all.length} records, have ${union().size}\n${w2.stderr()}`);
    const byKey = new Map([...w1.records, ...w2.records].map((r) => [r.key, r.line]));
    expect([...byKey.values()].sort()).toEqual(all.map((e) => lineKey(e.message)).sort());

    // Duplicates are exactly the records w1 printed past its last checkpoint: w2 resumes there.
    const tail = w1.records.filter((r) => {
      const cp = w1Checkpoints.get(r.shard);
      return cp !== undefined && (cp === 'TRIM_HORIZON' || compareSequence(r.seq, cp) > 0);
    });
    const seen1 = new Set(w1.records.map((r) => r.key));
    const dups = w2.records.filter((r) => seen1.has(r.key));
    expect(dups.map((d) => d.key).sort()).toEqual(tail.map((t) => t.key).sort());
    expect(new Set(w2.records.map((r) => r.key)).size).toBe(w2.records.length); // none within a worker
    process.stderr.write(`failover: leases moved ${tookMs} ms after kill -9 (failover ${FAILOVER_MS} ms); ${all.length} records, ${dups.length} re-delivered from the un-checkpointed tail\n`);

    // A graceful stop exits cleanly and releases every lease.
    w2.child.kill('SIGTERM');
    await w2.exited;
    expect(w2.child.exitCode).toBe(0);
    expect((await table.listLeases()).filter((l) => l.leaseOwner !== undefined)).toEqual([]);
  });

  it('leaves every record exactly once in the Parquet archive across a kill -9', async () => {
    const { kinesis, dynamo } = aws;
    const stream = await createStream(kinesis, 2, 'foa');
    const app = `app-${stream}`;
    const table = new LeaseTable(dynamo, app);
    const dir = await mkdtemp(join(tmpdir(), 'flowcut-archive-'));
    const archive = ['--output', 'none', '--archive', dir];
    const w1 = startWorker('w1', stream, app, aws.kinesisEndpoint, aws.dynamoEndpoint, archive);
    const w2 = startWorker('w2', stream, app, aws.kinesisEndpoint, aws.dynamoEndpoint, archive);
    const owners = async () => (await table.listLeases().catch(() => [])).map((l) => l.leaseOwner ?? '-');
    await until(async () => (await owners()).sort().join() === 'w1,w2', 20_000, '1/1 balance');
    const all = simEvents().slice(0, 1500);
    await replayPayloads(kinesis, cloudWatchPayloads(all.slice(0, 1000)), { streamName: stream, asFastAsPossible: true, distribution: 'random' });
    // Let w1 archive and checkpoint some of it (and write more past its checkpoint), then kill it.
    const w1Shard = async () => (await table.listLeases()).find((l) => l.leaseOwner === 'w1');
    await until(async () => (await w1Shard())?.checkpoint !== 'TRIM_HORIZON', 10_000, () => `w1 to checkpoint\n${w1.stderr()}`);
    await replayPayloads(kinesis, cloudWatchPayloads(all.slice(1000)), { streamName: stream, asFastAsPossible: true, distribution: 'random' });
    await sleep(300);
    w1.child.kill('SIGKILL');
    await w1.exited;
    await until(async () => (await owners()).every((o) => o === 'w2'), 10_000, 'w2 to own both leases');
    // w2 recovers w1's shard from its checkpoint, reads to the end, and checkpoints on SIGTERM.
    await sleep(2500);
    w2.child.kill('SIGTERM');
    await w2.exited;
    expect(w2.child.exitCode, w2.stderr()).toBe(0);

    const seen = new Map<string, number>();
    for (const file of await parquetFiles(dir)) {
      const { rows, columns } = await readArchiveColumns(await readFile(file));
      for (let r = 0; r < rows; r++) {
        const k = `${columns[COL_SHARD]!.strings![r]}/${columns[COL_SEQUENCE]!.strings![r]}/${columns[COL_SUB_INDEX]!.numbers![r]}`;
        seen.set(k, (seen.get(k) ?? 0) + 1);
      }
    }
    const twice = [...seen].filter(([, n]) => n > 1);
    expect(twice).toEqual([]);
    expect(seen.size).toBe(all.length);
    await rm(dir, { recursive: true, force: true });
  });
});

async function parquetFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (e.isFile() && e.name.endsWith('.parquet')) out.push(join(e.parentPath ?? (e as unknown as { path: string }).path, e.name));
  }
  return out;
}
