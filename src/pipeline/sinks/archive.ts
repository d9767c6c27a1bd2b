/**
 * The Parquet archive (src/archive) as a pipeline sink, with its exactly-once protocol:
 * - batches are copied into the writer's column buffers as they come (so the pipeline can refill
 *   them); a shard whose lease is lost is dropped from the writer (shardStopped) instead of
 *   written by a worker that can no longer checkpoint it;
 * - flush() = ArchiveWriter.flush(): the files and their manifests are durable;
 * - before a shard is read from its checkpoint, recover() removes whatever an earlier owner
 *   wrote past that checkpoint, so the replay cannot leave a record in the archive twice;
 * - after a checkpoint, release() forgets the manifests of the ranges it covers that the
 *   checkpointing tenure wrote;
 * - when a lease is lost, the ranges this worker wrote under that tenure (listed from the store,
 *   so a failed flush's too) that its checkpoints do not cover are rolled back, once a flush
 *   still running has settled: the new owner may have recovered before they landed, and writes
 *   those records again under its own names;
 * - ranges recover() rolled back keep their manifests (marked) for `lateWriteGraceMs`, then their
 *   files are deleted again and the manifests with them, so a former owner that was still
 *   writing and died before undoing its files leaves nothing behind. A flush it began only after
 *   this recovery is found by the shard's next recovery (its tenure is not the checkpoint's).
 */
import type { FlushResult, RolledBack } from '../../archive/writer.js';
import { ArchiveWriter } from '../../archive/writer.js';
import { checkpointCovers, kinesisTag } from '../../archive/units.js';
import type { FlowBatch } from '../../flowlog/batch.js';
import { isLaterHold, SHARD_END, type ShardCheckpoint, type ShardHold, type ShardStop } from '../../sources/kinesis/lease.js';
import type { Sink } from '../sink.js';

type Range = FlushResult['ranges'][number];

export class ArchiveSink implements Sink {
  readonly name = 'archive';
  /** Flushed ranges whose manifests are kept until a checkpoint covers them. */
  private unreleased: Range[] = [];
  private last: FlushResult | undefined;
  /** The latest flush (each waits for the one before): shardStopped waits for it to settle. */
  private flushing: Promise<unknown> = Promise.resolve();

  /** Rolled-back ranges whose manifests recover() kept, with when they may be finished. */
  private rolledBack: Array<RolledBack & { readonly due: number }> = [];
  private readonly lateWriteGraceMs: number;
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private readonly now: () => number;

  constructor(
    readonly writer: ArchiveWriter,
    opts: {
      /** How long a former lease owner may still be writing after the new owner's recovery (default 10 minutes). */
      readonly lateWriteGraceMs?: number;
      readonly now?: () => number;
    } = {},
  ) {
    this.lateWriteGraceMs = opts.lateWriteGraceMs ?? 10 * 60_000;
    this.now = opts.now ?? Date.now;
  }

  write(batch: FlowBatch): void {
    // Copied: the writer keeps no reference to the batch's columns.
    this.writer.add(batch);
  }

  async flush(): Promise<void> {
    // Synchronous up to writer.flush(): the flush covers exactly what was written before the call.
    const run = this.writer.flush().then((result) => {
      this.last = result;
      this.unreleased.push(...result.ranges);
    });
    this.flushing = run.catch(() => {});
    await run;
  }

  async shardStopped(streamName: string, shardId: string, stop: ShardStop): Promise<void> {
    // Synchronous (under the pipeline's lock): its buffered records, and what a failed flush kept of it.
    this.writer.dropShard(streamName, shardId, stop.hold);
    // A flush that began before the lease was lost may still be writing this tenure's ranges.
    await this.flushing;
    const tag = kinesisTag(streamName, shardId);
    this.unreleased = this.unreleased.filter((r) => r.unit !== tag || r.hold !== stop.hold);
    // From the store, not from memory: a failed flush's manifest names files too.
    await this.writer.endTenure(streamName, shardId, stop.hold, stop.checkpointed, stop.mayHave);
  }

  async shardStarting(streamName: string, shardId: string, checkpoint: string | null, hold: ShardHold): Promise<void> {
    // Of an earlier hold of this lease (buffered, or kept by a failed flush): it is re-read from the checkpoint.
    this.writer.dropShard(streamName, shardId);
    const recovered = await this.writer.recover([{ streamName, shardId, sequenceNumber: checkpoint, ...(hold.checkpointedBy !== undefined ? { checkpointHold: hold.checkpointedBy } : {}) }], {
      isNewerTenure: (other) => isLaterHold(other, hold.id),
    });
    this.keep(recovered.kept);
    this.writer.startShard(streamName, shardId, hold.id);
  }

  /** Sweeps rolled-back manifests recover() kept, after the grace period. */
  private keep(kept: readonly RolledBack[]): void {
    const due = this.now() + this.lateWriteGraceMs;
    for (const k of kept) this.rolledBack.push({ ...k, due });
    // Also when the shard stays idle (no checkpoints). A failed sweep keeps the manifests, and
    // the next recovery of the shard rolls them back again: nothing is lost by waiting.
    if (kept.length > 0) {
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        void this.sweep().catch(() => {});
      }, this.lateWriteGraceMs + 1);
      timer.unref();
      this.timers.add(timer);
    }
  }

  /** Finishes the kept rollbacks whose grace is over (after checkpoints, and by a timer). */
  async sweep(): Promise<void> {
    const now = this.now();
    const ready = this.rolledBack.filter((k) => k.due <= now);
    if (ready.length === 0) return;
    await this.writer.sweepRolledBack(ready);
    this.rolledBack = this.rolledBack.filter((k) => !ready.includes(k));
  }

  async checkpointed(streamName: string, checkpoints: readonly ShardCheckpoint[]): Promise<void> {
    const covered: Range[] = [];
    const byTag = new Map(checkpoints.map((c) => [kinesisTag(streamName, c.shardId), c]));
    this.unreleased = this.unreleased.filter((r) => {
      const cp = byTag.get(r.unit);
      // Only the checkpointing tenure's own ranges: another tenure's are rolled back, not committed.
      if (cp === undefined || (cp.hold !== undefined && r.hold !== undefined && cp.hold !== r.hold) || !covers(cp.sequenceNumber, r)) return true;
      covered.push(r);
      return false;
    });
    if (covered.length > 0 && this.last) await this.writer.release({ ...this.last, ranges: covered });
    // A finished shard is never recovered again: its end is the last chance to find a former
    // owner's late ranges (its tenure is not this one), kept for the grace period like recovery's.
    for (const c of checkpoints) {
      if (c.sequenceNumber !== SHARD_END || c.hold === undefined) continue;
      const hold = c.hold;
      const ended = await this.writer.recover([{ streamName, shardId: c.shardId, sequenceNumber: SHARD_END, checkpointHold: hold }], { isNewerTenure: (other) => isLaterHold(other, hold) });
      this.keep(ended.kept);
    }
    await this.sweep();
  }

  async close(): Promise<void> {
    // Those past their grace now; the rest stay in the store for the next recovery of their
    // shard (an ended shard has none: they stay).
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    // A failed sweep loses nothing (the manifests stay for the next recovery): no reason to
    // fail the shutdown over it.
    await this.sweep().catch(() => {});
  }
}

/** True when checkpoint `cp` (null: none) covers the whole range. */
function covers(cp: string | null, r: Range): boolean {
  return r.last.kind === 'kinesis' && checkpointCovers(cp, r.last.sequenceNumber);
}
