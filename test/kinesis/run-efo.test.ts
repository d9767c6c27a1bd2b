/**
 * `flowcut run --consumer efo` end to end: a worker process reads a 2-shard stream through
 * enhanced fan-out (RegisterStreamConsumer, SubscribeToShard on kinesis-local), prints every
 * record once, checkpoints, and on SIGTERM exits cleanly with its leases released.
 * Needs `npm run build` first (as the other CLI tests).
 */
import { describe, expect, it } from 'vitest';
import { DescribeStreamSummaryCommand, ListStreamConsumersCommand } from '@aws-sdk/client-kinesis';
import { cloudWatchPayloads, replayPayloads } from '../../src/pipeline/replay.js';
import { LeaseTable } from '../../src/sources/kinesis/lease-table.js';
import { compareSequence } from '../../src/sources/kinesis/sequence.js';
import { createStream, until } from './helpers.js';
import { lineKey, simEvents, useRunWorkers } from './workers.js';

describe('flowcut run --consumer efo', () => {
  const { aws, start } = useRunWorkers();

  it('delivers every record once through SubscribeToShard, checkpoints, and stops cleanly', async () => {
    const { kinesis, dynamo } = aws;
    const stream = await createStream(kinesis, 2, 'runefo');
    const app = `app-${stream}`;
    const all = simEvents().slice(0, 1200);
    const put = (events: typeof all) => replayPayloads(kinesis, cloudWatchPayloads(events), { streamName: stream, asFastAsPossible: true, distribution: 'random' });
    await put(all.slice(0, 600));
    const w = start({ id: 'e1', stream, app, kinesis: aws.kinesisEndpoint, dynamo: aws.dynamoEndpoint, failoverMs: 5000, extra: ['--output', 'jsonl', '--consumer', 'efo'] });
    await until(() => w.records.length >= 600, 30_000, () => `the first 600 records\n${w.stderr()}`);
    // Records put while subscribed arrive through the open subscription.
    await put(all.slice(600));
    await until(() => w.records.length >= all.length, 30_000, () => `all ${all.length} records, have ${w.records.length}\n${w.stderr()}`);

    expect(new Set(w.records.map((r) => r.key)).size).toBe(w.records.length);
    expect(w.records.map((r) => r.line).sort()).toEqual(all.map((e) => lineKey(e.message)).sort());
    // The consumer it registered (named after the lease table) is the stream's.
    const arn = (await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: stream }))).StreamDescriptionSummary!.StreamARN!;
    const consumers = (await kinesis.send(new ListStreamConsumersCommand({ StreamARN: arn }))).Consumers ?? [];
    expect(consumers.map((c) => c.ConsumerName)).toContain(app);

    w.child.kill('SIGTERM');
    await w.exited;
    expect(w.child.exitCode, w.stderr()).toBe(0);
    // Each shard's checkpoint is its last record printed, and no lease is held any more.
    const leases = await new LeaseTable(dynamo, app).listLeases();
    expect(leases).toHaveLength(2);
    for (const l of leases) {
      expect(l.leaseOwner).toBeUndefined();
      const last = w.records.filter((r) => r.shard === l.leaseKey).map((r) => r.seq).sort(compareSequence).at(-1);
      expect(l.checkpoint).toBe(last);
    }
  });
});
