/**
 * What a shard reader (polling or enhanced fan-out) yields, and the one conversion from the
 * SDK's record shape to ours.
 */
import type { ChildShard, _Record as SdkRecord } from '@aws-sdk/client-kinesis';
import type { KinesisRecordIn } from '../types.js';
import type { StartPosition } from './lease.js';

export interface ShardBatch {
  /** In sequence order; may be empty (a poll that found nothing, or the end of the shard). */
  readonly records: KinesisRecordIn[];
  readonly millisBehindLatest: number;
  /** The shard is closed and every record has been read: this is the last batch. */
  readonly shardEnd: boolean;
  /** With shardEnd: the shards that continue it (one for a split's each half, one for a merge). */
  readonly childShards: readonly ChildShard[];
}

export interface ShardReadOptions {
  readonly streamName: string;
  readonly shardId: string;
  readonly start: Exclude<StartPosition, { type: 'SHARD_END' }>;
  readonly signal: AbortSignal;
  readonly onEvent?: (e: ReaderEvent) => void;
}

export type ReaderEvent =
  | { readonly type: 'iterator-renewed'; readonly shardId: string; readonly afterSequenceNumber?: string }
  | { readonly type: 'throttled'; readonly shardId: string; readonly errorName: string; readonly delayMs: number }
  | { readonly type: 'resubscribed'; readonly shardId: string; readonly reason: string };

/** Reads one shard from a position to its end (or until the signal fires). */
export type ShardReader = (opts: ShardReadOptions) => AsyncIterable<ShardBatch>;

export function toRecordIn(streamName: string, shardId: string, r: SdkRecord): KinesisRecordIn | undefined {
  if (r.SequenceNumber === undefined) return undefined;
  return {
    streamName,
    shardId,
    sequenceNumber: r.SequenceNumber,
    partitionKey: r.PartitionKey ?? '',
    arrivalMs: r.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
    data: r.Data ?? new Uint8Array(0),
  };
}
