/**
 * A shard end that cannot be recorded must not cost the checkpoint. When the reader reaches the
 * end of a closed shard and the response names no child shards, the consumer lists the shards
 * before marking the lease SHARD_END; if that fails (ListShards refused here, or a stop aborting
 * it), the records the shard handed over still have to be checkpointed by stop(), or the next
 * owner reads them again.
 */
import { describe, expect, it } from 'vitest';
import { ListShardsCommand, SplitShardCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { KinesisConsumer, type ConsumerEvent, type RecordHandler } from '../../src/sources/kinesis/consumer.js';
import { LeaseCoordinator } from '../../src/sources/kinesis/lease-coordinator.js';
import { LeaseTable } from '../../src/sources/kinesis/lease-table.js';
import { SHARD_END, type HandedPosition } from '../../src/sources/kinesis/lease.js';
import { pollingReader } from '../../src/sources/kinesis/polling-reader.js';
import type { ShardReader } from '../../src/sources/kinesis/records.js';
import type { KinesisRecordIn } from '../../src/sources/types.js';
import { useLocalAws } from '../support/local-aws.js';
import { createStream, HALF, putText, until } from './helpers.js';

/** Keeps what it is handed; a flush makes everything handed so far "durable". */
class KeepingHandler implements RecordHandler {
  readonly records: KinesisRecordIn[] = [];
  private readonly last = new Map<string, HandedPosition>();
  async handle(shardId: string, records: readonly KinesisRecordIn[], hold: string): Promise<void> {
    this.records.push(...records);
    this.last.set(shardId, { hold, sequenceNumber: records[records.length - 1]!.sequenceNumber });
  }
  async flush(): Promise<ReadonlyMap<string, HandedPosition>> {
    return new Map(this.last);
  }
}

describe('a shard end that cannot be recorded', () => {
  const aws = useLocalAws();

  it('still checkpoints the shard at its last record on stop, so the next owner reads nothing twice', async () => {
    const stream = await createStream(aws.kinesis, 1, 'end');
    const app = `app-${stream}`;
    const parent = 'shardId-000000000000';
    const put = await putText(aws.kinesis, stream, Array.from({ length: 20 }, (_, i) => ({ data: `r${i}`, hashKey: BigInt(i) })));
    await aws.kinesis.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: parent, NewStartingHashKey: HALF.toString() }));

    let refuseListShards = false;
    // Only ListShards is refused; every other call goes to kinesis-local.
    const kinesis: Pick<KinesisClient, 'send'> = {
      send: ((command: unknown, options?: unknown) => {
        if (refuseListShards && command instanceof ListShardsCommand) return Promise.reject(Object.assign(new Error('injected: ListShards refused'), { name: 'InternalFailure' }));
        return (aws.kinesis.send as (c: unknown, o?: unknown) => Promise<unknown>)(command, options);
      }) as KinesisClient['send'],
    };
    // As a server that names no children at the end of a closed shard.
    const polling = pollingReader(aws.kinesis, { idlePollMs: 50 });
    const reader: ShardReader = async function* (opts) {
      for await (const batch of polling(opts)) yield batch.shardEnd ? { ...batch, childShards: [] } : batch;
    };

    const worker = (id: string, handler: KeepingHandler, events: ConsumerEvent[]) => {
      const table = new LeaseTable(aws.dynamo, app);
      const coordinator = new LeaseCoordinator({ table, workerId: id, failoverMs: 3000, takeIntervalMs: 200 });
      // No periodic checkpoint: what is checkpointed below is stop()'s doing.
      const consumer = new KinesisConsumer({ kinesis, table, coordinator, reader, handler, streamName: stream, from: 'trim-horizon', checkpointIntervalMs: 600_000, shardSyncIntervalMs: 600_000, parentPollMs: 100, onEvent: (e) => events.push(e) });
      return { consumer, table };
    };

    const handlerA = new KeepingHandler();
    const eventsA: ConsumerEvent[] = [];
    const a = worker('A', handlerA, eventsA);
    await a.consumer.start();
    refuseListShards = true;
    const parentRecords = (h: KeepingHandler) => h.records.filter((r) => r.shardId === parent).length;
    await until(() => parentRecords(handlerA) === 20, 15_000, () => `A to read the parent's 20 records, has ${parentRecords(handlerA)}`);
    // A reached the end and failed to record it (the shard-error of its shard-end step).
    await until(() => eventsA.some((e) => e.type === 'shard-error' && e.shardId === parent && String((e.error as Error).message).includes('ListShards refused')), 15_000, 'the shard end to fail on ListShards');
    expect(eventsA.some((e) => e.type === 'shard-end')).toBe(false);
    await a.consumer.stop();

    const lease = await a.table.getLease(parent);
    expect(lease!.checkpoint).toBe(put[put.length - 1]!.sequenceNumber);
    expect(lease!.leaseOwner).toBeUndefined();

    // The next owner, with ListShards back: it starts after A's last record, reads nothing of
    // the parent again, and finishes it.
    refuseListShards = false;
    const handlerB = new KeepingHandler();
    const eventsB: ConsumerEvent[] = [];
    const b = worker('B', handlerB, eventsB);
    await b.consumer.start();
    await until(async () => (await b.table.getLease(parent))?.checkpoint === SHARD_END, 15_000, 'B to mark the parent SHARD_END');
    await b.consumer.stop();
    expect(parentRecords(handlerB)).toBe(0);
    expect(eventsB.some((e) => e.type === 'shard-end' && e.shardId === parent)).toBe(true);
  });
});
