/**
 * A lease: the right to process one shard, as an item of the lease table in the Kinesis Client
 * Library's schema, so KCL tooling (and people who know it) can read flowcut's tables.
 */

/** Checkpoint sentinels, spelled as KCL spells them. Anything else is a sequence number. */
export const TRIM_HORIZON = 'TRIM_HORIZON';
export const LATEST = 'LATEST';
export const AT_TIMESTAMP = 'AT_TIMESTAMP';
export const SHARD_END = 'SHARD_END';

export interface Lease {
  /** The shard id (single-stream mode, as KCL). */
  readonly leaseKey: string;
  /** Absent: nobody holds it, any worker may take it at once. */
  readonly leaseOwner?: string;
  /** Bumped by every renewal, take, checkpoint and eviction: the optimistic-lock version. */
  readonly leaseCounter: number;
  /** Last durably processed sequence number, or a sentinel. */
  readonly checkpoint: string;
  readonly checkpointSubSequenceNumber: number;
  readonly ownerSwitchesSinceCheckpoint: number;
  /** KCL's `parentShardId` (a string set of one or two shard ids). */
  readonly parentShardIds: readonly string[];
  readonly childShardIds: readonly string[];
  readonly startingHashKey?: string;
  readonly endingHashKey?: string;
  /**
   * For checkpoint AT_TIMESTAMP: the start time, epoch ms. KCL keeps it in its configuration
   * instead; we keep it on the lease so workers started with different options agree.
   */
  readonly checkpointTimestampMs?: number;
}

/** Where reading a shard starts, derived from its lease's checkpoint. */
export type StartPosition =
  | { readonly type: 'TRIM_HORIZON' }
  | { readonly type: 'LATEST' }
  | { readonly type: 'AT_TIMESTAMP'; readonly timestamp: Date }
  | { readonly type: 'AFTER_SEQUENCE_NUMBER'; readonly sequenceNumber: string }
  | { readonly type: 'SHARD_END' };

export function startPositionOf(lease: Lease): StartPosition {
  switch (lease.checkpoint) {
    case TRIM_HORIZON:
      return { type: 'TRIM_HORIZON' };
    case LATEST:
      return { type: 'LATEST' };
    case SHARD_END:
      return { type: 'SHARD_END' };
    case AT_TIMESTAMP:
      return { type: 'AT_TIMESTAMP', timestamp: new Date(lease.checkpointTimestampMs ?? 0) };
    default:
      return { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: lease.checkpoint };
  }
}

/** The configured `--from` for shards that have no lease yet. */
export type InitialPosition = 'trim-horizon' | 'latest' | Date;

export function initialCheckpoint(from: InitialPosition): Pick<Lease, 'checkpoint' | 'checkpointTimestampMs'> {
  if (from === 'trim-horizon') return { checkpoint: TRIM_HORIZON };
  if (from === 'latest') return { checkpoint: LATEST };
  return { checkpoint: AT_TIMESTAMP, checkpointTimestampMs: from.getTime() };
}
