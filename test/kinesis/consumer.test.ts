/**
 * The whole leased consumer in this process, against kinesis-local and dynalite: two workers
 * share four shards, CloudWatch payloads put by the replay code are all delivered through the
 * decoder to the sinks, a split mid-run loses nothing and keeps each lineage in order, a
 * graceful stop hands leases over at once, and checkpoints wait for the slowest sink.
 */
import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { MergeShardsCommand, SplitShardCommand } from '@aws-sdk/client-kinesis';
import type { FlowBatch } from '../../src/flowlog/batch.js';
import { cloudWatchPayloads, replayPayloads, type LogEvent } from '../../src/pipeline/replay.js';
import { startService, type Service, type ServiceSettings } from '../../src/pipeline/service.js';
import type { Sink } from '../../src/pipeline/sink.js';
import { LeaseTable } from '../../src/sources/kinesis/lease-table.js';
import { simulateTraffic } from '../../src/sim/traffic.js';
import { useLocalAws } from '../support/local-aws.js';
import { createStream, until } from './helpers.js';

interface Delivered {
  readonly worker: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly subIndex: number;
  readonly line: string;
}

/** Keeps every record it is given, in delivery order, in one list shared by all workers. */
class RecordingSink implements Sink {
  readonly name = 'recording';
  gate: Promise<void> | undefined;
  flushes = 0;
  constructor(
    private readonly worker: string,
    private readonly into: Delivered[],
  ) {}
  write(b: FlowBatch): void {
    for (let r = 0; r < b.length; r++) {
      const o = b.origins[r]!;
      const line = b.format.fields.map((_, i) => String(b.value(r, i) ?? '-')).join(' ');
      this.into.push({ worker: this.worker, shardId: o.shardId!, sequenceNumber: o.sequenceNumber!, subIndex: b.subIndex[r]!, line });
    }
  }
  async flush(): Promise<void> {
    this.flushes++;
    await this.gate;
  }
}

function events(minutes: number, seed: number): LogEvent[] {
  return simulateTraffic({ minutes, seed, startSec: 1_767_600_000 })
    .map((l) => ({ message: l.line, timestampMs: l.endSec * 1000, logStream: `${l.interfaceId}-all`, logGroup: 'vpc-flow-logs', owner: '123456789012' }))
    .sort((a, b) => a.timestampMs - b.timestampMs);
}

const FAILOVER_MS = 3000;

const settings = (stream: string, app: string, workerId: string): ServiceSettings => ({
  stream,
  app,
  workerId,
  from: 'trim-horizon',
  // Generous for a test: a loaded CI machine can stall a worker's event loop for a second, and a
  // lease that expires for that reason is (correctly) re-read by the other worker: duplicates.
  failoverMs: FAILOVER_MS,
  checkpointIntervalMs: 200,
  shardSyncIntervalMs: 500,
  idlePollMs: 50,
});

const key = (d: Delivered) => `${d.shardId}/${d.sequenceNumber}/${d.subIndex}`;

describe('leased consumer', () => {
  const services: Service[] = [];
  const aws = useLocalAws({ beforeStop: async () => void (await Promise.allSettled(services.map((s) => s.stop()))) });

  /** Workers A and B on a new stream of `shards` shards, each holding half of them, settled. */
  async function twoBalancedWorkers(shards: number, prefix: string) {
    const { kinesis, dynamo } = aws;
    const stream = await createStream(kinesis, shards, prefix);
    const app = `app-${stream}`;
    const delivered: Delivered[] = [];
    const start = (w: string) => startService(settings(stream, app, w), { kinesis, dynamo, sinks: [new RecordingSink(w, delivered)] });
    const a = await start('A');
    const b = await start('B');
    services.push(a, b);
    const half = shards / 2;
    const balanced = () => a.coordinator.heldLeases().length === half && b.coordinator.heldLeases().length === half;
    await until(balanced, 10_000, () => `${half}/${half}, have ${a.coordinator.heldLeases().length}/${b.coordinator.heldLeases().length}`);
    // A lease taken to balance may still be read by its old owner until its next renewal, and
    // records put then are delivered twice (at least once, legitimately): let the balance settle.
    await sleep(FAILOVER_MS + 500);
    expect(balanced()).toBe(true);
    return { stream, app, delivered, a, b };
  }

  it('balances 2 workers on 4 shards, delivers everything across a split, hands over on stop', async () => {
    const { kinesis, dynamo } = aws;
    const { stream, app, delivered, a, b } = await twoBalancedWorkers(4, 'cons');

    const all = events(20, 7);
    const half = Math.floor(all.length / 2);
    const put1 = await replayPayloads(kinesis, cloudWatchPayloads(all.slice(0, half), { windowMs: 60_000 }), { streamName: stream, asFastAsPossible: true, distribution: 'random' });
    // Split a shard while its records are being read, then put the rest.
    const parent = 'shardId-000000000001';
    const range = 2n ** 128n / 4n;
    await kinesis.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: parent, NewStartingHashKey: (range + range / 2n).toString() }));
    const put2 = await replayPayloads(kinesis, cloudWatchPayloads(all.slice(half), { windowMs: 60_000 }), { streamName: stream, asFastAsPossible: true, distribution: 'random' });
    expect(put1.events + put2.events).toBe(all.length);

    const unique = () => new Map(delivered.map((d) => [key(d), d]));
    await until(() => unique().size >= all.length, 30_000, () => `all ${all.length} records, have ${unique().size}`);
    // Nothing lost, nothing invented: the delivered lines are exactly the lines put.
    expect([...unique().values()].map((d) => d.line).sort()).toEqual(all.map((e) => e.message).sort());
    // No duplicates either without a failure (the tail is only re-read after a crash).
    expect(delivered.length).toBe(all.length);

    // Lineage order: every record of the split parent was delivered before any of its children.
    const children = (await new LeaseTable(dynamo, app).getLease(parent))!.childShardIds;
    expect(children).toHaveLength(2);
    const lastParent = Math.max(...delivered.map((d, i) => (d.shardId === parent ? i : -1)));
    const firstChild = delivered.findIndex((d) => children.includes(d.shardId));
    expect(firstChild).toBeGreaterThan(lastParent);
    // And each shard's records arrive in sequence order.
    const lastSeq = new Map<string, bigint>();
    for (const d of delivered) {
      const s = BigInt(d.sequenceNumber);
      expect(s >= (lastSeq.get(d.shardId) ?? 0n)).toBe(true);
      lastSeq.set(d.shardId, s);
    }
    const leases = await new LeaseTable(dynamo, app).listLeases();
    expect(leases.find((l) => l.leaseKey === parent)!.checkpoint).toBe('SHARD_END');
    for (const c of children) expect(leases.find((l) => l.leaseKey === c)!.parentShardIds).toEqual([parent]);

    // Graceful stop of A: its leases are released and B takes them without waiting for expiry.
    const open = leases.filter((l) => l.checkpoint !== 'SHARD_END').length;
    expect(open).toBe(5);
    const t0 = Date.now();
    await a.stop();
    await until(() => b.coordinator.heldLeases().length === open, 2 * FAILOVER_MS, 'B to take all open leases');
    // Sooner than any lease of A could have expired: B took released leases, not expired ones.
    expect(Date.now() - t0).toBeLessThan(FAILOVER_MS);
    const after = await new LeaseTable(dynamo, app).listLeases();
    expect(after.filter((l) => l.leaseOwner === 'A')).toEqual([]);
    // A checkpointed what it had read before releasing: B re-delivers nothing.
    await sleep(400);
    expect(delivered.length).toBe(all.length);
    await b.stop();
  });

  it('reads a merged shard only after both its parents ended, held by different workers, losing nothing', async () => {
    const { kinesis, dynamo } = aws;
    const { stream, app, delivered, a, b } = await twoBalancedWorkers(2, 'merge');

    const all = events(12, 9);
    const half = Math.floor(all.length / 2);
    await replayPayloads(kinesis, cloudWatchPayloads(all.slice(0, half), { windowMs: 60_000 }), { streamName: stream, asFastAsPossible: true, distribution: 'random' });
    const parents = ['shardId-000000000000', 'shardId-000000000001'];
    await kinesis.send(new MergeShardsCommand({ StreamName: stream, ShardToMerge: parents[0], AdjacentShardToMerge: parents[1] }));
    await replayPayloads(kinesis, cloudWatchPayloads(all.slice(half), { windowMs: 60_000 }), { streamName: stream, asFastAsPossible: true, distribution: 'random' });

    const unique = () => new Map(delivered.map((d) => [key(d), d]));
    await until(() => unique().size >= all.length, 30_000, () => `all ${all.length} records, have ${unique().size}`);
    expect([...unique().values()].map((d) => d.line).sort()).toEqual(all.map((e) => e.message).sort());
    expect(delivered.length).toBe(all.length);

    const leases = await new LeaseTable(dynamo, app).listLeases();
    const child = leases.find((l) => !parents.includes(l.leaseKey))!;
    expect([...child.parentShardIds].sort()).toEqual(parents);
    for (const p of parents) expect(leases.find((l) => l.leaseKey === p)!.checkpoint).toBe('SHARD_END');
    // Both parents were read to their end (by two workers) before any record of the child.
    const lastParent = Math.max(...delivered.map((d, i) => (parents.includes(d.shardId) ? i : -1)));
    const firstChild = delivered.findIndex((d) => d.shardId === child.leaseKey);
    expect(firstChild).toBeGreaterThan(lastParent);
    expect(new Set(delivered.filter((d) => parents.includes(d.shardId)).map((d) => d.worker)).size).toBe(2);
    await Promise.all([a.stop(), b.stop()]);
  });

  it('retries a failure before reading (a sink failing to start the shard) instead of leaving the lease held and unread', async () => {
    const { kinesis, dynamo } = aws;
    const stream = await createStream(kinesis, 1, 'flaky');
    const app = `app-${stream}`;
    const delivered: Delivered[] = [];
    const sink = new (class extends RecordingSink {
      starts = 0;
      async shardStarting(): Promise<void> {
        if (this.starts++ === 0) throw new Error('injected: archive recovery failed');
      }
    })('A', delivered);
    const all = events(3, 4);
    await replayPayloads(kinesis, cloudWatchPayloads(all, { windowMs: 60_000 }), { streamName: stream, asFastAsPossible: true, distribution: 'random' });
    const a = await startService(settings(stream, app, 'A'), { kinesis, dynamo, sinks: [sink] });
    services.push(a);
    await until(() => delivered.length >= all.length, 15_000, () => `all ${all.length} records, have ${delivered.length}`);
    expect(sink.starts).toBe(2);
    expect(delivered.map((d) => d.line).sort()).toEqual(all.map((e) => e.message).sort());
    await a.stop();
  });

  it('checkpoints only after every sink flushed durably (the slowest sink rules)', async () => {
    const { kinesis, dynamo } = aws;
    const stream = await createStream(kinesis, 1, 'slow');
    const app = `app-${stream}`;
    const delivered: Delivered[] = [];
    const fast = new RecordingSink('fast', []);
    const slow = new RecordingSink('slow', delivered);
    let open!: () => void;
    slow.gate = new Promise<void>((r) => (open = r));
    const svc = await startService(settings(stream, app, 'W'), { kinesis, dynamo, sinks: [fast, slow] });
    services.push(svc);
    const ev = events(3, 3);
    await replayPayloads(kinesis, cloudWatchPayloads(ev), { streamName: stream, asFastAsPossible: true });
    await until(() => delivered.length === ev.length, 10_000, 'delivery');
    await sleep(600); // three checkpoint intervals
    const table = new LeaseTable(dynamo, app);
    expect((await table.getLease('shardId-000000000000'))!.checkpoint).toBe('TRIM_HORIZON');
    expect(fast.flushes).toBeGreaterThan(0);
    open();
    const lastSeq = delivered[delivered.length - 1]!.sequenceNumber;
    await until(async () => (await table.getLease('shardId-000000000000'))!.checkpoint === lastSeq, 5000, 'checkpoint after the slow flush');
    await svc.stop();
  });

  it('a graceful stop checkpoints everything handed over since the last periodic checkpoint', async () => {
    const { kinesis, dynamo } = aws;
    const stream = await createStream(kinesis, 2, 'stop');
    const app = `app-${stream}`;
    const delivered: Delivered[] = [];
    // No periodic checkpoint can happen during the test: only the one at stop.
    const svc = await startService({ ...settings(stream, app, 'S'), checkpointIntervalMs: 600_000 }, { kinesis, dynamo, sinks: [new RecordingSink('S', delivered)] });
    const ev = events(3, 5);
    await replayPayloads(kinesis, cloudWatchPayloads(ev), { streamName: stream, asFastAsPossible: true, distribution: 'random' });
    await until(() => delivered.length === ev.length, 10_000, 'delivery');
    const table = new LeaseTable(dynamo, app);
    for (const l of await table.listLeases()) expect(l.checkpoint).toBe('TRIM_HORIZON');
    await svc.stop();
    const last = new Map<string, string>();
    for (const d of delivered) last.set(d.shardId, d.sequenceNumber);
    const leases = await table.listLeases();
    expect(new Map(leases.filter((l) => last.has(l.leaseKey)).map((l) => [l.leaseKey, l.checkpoint]))).toEqual(last);
    expect(leases.every((l) => l.leaseOwner === undefined)).toBe(true);
  });
});
