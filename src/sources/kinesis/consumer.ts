/**
 * The leased Kinesis consumer (KCL's Scheduler, in small): for every lease this worker holds it
 * reads the shard, once its parents are finished, and hands the records to a RecordHandler; on
 * a timer it flushes the handler and then checkpoints each shard at the last record handed over
 * before the flush. A checkpoint therefore never runs ahead of what every sink made durable.
 *
 * Lease lost (stolen, expired): stop reading that shard at once, checkpoint nothing more; the
 * new owner resumes from the last checkpoint (the un-checkpointed tail is delivered twice).
 * Shard end: flush, create the children's leases, checkpoint SHARD_END, release the lease;
 * children wait until every parent is at SHARD_END, so a lineage is read in order.
 * stop(): stop taking leases, stop reading, flush, checkpoint, release every lease.
 */
import type { ChildShard, KinesisClient } from '@aws-sdk/client-kinesis';
import type { KinesisRecordIn } from '../types.js';
import { holdIdOf, SHARD_END, startPositionOf, TRIM_HORIZON, type InitialPosition, type HandedPosition, type Lease, type ShardCheckpoint, type ShardHold, type ShardStop } from './lease.js';
import type { LeaseCoordinator } from './lease-coordinator.js';
import type { LeaseTable } from './lease-table.js';
import type { ReaderEvent, ShardReader } from './records.js';
import { abortableSleep, backoffMs, Stopped } from './retry.js';
import { compareSequence } from './sequence.js';
import { newLease, syncShards } from './shard-sync.js';

/** Where records go. The consumer checkpoints only what was handed over before a flush. */
export interface RecordHandler {
  /**
   * Resolves when the records are taken (back-pressure), not necessarily durable. `hold` is the
   * lease tenure reading them: a worker can lose a lease and take it back while a hand-over of
   * the earlier tenure is still running, and only a tenure's own records may be checkpointed by it.
   */
  handle(shardId: string, records: readonly KinesisRecordIn[], hold: string): Promise<void>;
  /**
   * Resolves when everything handed over before the call is durable in every sink, with, per
   * shard, the last sequence number that covers and the tenure that handed it: what may be
   * checkpointed. The handler takes this snapshot at a record boundary, atomically with starting
   * the flush.
   */
  flush(): Promise<ReadonlyMap<string, HandedPosition>>;
  /**
   * Before a shard is read from its checkpoint (null: none yet), e.g. so an archive can remove
   * what a crashed owner wrote past it and the replay doesn't leave records twice.
   */
  shardStarting?(streamName: string, shardId: string, checkpoint: string | null, hold: ShardHold): Promise<void>;
  /**
   * The shard's lease was lost: drop anything of it not yet written (the new owner re-reads it),
   * and undo what `stop.hold` wrote past `stop.checkpointed`, which no checkpoint of it covers.
   */
  shardStopped?(streamName: string, shardId: string, stop: ShardStop): Promise<void>;
  /** After checkpoints were written: what is now checkpointed (sinks may drop recovery state). */
  checkpointed?(streamName: string, checkpoints: readonly ShardCheckpoint[]): Promise<void>;
}

export interface KinesisConsumerOptions {
  readonly kinesis: Pick<KinesisClient, 'send'>;
  readonly table: LeaseTable;
  readonly coordinator: LeaseCoordinator;
  readonly reader: ShardReader;
  readonly handler: RecordHandler;
  readonly streamName: string;
  /** Where shards without a lease start. */
  readonly from: InitialPosition;
  /** Default 5 s. */
  readonly checkpointIntervalMs?: number;
  /** Default 60 s (KCL's shard sync period). */
  readonly shardSyncIntervalMs?: number;
  /** How often a child shard re-reads its parents' leases while waiting. Default 1 s. */
  readonly parentPollMs?: number;
  readonly onEvent?: (e: ConsumerEvent) => void;
}

export type ConsumerEvent =
  | { readonly type: 'shard-start'; readonly shardId: string; readonly position: string }
  | { readonly type: 'shard-end'; readonly shardId: string; readonly childShardIds: readonly string[] }
  | { readonly type: 'shard-stopped'; readonly shardId: string }
  | { readonly type: 'checkpoint'; readonly shardId: string; readonly sequenceNumber: string }
  | { readonly type: 'waiting-for-parents'; readonly shardId: string; readonly parents: readonly string[] }
  | { readonly type: 'shard-error'; readonly shardId: string; readonly error: unknown }
  | { readonly type: 'error'; readonly op: string; readonly error: unknown }
  | ReaderEvent;

interface ShardTask {
  readonly shardId: string;
  /** holdIdOf the lease this task reads under. */
  readonly hold: string;
  readonly abort: AbortController;
  done: Promise<void>;
  /** Last sequence number handed to the handler, and the last one checkpointed. */
  handed?: string;
  checkpointed?: string;
  /**
   * At shard end the task checkpoints SHARD_END itself; the timer must leave it alone. Cleared
   * again if the shard end fails before SHARD_END is sent.
   */
  ending: boolean;
  millisBehindLatest: number;
  /** Its lease was lost and its tenure handed to the sinks to undo. */
  stopped?: boolean;
  /** It gave its lease up itself (the shard had ended). */
  released?: boolean;
}

export class KinesisConsumer {
  private readonly tasks = new Map<string, ShardTask>();
  private readonly stopping = new AbortController();
  private timers: ReturnType<typeof setInterval>[] = [];
  private checkpointRun: Promise<void> | undefined;
  /** Tenures being undone after their lease was lost (undoTenure). */
  private readonly undoing = new Set<Promise<void>>();
  private readonly emit: (e: ConsumerEvent) => void;

  constructor(private readonly o: KinesisConsumerOptions) {
    this.emit = o.onEvent ?? (() => {});
  }

  /** Creates the table and leases if needed, then starts taking leases and reading. */
  async start(): Promise<void> {
    const { table, coordinator } = this.o;
    await table.ensureTable(this.stopping.signal);
    await this.syncShards();
    coordinator.setListener({
      leaseGained: (lease, stolen) => this.startShard(lease, stolen),
      leaseLost: (key) => this.stopShard(key),
    });
    coordinator.start();
    this.timers.push(
      setInterval(() => void this.checkpointAll().catch((error: unknown) => this.emit({ type: 'error', op: 'checkpoint', error })), this.o.checkpointIntervalMs ?? 5000),
      setInterval(() => void this.syncShards().catch((error: unknown) => this.emit({ type: 'error', op: 'shard-sync', error })), this.o.shardSyncIntervalMs ?? 60_000),
    );
  }

  /** Shards being read (or waiting for parents) and how far behind each is. */
  status(): Array<{ shardId: string; millisBehindLatest: number; checkpoint?: string }> {
    return [...this.tasks.values()].map((t) => ({ shardId: t.shardId, millisBehindLatest: t.millisBehindLatest, ...(t.checkpointed ? { checkpoint: t.checkpointed } : {}) }));
  }

  /** Graceful shutdown: finish in-flight batches, checkpoint them, release every lease. */
  async stop(): Promise<void> {
    for (const t of this.timers) clearInterval(t);
    this.timers = [];
    // Take nothing more, but keep renewing until the leases are released: the final flush can
    // take longer than the failover time, and a lease that expired meanwhile would be taken
    // and recovered by another worker while this one's last files are still being written.
    await this.o.coordinator.stopTaking();
    this.stopping.abort();
    const tasks = [...this.tasks.values()];
    for (const t of tasks) t.abort.abort();
    await Promise.allSettled(tasks.map((t) => t.done));
    // The finished tasks have left `this.tasks`; the last checkpoint must still cover what they
    // handed over, or the next owner re-reads it.
    let failure: { error: unknown } | undefined;
    try {
      await this.checkpointAll(tasks);
    } catch (error) {
      failure = { error };
    }
    // A lease lost during that last flush: its task is gone, so stopShard did nothing; undo here.
    // Not a shard that ended (SHARD_END covers everything it wrote) or was given up.
    for (const t of tasks) if (!t.stopped && !t.released && t.checkpointed !== SHARD_END && !this.o.coordinator.holds(t.shardId)) this.undoTenure(t);
    await Promise.allSettled([...this.undoing]);
    try {
      await this.o.coordinator.releaseAll();
    } catch (error) {
      failure ??= { error };
    }
    // The first failure is the one to report (the final checkpoint's, before a release's).
    if (failure !== undefined) throw failure.error;
  }

  async syncShards(): Promise<void> {
    await syncShards(this.o.kinesis, this.o.table, this.o.streamName, this.o.from, this.stopping.signal);
  }

  /**
   * Flushes the handler, then checkpoints every shard at what was handed over before the flush.
   * One run at a time; a call during a run waits for it and runs again.
   */
  async checkpointAll(tasks?: readonly ShardTask[]): Promise<void> {
    while (this.checkpointRun) await this.checkpointRun;
    this.checkpointRun = (async () => {
      const current = tasks ?? [...this.tasks.values()];
      if (!current.some((t) => !t.ending && t.handed !== t.checkpointed)) return;
      const durable = await this.o.handler.flush();
      const snapshot: Array<{ t: ShardTask; seq: string }> = [];
      for (const t of current) {
        const handed = durable.get(t.shardId);
        // Handed by another tenure of the lease (one that ended here, or began since): not this
        // task's to checkpoint; its records may be rolled back.
        if (handed === undefined || handed.hold !== t.hold) continue;
        const seq = handed.sequenceNumber;
        if (t.ending || seq === t.checkpointed) continue;
        // A position from an earlier hold of this lease may be ahead of a re-read; never go back.
        if (t.checkpointed !== undefined && compareSequence(seq, t.checkpointed) < 0) continue;
        snapshot.push({ t, seq });
      }
      const done: ShardCheckpoint[] = [];
      await Promise.all(
        snapshot.map(async ({ t, seq }) => {
          if (t.ending || !this.o.coordinator.holds(t.shardId)) return;
          if (await this.o.coordinator.checkpoint(t.shardId, seq, 0, t.hold)) {
            t.checkpointed = seq;
            done.push({ shardId: t.shardId, sequenceNumber: seq, hold: t.hold });
            this.emit({ type: 'checkpoint', shardId: t.shardId, sequenceNumber: seq });
          }
        }),
      );
      if (done.length > 0) await this.o.handler.checkpointed?.(this.o.streamName, done);
    })().finally(() => (this.checkpointRun = undefined));
    await this.checkpointRun;
  }

  private startShard(lease: Lease, stolen = false): void {
    if (this.stopping.signal.aborted) return;
    this.tasks.get(lease.leaseKey)?.abort.abort();
    const task: ShardTask = { shardId: lease.leaseKey, hold: holdIdOf(lease), abort: new AbortController(), done: Promise.resolve(), ending: false, millisBehindLatest: 0 };
    this.tasks.set(lease.leaseKey, task);
    task.done = this.runShard(task, lease, stolen)
      .catch((error: unknown) => {
        if (!(error instanceof Stopped) && !task.abort.signal.aborted) this.emit({ type: 'shard-error', shardId: task.shardId, error });
      })
      .finally(() => {
        if (this.tasks.get(task.shardId) === task) this.tasks.delete(task.shardId);
        this.emit({ type: 'shard-stopped', shardId: task.shardId });
      });
  }

  private stopShard(leaseKey: string): void {
    const t = this.tasks.get(leaseKey);
    if (!t) return;
    t.abort.abort();
    this.tasks.delete(leaseKey);
    this.undoTenure(t);
  }

  /**
   * After the task's last hand-over (if any) completes, and every checkpoint write of the lease
   * has settled: sinks drop what they hold of the tenure and undo what no checkpoint covers.
   * stop() waits for these.
   */
  private undoTenure(t: ShardTask): void {
    t.stopped = true;
    const undo = t.done
      .then(async () => {
        const written = await this.o.coordinator.checkpointWrittenBy(t.shardId, t.hold);
        await this.o.handler.shardStopped?.(this.o.streamName, t.shardId, { hold: t.hold, ...written });
      })
      .catch((error: unknown) => this.emit({ type: 'error', op: 'shard-stopped', error }))
      .finally(() => this.undoing.delete(undo));
    this.undoing.add(undo);
  }

  private async runShard(task: ShardTask, lease: Lease, stolen: boolean): Promise<void> {
    const signal = task.abort.signal;
    // The worker we stole from notices at its next renewal (< failover/3) and stops; give it a
    // whole failover time, so its last batch and flush of this shard are usually over before we
    // start (fewer duplicates; a sink write of it that still lands later is that worker's to undo,
    // or our archive's: see ArchiveSink).
    if (stolen) await abortableSleep(this.o.coordinator.failoverMs, signal);
    // The steps before reading are retried like reading itself: a task that gave up here would
    // leave its lease held and renewed, and the shard (and its children) unread.
    await this.retrying(task, () => this.waitForParents(task, lease));
    let position = startPositionOf(lease);
    if (position.type === 'SHARD_END') {
      // Finished by an earlier owner (that may have died before releasing it); make sure the
      // children exist, then let it go.
      await this.retrying(task, () => this.syncShards());
      await this.retrying(task, () => this.o.coordinator.release(task.shardId, task.hold));
      task.released = true;
      return;
    }
    if (position.type === 'AFTER_SEQUENCE_NUMBER') task.handed = task.checkpointed = position.sequenceNumber;
    const from = position.type === 'AFTER_SEQUENCE_NUMBER' ? position.sequenceNumber : null;
    const hold: ShardHold = { id: task.hold, ...(lease.checkpointHold !== undefined ? { checkpointedBy: lease.checkpointHold } : {}) };
    await this.retrying(task, async () => this.o.handler.shardStarting?.(this.o.streamName, task.shardId, from, hold));
    this.emit({ type: 'shard-start', shardId: task.shardId, position: lease.checkpoint });
    for (let attempt = 0; ; attempt++) {
      try {
        for await (const batch of this.o.reader({
          streamName: this.o.streamName,
          shardId: task.shardId,
          start: position,
          signal,
          onEvent: this.emit,
        })) {
          if (signal.aborted) return;
          task.millisBehindLatest = batch.millisBehindLatest;
          if (batch.records.length > 0) {
            await this.o.handler.handle(task.shardId, batch.records, task.hold);
            task.handed = batch.records[batch.records.length - 1]!.sequenceNumber;
            attempt = 0;
          }
          if (batch.shardEnd) {
            await this.endShard(task, batch.childShards);
            return;
          }
        }
        return;
      } catch (error) {
        if (signal.aborted) return;
        // Network trouble, a restarted endpoint...: retry from the last record handed over.
        this.emit({ type: 'shard-error', shardId: task.shardId, error });
        await abortableSleep(backoffMs(attempt, 30_000), signal).catch(() => {});
        if (signal.aborted) return;
        if (task.handed !== undefined) position = { type: 'AFTER_SEQUENCE_NUMBER', sequenceNumber: task.handed };
      }
    }
  }

  /** Runs `step` until it succeeds, backing off between failures; stops when the task does. */
  private async retrying<T>(task: ShardTask, step: () => Promise<T>): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await step();
      } catch (error) {
        if (task.abort.signal.aborted || error instanceof Stopped) throw new Stopped();
        this.emit({ type: 'shard-error', shardId: task.shardId, error });
        await abortableSleep(backoffMs(attempt, 30_000), task.abort.signal);
      }
    }
  }

  private async waitForParents(task: ShardTask, lease: Lease): Promise<void> {
    const pollMs = this.o.parentPollMs ?? 1000;
    let announced = false;
    for (;;) {
      const pending: string[] = [];
      for (const p of lease.parentShardIds) {
        const parent = await this.o.table.getLease(p);
        // A parent without a lease has aged out of the stream (or was never ours to read).
        if (parent !== undefined && parent.checkpoint !== SHARD_END) pending.push(p);
      }
      if (pending.length === 0) return;
      if (!announced) this.emit({ type: 'waiting-for-parents', shardId: task.shardId, parents: pending });
      announced = true;
      await abortableSleep(pollMs, task.abort.signal);
    }
  }

  private async endShard(task: ShardTask, children: readonly ChildShard[]): Promise<void> {
    task.ending = true;
    const progress = { sent: false };
    try {
      await this.recordShardEnd(task, children, progress);
    } finally {
      // Failed (or stopped) before SHARD_END was sent: the shard is not finished in the table, so
      // the timer and the final checkpoint of stop() must again cover what it handed over, or the
      // next owner re-reads it. Once SHARD_END was sent the task stays `ending`: a later, lower
      // checkpoint must never overwrite it.
      if (!progress.sent) task.ending = false;
    }
  }

  /** The steps of a shard end; `progress.sent` is set as SHARD_END is sent to the table. */
  private async recordShardEnd(task: ShardTask, children: readonly ChildShard[], progress: { sent: boolean }): Promise<void> {
    // Children first (as KCL): if we die before SHARD_END is written, they exist and wait.
    const childIds: string[] = [];
    for (const c of children) {
      if (!c.ShardId) continue;
      childIds.push(c.ShardId);
      await this.o.table.createIfAbsent(
        newLease(c.ShardId, {
          checkpoint: TRIM_HORIZON,
          parentShardIds: c.ParentShards ?? [task.shardId],
          ...(c.HashKeyRange?.StartingHashKey ? { startingHashKey: c.HashKeyRange.StartingHashKey } : {}),
          ...(c.HashKeyRange?.EndingHashKey ? { endingHashKey: c.HashKeyRange.EndingHashKey } : {}),
        }),
      );
    }
    if (childIds.length === 0) await this.syncShards();
    else await this.o.table.addChildShardIds(task.shardId, childIds);
    // Everything this shard handed over must be durable before it is marked finished.
    await this.o.handler.flush();
    progress.sent = true;
    if (!(await this.o.coordinator.checkpoint(task.shardId, SHARD_END, 0, task.hold))) return;
    task.checkpointed = SHARD_END;
    // The shard is finished whatever a sink does with the news (it only tidies up).
    await this.o.handler
      .checkpointed?.(this.o.streamName, [{ shardId: task.shardId, sequenceNumber: SHARD_END, hold: task.hold }])
      .catch((error: unknown) => this.emit({ type: 'error', op: 'checkpointed', error }));
    this.emit({ type: 'shard-end', shardId: task.shardId, childShardIds: childIds });
    await this.o.coordinator.release(task.shardId, task.hold);
    task.released = true;
    // Take the children now rather than at the next scheduled scan.
    void this.o.coordinator.takeLeases().catch((error: unknown) => this.emit({ type: 'error', op: 'take', error }));
  }
}
