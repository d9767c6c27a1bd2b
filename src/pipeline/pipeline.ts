/**
 * Kinesis records → FlowDecoder → every sink. Implements the consumer's RecordHandler: `handle`
 * resolves when the records have been written to every sink (not yet durable), `flush` when every
 * sink has made all of it durable; the consumer checkpoints only after `flush`.
 */
import { FlowDecoder } from '../decode/decoder.js';
import type { FlowBatch } from '../flowlog/batch.js';
import type { FlowFormat } from '../flowlog/format.js';
import type { Reject } from '../flowlog/sink.js';
import type { RecordHandler } from '../sources/kinesis/consumer.js';
import type { HandedPosition, ShardCheckpoint, ShardHold, ShardStop } from '../sources/kinesis/lease.js';
import type { KinesisRecordIn } from '../sources/types.js';
import type { Sink } from './sink.js';
import { Mutex } from './mutex.js';

export interface PipelineOptions {
  readonly format?: FlowFormat;
  readonly onReject?: (r: Reject) => void;
}

export class Pipeline implements RecordHandler {
  private readonly decoder: FlowDecoder;
  private readonly pending: FlowBatch[] = [];
  private readonly lock = new Mutex();
  /** Per shard, the last sequence number whose records every sink has been given. */
  private readonly handed = new Map<string, HandedPosition>();
  /** Kinesis records and flow records seen, for progress and benchmarks. */
  kinesisRecords = 0;
  /** Batches are refilled once every sink is done with them, unless a sink keeps them. */
  private readonly reuseBatches: boolean;
  kinesisBytes = 0;

  constructor(
    readonly sinks: readonly Sink[],
    opts: PipelineOptions = {},
  ) {
    this.reuseBatches = !sinks.some((s) => s.keepsBatches === true);
    this.decoder = new FlowDecoder(
      {
        batch: (b) => this.pending.push(b),
        reject: (r) => {
          opts.onReject?.(r);
          for (const s of sinks) s.reject?.(r);
        },
      },
      opts.format ? { format: opts.format } : {},
    );
  }

  get stats() {
    return this.decoder.stats;
  }

  /** `hold`: the lease tenure reading the shard (see RecordHandler.handle); '' outside leases. */
  async handle(shardId: string, records: readonly KinesisRecordIn[], hold = ''): Promise<void> {
    if (records.length === 0) return;
    const release = await this.lock.acquire();
    try {
      await this.decodeAndWrite(records);
      this.handed.set(shardId, { hold, sequenceNumber: records[records.length - 1]!.sequenceNumber });
    } finally {
      release();
    }
  }

  private async decodeAndWrite(records: readonly KinesisRecordIn[]): Promise<void> {
    for (const r of records) {
      this.kinesisRecords++;
      this.kinesisBytes += r.data.byteLength;
      this.decoder.decodeKinesisRecord(r);
    }
    // Hand over partial batches too: a record is not "handled" while it sits in the parser.
    this.decoder.flush();
    const batches = this.pending.splice(0);
    for (const b of batches) {
      for (const s of this.sinks) {
        const w = s.write(b);
        if (w) await w;
      }
      if (this.reuseBatches) this.decoder.recycle(b);
    }
  }

  /**
   * Starts every sink's flush with no batch half-written (the lock), so what each flush covers
   * ends exactly at the positions returned; then waits, unlocked, until all are durable.
   */
  async flush(): Promise<ReadonlyMap<string, HandedPosition>> {
    const release = await this.lock.acquire();
    let flushes: Promise<void>[];
    const positions = new Map(this.handed);
    try {
      flushes = this.sinks.map((s) => s.flush());
    } finally {
      release();
    }
    await Promise.all(flushes);
    return positions;
  }

  /**
   * A shard is (re)read from its checkpoint: forget how far an earlier hold of it got here, since
   * sinks may now drop what was written past the checkpoint (the archive's recovery does).
   */
  async shardStarting(streamName: string, shardId: string, checkpoint: string | null, hold: ShardHold): Promise<void> {
    const release = await this.lock.acquire();
    try {
      this.handed.delete(shardId);
      for (const s of this.sinks) await s.shardStarting?.(streamName, shardId, checkpoint, hold);
    } finally {
      release();
    }
  }

  /**
   * Under the lock only the sinks' synchronous part runs (dropping what they buffer of the
   * tenure); undoing what it flushed can wait for a slow flush, and must not stop other shards'
   * hand-overs meanwhile.
   */
  async shardStopped(streamName: string, shardId: string, stop: ShardStop): Promise<void> {
    const release = await this.lock.acquire();
    const undo: Promise<void>[] = [];
    try {
      if (this.handed.get(shardId)?.hold === stop.hold) this.handed.delete(shardId);
      for (const s of this.sinks) if (s.shardStopped) undo.push(s.shardStopped(streamName, shardId, stop));
    } finally {
      release();
    }
    await Promise.all(undo);
  }

  async checkpointed(streamName: string, checkpoints: readonly ShardCheckpoint[]): Promise<void> {
    for (const s of this.sinks) await s.checkpointed?.(streamName, checkpoints);
  }

  async close(): Promise<void> {
    await this.flush();
    await Promise.all(this.sinks.map((s) => s.close?.()));
  }
}
