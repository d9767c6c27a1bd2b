/**
 * Where decoded flow records go. A sink may buffer; `flush()` resolves only once everything
 * written before the call is durable (or, for sinks with nothing to keep, handed on), because the
 * Kinesis checkpoint is written after every sink's flush: checkpoints follow the slowest sink.
 *
 * Delivery is at least once: after a crash, a worker resumes from the last checkpoint and the
 * records after it are written again. Each record carries its identity (FlowBatch.origins[i]:
 * shardId + sequenceNumber, and FlowBatch.subIndex[i]: the event's index within that Kinesis
 * record), so a sink that must have exactly-once effects deduplicates on it.
 */
import type { FlowBatch } from '../flowlog/batch.js';
import type { Reject } from '../flowlog/sink.js';
import type { ShardCheckpoint, ShardHold, ShardStop } from '../sources/kinesis/lease.js';

export interface Sink {
  readonly name: string;
  /**
   * Takes a batch. The sink must not modify it (other sinks see the same one). Unless it sets
   * `keepsBatches`, it must not read it once the call has returned (or its promise resolved):
   * the pipeline then reuses the batch for new records.
   */
  write(batch: FlowBatch): void | Promise<void>;
  /** True when the sink holds batches past write() (until its flush): they are never reused. */
  readonly keepsBatches?: boolean;
  /** Resolves when everything written before this call is durable. */
  flush(): Promise<void>;
  /** Inputs that could not be decoded; optional. */
  reject?(reject: Reject): void;
  /** Releases resources after a final flush. */
  close?(): Promise<void>;
  /**
   * Before a shard is (re)read from `checkpoint` (null: from its start position), under `hold`:
   * this worker's tenure of the lease, and the tenure that wrote the checkpoint.
   */
  shardStarting?(streamName: string, shardId: string, checkpoint: string | null, hold: ShardHold): Promise<void>;
  /**
   * This worker no longer holds the shard: drop whatever of it is not yet written, and undo what
   * `stop.hold` wrote past `stop.checkpointed` (the new owner re-reads and writes it).
   */
  shardStopped?(streamName: string, shardId: string, stop: ShardStop): Promise<void>;
  /** After these checkpoints were written; a sink may forget what it kept to recover them. */
  checkpointed?(streamName: string, checkpoints: readonly ShardCheckpoint[]): Promise<void>;
}

/** The identity of record `row`: unique per flow event across replays of the stream. */
export function recordIdentity(batch: FlowBatch, row: number): { shardId?: string; sequenceNumber?: string; subIndex: number } {
  const o = batch.origins[row];
  return {
    ...(o?.shardId !== undefined ? { shardId: o.shardId } : {}),
    ...(o?.sequenceNumber !== undefined ? { sequenceNumber: o.sequenceNumber } : {}),
    subIndex: batch.subIndex[row]!,
  };
}
