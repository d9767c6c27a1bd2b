/**
 * The Parquet archive (src/archive) as a pipeline sink, with its exactly-once protocol:
 * - batches are copied into the writer's column buffers as they come (so the pipeline can refill
 *   them); a shard whose lease is lost is dropped from the writer (shardStopped) instead of
 *   written by a worker that can no longer checkpoint it;
 * - flush() = ArchiveWriter.flush(): the files and their manifests are durable;
 * - before a shard is read from its checkpoint, recover() removes whatever an earlier owner
 *   wrote past that checkpoint, so the replay cannot leave a record in the archive twice;
 * - after a checkpoint, release() forgets the manifests of the ranges it covers.
 */
import type { FlushResult } from '../../archive/writer.js';
import { ArchiveWriter } from '../../archive/writer.js';
import { kinesisTag } from '../../archive/units.js';
import type { FlowBatch } from '../../flowlog/batch.js';
import { SHARD_END } from '../../sources/kinesis/lease.js';
import { compareSequence } from '../../sources/kinesis/sequence.js';
import type { Sink } from '../sink.js';

type Range = FlushResult['ranges'][number];

export class ArchiveSink implements Sink {
  readonly name = 'archive';
  /** Flushed ranges whose manifests are kept until a checkpoint covers them. */
  private unreleased: Range[] = [];
  private last: FlushResult | undefined;

  constructor(readonly writer: ArchiveWriter) {}

  write(batch: FlowBatch): void {
    // Copied: the writer keeps no reference to the batch's columns.
    this.writer.add(batch);
  }

  async flush(): Promise<void> {
    // Synchronous up to writer.flush(): the flush covers exactly what was written before the call.
    const result = await this.writer.flush();
    this.last = result;
    this.unreleased.push(...result.ranges);
  }

  async shardStopped(streamName: string, shardId: string): Promise<void> {
    this.writer.dropShard(streamName, shardId); // its buffered records, and what a failed flush kept of it
  }

  async shardStarting(streamName: string, shardId: string, checkpoint: string | null): Promise<void> {
    // Of an earlier hold of this lease (buffered, or kept by a failed flush): it is re-read from the checkpoint.
    this.writer.dropShard(streamName, shardId);
    await this.writer.recover([{ streamName, shardId, sequenceNumber: checkpoint }]);
  }

  async checkpointed(streamName: string, checkpoints: ReadonlyArray<{ shardId: string; sequenceNumber: string }>): Promise<void> {
    const covered: Range[] = [];
    const byTag = new Map(checkpoints.map((c) => [kinesisTag(streamName, c.shardId), c.sequenceNumber]));
    this.unreleased = this.unreleased.filter((r) => {
      const cp = byTag.get(r.unit);
      const last = r.last.kind === 'kinesis' ? r.last.sequenceNumber : undefined;
      if (cp === undefined || last === undefined) return true;
      if (cp !== SHARD_END && compareSequence(last, cp) > 0) return true;
      covered.push(r);
      return false;
    });
    if (covered.length > 0 && this.last) await this.writer.release({ ...this.last, ranges: covered });
  }

  async close(): Promise<void> {}
}
