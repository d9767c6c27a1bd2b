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
  /**
   * The hold (holdIdOf) that wrote the checkpoint; not in KCL's schema (KCL ignores it). Lets a
   * new owner tell a range that checkpoint committed from one a former owner wrote too late.
   */
  readonly checkpointHold?: string;
}

/**
 * One worker's tenure of a lease, from the lease as its take returned it: the owner and the
 * counter the take wrote, which no other take of that lease can write again.
 */
export function holdIdOf(taken: Lease): string {
  return `${taken.leaseOwner ?? ''}#${taken.leaseCounter}`;
}

/**
 * True when tenure `a` began after tenure `b` of the same lease: every take writes a higher
 * counter than any before it.
 */
export function isLaterHold(a: string, b: string): boolean {
  return tenureCounter(a) > tenureCounter(b);
}

function tenureCounter(hold: string): number {
  const n = Number(hold.slice(hold.lastIndexOf('#') + 1));
  return Number.isFinite(n) ? n : -1;
}

/** Given to sinks as a shard starts: this worker's hold, and the hold that wrote the checkpoint. */
export interface ShardHold {
  readonly id: string;
  readonly checkpointedBy?: string;
}

/** How far one tenure of a shard's lease handed records over: what it may checkpoint. */
export interface HandedPosition {
  readonly hold: string;
  readonly sequenceNumber: string;
}

/** A checkpoint written, by the tenure that wrote it. */
export interface ShardCheckpoint {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly hold?: string;
}

/** Given to sinks when a lease is lost: the hold that ended, and what it checkpointed. */
export interface ShardStop {
  readonly hold: string;
  /** The highest checkpoint the hold is known to have written (null: none). */
  readonly checkpointed: string | null;
  /**
   * The highest it may have written (a write of unknown outcome; at least `checkpointed`).
   * Ranges past `checkpointed` and not past this are neither committed nor undone: the next
   * recovery of the shard knows which they are.
   */
  readonly mayHave: string | null;
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
