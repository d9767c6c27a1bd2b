/**
 * The streaming service behind `flowcut run`, assembled from its parts: the lease table and
 * coordinator, a shard reader (polling or enhanced fan-out), the consumer, and the pipeline
 * with its sinks. The same assembly serves real AWS and the embedded local setup; only the
 * clients differ.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { KinesisConsumer, type ConsumerEvent } from '../sources/kinesis/consumer.js';
import { LeaseCoordinator, type LeaseEvent } from '../sources/kinesis/lease-coordinator.js';
import { LeaseTable } from '../sources/kinesis/lease-table.js';
import { pollingReader } from '../sources/kinesis/polling-reader.js';
import type { ShardReader } from '../sources/kinesis/records.js';
import { parseFrom } from './config.js';
import { Pipeline } from './pipeline.js';
import type { Sink } from './sink.js';
import type { Reject } from '../flowlog/sink.js';

export interface ServiceSettings {
  readonly stream: string;
  readonly app: string;
  readonly workerId: string;
  readonly from: string;
  readonly failoverMs: number;
  readonly checkpointIntervalMs: number;
  readonly shardSyncIntervalMs: number;
  readonly idlePollMs: number;
}

export interface ServiceDeps {
  readonly kinesis: KinesisClient;
  readonly dynamo: DynamoDBClient;
  /** Default: GetRecords polling on `kinesis`. */
  readonly reader?: ShardReader;
  readonly sinks: readonly Sink[];
  readonly onEvent?: (e: ConsumerEvent | LeaseEvent) => void;
  /** Each input that could not be decoded (sinks get it too), e.g. to report it. */
  readonly onReject?: (r: Reject) => void;
}

export interface Service {
  readonly consumer: KinesisConsumer;
  readonly coordinator: LeaseCoordinator;
  readonly pipeline: Pipeline;
  /** Graceful: finish in-flight batches, flush sinks, checkpoint, release leases. */
  stop(): Promise<void>;
}

export async function startService(s: ServiceSettings, deps: ServiceDeps): Promise<Service> {
  const table = new LeaseTable(deps.dynamo, s.app);
  const coordinator = new LeaseCoordinator({
    table,
    workerId: s.workerId,
    failoverMs: s.failoverMs,
    // Scan often enough that a dead worker's shards are picked up within about 1.5 failovers.
    takeIntervalMs: Math.max(100, Math.floor(s.failoverMs / 2)),
    ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
  });
  const pipeline = new Pipeline(deps.sinks, deps.onReject ? { onReject: deps.onReject } : {});
  const consumer = new KinesisConsumer({
    kinesis: deps.kinesis,
    table,
    coordinator,
    reader: deps.reader ?? pollingReader(deps.kinesis, { idlePollMs: s.idlePollMs }),
    handler: pipeline,
    streamName: s.stream,
    from: parseFrom(s.from),
    checkpointIntervalMs: s.checkpointIntervalMs,
    shardSyncIntervalMs: s.shardSyncIntervalMs,
    parentPollMs: Math.min(1000, s.idlePollMs),
    ...(deps.onEvent ? { onEvent: deps.onEvent } : {}),
  });
  await consumer.start();
  let stopping: Promise<void> | undefined;
  return {
    consumer,
    coordinator,
    pipeline,
    stop: () =>
      (stopping ??= (async () => {
        await consumer.stop();
        await pipeline.close();
      })()),
  };
}
