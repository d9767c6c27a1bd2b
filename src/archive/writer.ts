import type { FlowBatch, Origin } from '../flowlog/batch.js';
import { ColumnBuffer } from './columns.js';
import { decodeManifest, encodeManifest, manifestPrefix, type Manifest } from './manifest.js';
import { EncodingMemory, encodeParquet, type Codec } from './parquet/writer.js';
import { loadZstd } from '../decode/zstd.js';
import { Partitioner, type Partition } from './partition.js';
import { SCHEMA_VERSION, storedColumns } from './schema.js';
import type { ArchiveStore } from './store.js';
import {
  checkpointCovers,
  compareSequence,
  hashHex,
  kinesisTag,
  objectTag,
  positionName,
  streamNameOf,
  type KinesisPosition,
  type ObjectUnit,
  type Position,
} from './units.js';

export interface ArchiveOptions {
  readonly store: ArchiveStore;
  /** Page compression (default zstd). */
  readonly codec?: Codec;
  /** ZSTD level (default DEFAULT_ZSTD_LEVEL). */
  readonly level?: number;
  /**
   * ZSTD: also try a stronger level per column (default true: ~2.5% smaller files on
   * bench:archive, ~20% slower writes). The streaming service turns it off for throughput.
   */
  readonly strongerLevels?: boolean;
  /** Region for records that carry none (no `region` field, no S3 key); default 'unknown'. */
  readonly defaultRegion?: string;
  /** Roll a unit's file set after this many records (default 1,000,000). */
  readonly maxRecords?: number;
  /** ... or this many bytes, roughly, before compression (default 256 MiB). */
  readonly maxBytes?: number;
  /** ... or once its oldest buffered record is this old (default 60 s): see shouldFlush(). */
  readonly maxAgeMs?: number;
  /** Object units: records per chunk. Chunks are cut by count only, so names are deterministic. */
  readonly chunkRecords?: number;
  /** Parallel writes during a flush (default 8). */
  readonly concurrency?: number;
  readonly now?: () => number;
}

/** One input range made durable by a flush. */
export interface CoveredRange {
  readonly unit: string;
  readonly first: Position;
  readonly last: Position;
  readonly records: number;
  readonly manifest: string;
  readonly files: readonly string[];
  /** Kinesis units: the lease tenure that wrote the range (see startShard). */
  readonly hold?: string;
}

export interface FlushResult {
  readonly records: number;
  readonly bytes: number;
  readonly files: readonly string[];
  readonly ranges: readonly CoveredRange[];
  /** Per unit, the last position now durable: what the caller may checkpoint. */
  readonly positions: readonly Position[];
}

export interface KinesisCheckpoint {
  readonly streamName: string;
  readonly shardId: string;
  /** The last checkpointed sequence number, or null when the shard was never checkpointed. */
  readonly sequenceNumber: string | null;
  /** The lease tenure that wrote that checkpoint, when known (the lease's checkpointHold). */
  readonly checkpointHold?: string;
}

export interface RecoverOptions {
  /** True for a lease tenure (a manifest's `hold`) newer than the recovering one: its ranges are left alone. */
  readonly isNewerTenure?: (hold: string) => boolean;
}

export interface RecoveryResult {
  /** Files of ranges past the checkpoints, deleted so the replay can write them again. */
  deletedFiles: string[];
  /** Manifests of ranges past the checkpoints (deleted with their files). */
  rolledBack: number;
  /** Manifests of ranges the checkpoints already cover (only the manifest is deleted). */
  committed: number;
  /**
   * Rolled-back ranges of a lease tenure (manifests with a hold) whose manifests are kept: their
   * writer may still be running, and a file it puts after this recovery would otherwise be named
   * nowhere. The caller deletes their files again, then the manifest, once no late write can
   * come (sweepRolledBack).
   */
  kept: RolledBack[];
}

/** A rolled-back range whose manifest is kept for a while (see RecoveryResult.kept). */
export interface RolledBack {
  readonly manifest: string;
  readonly files: readonly string[];
}

export class ArchiveError extends Error {
  override readonly name = 'ArchiveError';
}

interface Unit {
  readonly tag: string;
  readonly kind: 'kinesis' | 'object';
  readonly streamName?: string;
  readonly shardId?: string;
  readonly object?: ObjectUnit;
  /** Kinesis units: the lease tenure whose records these are (startShard), part of every name. */
  readonly hold?: string;
  /** Object units: records added so far (the next record's ordinal). */
  ordinal: number;
  open: Segment | undefined;
}

/** The records of one unit's input range, by partition, until they are written. */
interface Segment {
  readonly unit: Unit;
  readonly parts: Map<Partition, ColumnBuffer>;
  records: number;
  bytes: number;
  first: Position;
  last: Position;
  readonly openedAt: number;
  /** Size limit reached: seal before the next Kinesis record starts. */
  full: boolean;
}

/** What a partition costs a segment beyond its rows: buffers, and a Parquet file's footer and put. */
const PARTITION_OVERHEAD_BYTES = 64 * 1024;

const DEFAULTS = { maxRecords: 1_000_000, maxBytes: 256 << 20, maxAgeMs: 60_000, chunkRecords: 250_000, concurrency: 8 };

/**
 * The archive sink. `add()` buffers records by input unit and partition; `flush()` writes them as
 * Parquet and resolves once they are durable, saying which input positions are covered. The
 * caller checkpoints those positions after flush() resolves and then calls `release()`; after a
 * crash it calls `recover()` with its checkpoints before replaying from them.
 *
 * Exactly once: each flushed range writes a manifest (its files) before the files; recover()
 * deletes the files of every range the checkpoints do not cover, so a replay can never leave a
 * record twice even when its file boundaries differ from the crashed run's. Names derive from
 * the unit and the range's positions, so an identical replay overwrites the same objects; for a
 * Kinesis shard also from the lease tenure reading it (startShard), so a former owner's late
 * write can never have the name of the new owner's file, and can be undone without touching it
 * (endTenure, and recover's rule for other tenures' ranges).
 */
export class ArchiveWriter {
  readonly store: ArchiveStore;
  private readonly codec: Codec;
  private readonly level: number | undefined;
  private readonly strongerLevels: boolean;
  /** Which encodings won per column: most flushes then skip the encoders' trials. */
  private readonly encodings = new EncodingMemory();
  private readonly partitioner: Partitioner;
  private readonly maxRecords: number;
  private readonly maxBytes: number;
  private readonly maxAgeMs: number;
  private readonly chunkRecords: number;
  private readonly concurrency: number;
  private readonly now: () => number;
  private readonly units = new Map<string, Unit>();
  private sealed: Segment[] = [];
  /** Segments a failed flush could not write: the next flush to run writes them first. */
  private unwritten: Segment[] = [];
  private chain: Promise<unknown> = Promise.resolve();
  private scratchRows = new Int32Array(4096);
  private scratchParts = new Int32Array(4096);
  private lastOrigin: Origin | undefined;
  private lastUnit: Unit | undefined;
  /** Kinesis tag → the lease tenure its records are read under (startShard). */
  private readonly holds = new Map<string, string>();
  /** Records added and not yet written. */
  pendingRecords = 0;

  constructor(opts: ArchiveOptions) {
    this.store = opts.store;
    this.codec = opts.codec ?? 'zstd';
    this.level = opts.level;
    this.strongerLevels = opts.strongerLevels ?? true;
    this.partitioner = new Partitioner(opts.defaultRegion ?? 'unknown');
    this.maxRecords = opts.maxRecords ?? DEFAULTS.maxRecords;
    this.maxBytes = opts.maxBytes ?? DEFAULTS.maxBytes;
    this.maxAgeMs = opts.maxAgeMs ?? DEFAULTS.maxAgeMs;
    this.chunkRecords = opts.chunkRecords ?? DEFAULTS.chunkRecords;
    this.concurrency = opts.concurrency ?? DEFAULTS.concurrency;
    this.now = opts.now ?? Date.now;
  }

  /**
   * Buffers a batch. Records from Kinesis are assigned to their shard from their origin; records
   * from an object or file need `object` (their positions are ordinals within it, counted here).
   */
  add(batch: FlowBatch, object?: ObjectUnit): void {
    if (batch.length === 0) return;
    this.pendingRecords += batch.length;
    if (object !== undefined) this.addObject(batch, this.objectUnit(object));
    else this.addStream(batch);
  }

  /** Ends an object unit: its last (short) chunk becomes writable by the next flush. */
  endObject(object: ObjectUnit): void {
    const unit = this.units.get(objectTag(object.objectId));
    if (unit === undefined) return;
    this.seal(unit);
    this.units.delete(unit.tag);
  }

  /** True when something should be written: a unit reached its size, or its oldest record its age. */
  shouldFlush(now = this.now()): boolean {
    if (this.sealed.length > 0 || this.unwritten.length > 0) return true;
    for (const u of this.units.values()) {
      const s = u.open;
      // Object chunks are written when whole (sealed) or ended, never by age or bytes.
      if (s !== undefined && u.kind === 'kinesis' && (s.full || now - s.openedAt >= this.maxAgeMs)) return true;
    }
    return false;
  }

  /**
   * Writes everything added so far. Resolves when every file (and its manifest) is durable.
   * Call it at input-record boundaries (after the decoder handed over whole Kinesis records), so
   * the positions it reports can be checkpointed. Object units only write whole chunks (and
   * chunks ended by endObject) unless `partialObjects` is set.
   */
  flush(partialObjects = false): Promise<FlushResult> {
    for (const u of this.units.values()) if (u.kind === 'kinesis' || partialObjects) this.seal(u);
    const own = this.sealed;
    this.sealed = [];
    // A failed write keeps its segments (same names: rewritten whole) for the next flush to run,
    // which may already be queued behind it with its own segments taken: it writes them first,
    // or it would resolve while records added before it was called were never written, and its
    // caller checkpoint past them.
    const run = this.chain.then(() => {
      const segments = [...this.unwritten.splice(0), ...own];
      return this.write(segments).then(
        (result) => {
          for (const s of segments) this.pendingRecords -= s.records;
          return result;
        },
        (err: unknown) => {
          for (const s of segments) {
            if (this.droppedTags.has(s.unit.tag)) this.pendingRecords -= s.records;
            else this.unwritten.push(s);
          }
          throw err;
        },
      );
    });
    this.chain = run.catch(() => {});
    return run;
  }

  /** Tags dropped while a flush was running: its failed segments of them are not kept. */
  private droppedTags = new Set<string>();

  /**
   * Forgets everything of a Kinesis shard not yet written (its lease went to another worker,
   * which re-reads it from the checkpoint): open data and segments kept from a failed flush.
   */
  dropShard(streamName: string, shardId: string, hold?: string): void {
    const tag = kinesisTag(streamName, shardId);
    // A later tenure of ours has started on the shard meanwhile: what is buffered is its own.
    if (hold !== undefined && this.holds.has(tag) && this.holds.get(tag) !== hold) return;
    if (hold !== undefined) this.holds.delete(tag);
    const unit = this.units.get(tag);
    if (unit?.open) this.pendingRecords -= unit.open.records;
    this.units.delete(tag);
    if (this.lastUnit === unit) {
      this.lastUnit = undefined;
      this.lastOrigin = undefined;
    }
    for (const s of [...this.sealed, ...this.unwritten]) if (s.unit.tag === tag) this.pendingRecords -= s.records;
    this.sealed = this.sealed.filter((s) => s.unit.tag !== tag);
    this.unwritten = this.unwritten.filter((s) => s.unit.tag !== tag);
    this.droppedTags.add(tag);
    void this.chain.then(() => this.droppedTags.delete(tag));
  }

  /**
   * Names the lease tenure the shard's records are read under from now on (a tenure that ended
   * must have been dropped first: dropShard). Ranges written for it carry it in their names and
   * manifests.
   */
  startShard(streamName: string, shardId: string, hold: string): void {
    const tag = kinesisTag(streamName, shardId);
    if (this.units.has(tag)) throw new ArchiveError(`startShard(${streamName}/${shardId}): records of an earlier tenure are still buffered; dropShard first`);
    this.holds.set(tag, hold);
  }

  /**
   * A lease tenure ended (lost): of the shard's ranges written under `hold`, forgets the manifests
   * of those `checkpointed` covers and rolls back (files, then manifest) those `mayHave` does not
   * cover either, including ranges of a flush that failed and ranges a recovery already rolled
   * back. Ranges only `mayHave` covers (a checkpoint write of unknown outcome) are left as they
   * are: the shard's next recovery commits or rolls them back, by the checkpoint's tenure. Call
   * it once the tenure's flushes have settled. Its names carry the tenure, so no other tenure's
   * file is touched.
   */
  async endTenure(streamName: string, shardId: string, hold: string, checkpointed: string | null, mayHave: string | null = checkpointed): Promise<RecoveryResult> {
    const result: RecoveryResult = { deletedFiles: [], rolledBack: 0, committed: 0, kept: [] };
    for (const { key, manifest } of await this.manifests(kinesisTag(streamName, shardId))) {
      if (manifest.hold !== hold) continue;
      const last = (manifest.last as KinesisPosition).sequenceNumber;
      if (manifest.rolledBack !== true && checkpointCovers(checkpointed, last)) {
        await this.store.delete([key]);
        result.committed++;
      } else if (manifest.rolledBack === true || !checkpointCovers(mayHave, last)) {
        await this.rollBackManifest(key, manifest.files, result);
      }
    }
    return result;
  }

  /** Deletes the manifests of ranges the caller has checkpointed (they are only needed for recovery). */
  async release(result: FlushResult): Promise<void> {
    await this.store.delete(result.ranges.map((r) => r.manifest));
  }

  /**
   * Before replaying Kinesis shards from their checkpoints: removes every file written for a range
   * past a checkpoint (a crash between flush and checkpoint, or during the flush), and forgets
   * manifests the checkpoints cover. Ranges written by this archive always end at a checkpointable
   * position, so a range that straddles a checkpoint means the caller checkpointed a position no
   * flush reported: that is refused rather than guessed at.
   *
   * A range written under another lease tenure than the one that wrote the checkpoint was never
   * committed by it: a former owner flushed it after losing the lease (and after the new owner's
   * recovery had looked), and crashed before undoing it. A tenure checkpoints only records it
   * handed over and wrote itself (past the checkpoint it started from), and an earlier tenure's
   * committed ranges were forgotten by the recovery that began the checkpointing one, so the
   * range's records are either past the checkpoint (re-read) or in the checkpointing tenure's
   * files: it is rolled back wherever it lies. So is a range an earlier recovery already rolled
   * back (`rolledBack`), whatever covers it. Ranges of newer tenures (`opts.isNewerTenure`) are left
   * alone: they fence a recovery that is still running after the lease moved on.
   */
  async recover(checkpoints: readonly KinesisCheckpoint[], opts: RecoverOptions = {}): Promise<RecoveryResult> {
    const result: RecoveryResult = { deletedFiles: [], rolledBack: 0, committed: 0, kept: [] };
    for (const cp of checkpoints) {
      const tag = kinesisTag(cp.streamName, cp.shardId);
      // A range of a tenure newer than the recovering one is never touched: either the lease has
      // moved on while this recovery ran (a slow store) and the range is the new owner's, or the
      // lease table was recreated (counters start again) and the range is an older table's.
      const manifests = (await this.manifests(tag)).filter((m) => m.manifest.hold === undefined || opts.isNewerTenure?.(m.manifest.hold) !== true);
      for (const { key, manifest } of manifests) {
        const first = manifest.first as KinesisPosition, last = manifest.last as KinesisPosition;
        if (manifest.hold !== undefined && (manifest.hold !== cp.checkpointHold || manifest.rolledBack === true)) {
          await this.rollBackKeeping(key, manifest, result);
        } else if (checkpointCovers(cp.sequenceNumber, last.sequenceNumber)) {
          await this.store.delete([key]);
          result.committed++;
        } else if (cp.sequenceNumber !== null && compareSequence(first.sequenceNumber, cp.sequenceNumber) <= 0) {
          throw new ArchiveError(
            `checkpoint ${cp.sequenceNumber} of ${cp.streamName}/${cp.shardId} falls inside archived range ${first.sequenceNumber}..${last.sequenceNumber} (${key}); checkpoint only positions a flush reported`,
          );
        } else if (manifest.hold !== undefined) {
          await this.rollBackKeeping(key, manifest, result);
        } else {
          await this.rollBackManifest(key, manifest.files, result);
        }
      }
    }
    return result;
  }

  /** Deletes a range's files now and keeps its manifest naming them (RecoveryResult.kept). */
  private async rollBackKeeping(key: string, manifest: Manifest, result: RecoveryResult): Promise<void> {
    await this.store.delete(manifest.files);
    result.deletedFiles.push(...manifest.files);
    // Marked, so its writer (which may believe a checkpoint covers it) rolls it back too.
    if (manifest.rolledBack !== true) await this.store.put(key, encodeManifest({ ...manifest, rolledBack: true }));
    result.kept.push({ manifest: key, files: manifest.files });
    result.rolledBack++;
  }

  /**
   * Finishes rolled-back ranges recover() kept: deletes their files again (a late write of their
   * former writer), then their manifests. Their names carry that writer's tenure, so no file of
   * the current one is among them.
   */
  async sweepRolledBack(kept: readonly RolledBack[]): Promise<void> {
    for (const k of kept) {
      await this.store.delete(k.files);
      await this.store.delete([k.manifest]);
    }
  }

  /** Removes whatever a crashed run wrote for an object that was not completed. */
  async recoverObject(objectId: string): Promise<RecoveryResult> {
    const result: RecoveryResult = { deletedFiles: [], rolledBack: 0, committed: 0, kept: [] };
    for (const { key, manifest } of await this.manifests(objectTag(objectId))) await this.rollBackManifest(key, manifest.files, result);
    return result;
  }

  private async rollBackManifest(key: string, files: readonly string[], result: RecoveryResult): Promise<void> {
    await this.store.delete(files);
    result.deletedFiles.push(...files);
    await this.store.delete([key]);
    result.rolledBack++;
  }

  private async manifests(tag: string): Promise<{ key: string; manifest: Manifest }[]> {
    const out: { key: string; manifest: Manifest }[] = [];
    for await (const o of this.store.list(manifestPrefix(tag))) {
      const bytes = await this.store.get(o.key);
      if (bytes !== undefined) out.push({ key: o.key, manifest: decodeManifest(bytes, o.key) });
    }
    return out;
  }

  private objectUnit(object: ObjectUnit): Unit {
    const tag = objectTag(object.objectId);
    let u = this.units.get(tag);
    if (u === undefined) {
      u = { tag, kind: 'object', object, ordinal: 0, open: undefined };
      this.units.set(tag, u);
    }
    return u;
  }

  private addObject(batch: FlowBatch, unit: Unit): void {
    let from = 0;
    while (from < batch.length) {
      const take = Math.min(batch.length - from, this.chunkRecords - (unit.open?.records ?? 0));
      const first: Position = { kind: 'object', objectId: unit.object!.objectId, location: unit.object!.location, ordinal: unit.ordinal };
      const last: Position = { ...first, ordinal: unit.ordinal + take - 1 };
      this.append(unit, batch, from, from + take, first, last);
      unit.ordinal += take;
      from += take;
      if (unit.open!.records >= this.chunkRecords) this.seal(unit);
    }
  }

  private addStream(batch: FlowBatch): void {
    let runStart = 0;
    while (runStart < batch.length) {
      const origin = batch.origins[runStart]!;
      const unit = this.streamUnit(origin);
      let runEnd = runStart + 1;
      while (runEnd < batch.length && (batch.origins[runEnd] === origin || this.streamUnit(batch.origins[runEnd]!) === unit)) runEnd++;
      // Within the run, seal at Kinesis record boundaries once the unit's segment is full.
      let from = runStart;
      for (let r = runStart; r <= runEnd; r++) {
        const boundary = r === runEnd || batch.origins[r]!.sequenceNumber !== batch.origins[r - 1]?.sequenceNumber;
        if (!boundary || r === from) continue;
        const o = batch.origins[from]!;
        const first: KinesisPosition = { kind: 'kinesis', streamName: unit.streamName!, shardId: unit.shardId!, sequenceNumber: o.sequenceNumber!, subIndex: batch.subIndex[from]! };
        if (unit.open?.full && unit.open.last.kind === 'kinesis' && unit.open.last.sequenceNumber !== o.sequenceNumber) this.seal(unit);
        this.append(unit, batch, from, r, first, { ...first, subIndex: batch.subIndex[r - 1]! });
        from = r;
      }
      runStart = runEnd;
    }
  }

  private streamUnit(origin: Origin): Unit {
    if (origin === this.lastOrigin) return this.lastUnit!;
    const streamName = streamNameOf(origin.location);
    if (origin.shardId === undefined || origin.sequenceNumber === undefined || streamName === undefined) {
      throw new ArchiveError(`record from ${origin.location} has no Kinesis shard and sequence number: add it with its object unit, add(batch, unit)`);
    }
    const tag = kinesisTag(streamName, origin.shardId);
    let u = this.units.get(tag);
    if (u === undefined) {
      const hold = this.holds.get(tag);
      u = { tag, kind: 'kinesis', streamName, shardId: origin.shardId, ...(hold !== undefined ? { hold } : {}), ordinal: 0, open: undefined };
      this.units.set(tag, u);
    }
    this.lastOrigin = origin;
    this.lastUnit = u;
    return u;
  }

  private append(unit: Unit, batch: FlowBatch, from: number, to: number, first: Position, last: Position): void {
    let seg = unit.open;
    if (seg === undefined) {
      seg = { unit, parts: new Map(), records: 0, bytes: 0, first, last, openedAt: this.now(), full: false };
      unit.open = seg;
    }
    seg.last = last;
    const n = to - from;
    if (this.scratchRows.length < batch.length) {
      this.scratchRows = new Int32Array(batch.capacity);
      this.scratchParts = new Int32Array(batch.capacity);
    }
    const parts: Partition[] = [];
    this.partitioner.assign(batch, from, to, this.scratchParts, parts);
    // Rows grouped by partition in one counting pass (each group stays in row order): a batch
    // can span thousands of partitions, and a pass per partition would be quadratic.
    const starts = new Int32Array(parts.length + 1);
    if (parts.length === 1) {
      for (let r = from; r < to; r++) this.scratchRows[r - from] = r;
      starts[1] = n;
    } else {
      for (let r = from; r < to; r++) starts[this.scratchParts[r]! + 1]!++;
      for (let p = 0; p < parts.length; p++) starts[p + 1]! += starts[p]!;
      const fill = starts.slice(0, parts.length);
      for (let r = from; r < to; r++) this.scratchRows[fill[this.scratchParts[r]!]!++] = r;
    }
    for (let p = 0; p < parts.length; p++) {
      const rows = this.scratchRows.subarray(starts[p]!, starts[p + 1]!);
      let buf = seg.parts.get(parts[p]!);
      if (buf === undefined) {
        seg.parts.set(parts[p]!, (buf = new ColumnBuffer()));
        // Each partition is a file of its own: count its fixed cost, so many tiny ones fill a segment too.
        seg.bytes += PARTITION_OVERHEAD_BYTES;
      }
      const before = buf.approxBytes;
      buf.append(batch, rows, rows.length);
      seg.bytes += buf.approxBytes - before;
    }
    seg.records += n;
    // Streams seal a full segment at the next Kinesis record boundary; object chunks seal on
    // their record count alone (addObject), which keeps their names deterministic.
    if (seg.records >= this.maxRecords || seg.bytes >= this.maxBytes) seg.full = true;
  }

  private seal(unit: Unit): void {
    if (unit.open === undefined) return;
    this.sealed.push(unit.open);
    unit.open = undefined;
  }

  private async write(segments: Segment[]): Promise<FlushResult> {
    if (this.codec === 'zstd') await loadZstd();
    const ranges: CoveredRange[] = [];
    const jobs: (() => Promise<number>)[] = [];
    const manifests: (() => Promise<void>)[] = [];
    let records = 0;
    for (const seg of segments) {
      const tag = seg.unit.tag;
      const hold = seg.unit.hold;
      const firstName = positionName(seg.first);
      const holdName = hold === undefined ? '' : `.${hashHex(hold, 8)}`;
      const base = `${tag}.${firstName}.${hashHex(JSON.stringify(seg.last) + (hold === undefined ? '' : `\n${hold}`), 8)}`;
      const files: string[] = [];
      for (const [part, buf] of seg.parts) {
        const key = `${part.path}${base}.parquet`;
        files.push(key);
        jobs.push(async () => {
          const stored = storedColumns(buf.columns());
          const bytes = encodeParquet(stored.schema, stored.columns, buf.rows, {
            codec: this.codec,
            ...(this.level !== undefined ? { level: this.level } : {}),
            memory: this.encodings,
            strongerLevels: this.strongerLevels,
            keyValue: { 'flowcut.schema': SCHEMA_VERSION, 'flowcut.unit': tag, 'flowcut.first': firstName, 'flowcut.last': positionName(seg.last) },
          });
          await this.store.put(key, bytes);
          return bytes.length;
        });
      }
      const manifest = `${manifestPrefix(tag)}${firstName}${holdName}.json`;
      const body: Manifest = { version: 1, unit: tag, first: seg.first, last: seg.last, records: seg.records, files, ...(hold !== undefined ? { hold } : {}) };
      manifests.push(() => this.store.put(manifest, encodeManifest(body)));
      ranges.push({ unit: tag, first: seg.first, last: seg.last, records: seg.records, manifest, files, ...(hold !== undefined ? { hold } : {}) });
      records += seg.records;
    }
    // Manifests first: a crash after any data file exists must find the manifest naming it.
    await runLimited(manifests, this.concurrency);
    const sizes = await runLimited(jobs, this.concurrency);
    const last = new Map<string, Position>();
    for (const r of ranges) last.set(r.unit, r.last);
    return { records, bytes: sizes.reduce((a, b) => a + b, 0), files: ranges.flatMap((r) => r.files), ranges, positions: [...last.values()] };
  }
}

/**
 * Runs at most `limit` jobs at a time. After a failure no new job starts, and it rejects only
 * once every started job has settled: a put still under way when a flush is reported failed
 * could otherwise land after the caller has rolled the range back or released its manifest.
 */
async function runLimited<T>(jobs: (() => Promise<T>)[], limit: number): Promise<T[]> {
  const out = new Array<T>(jobs.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const worker = async (): Promise<void> => {
    while (next < jobs.length && failure === undefined) {
      const i = next++;
      try {
        out[i] = await jobs[i]!();
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, jobs.length) }, worker));
  if (failure !== undefined) throw failure.error;
  return out;
}
