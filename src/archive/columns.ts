import type { FlowBatch, Origin } from '../flowlog/batch.js';
import { ARCHIVE_SCHEMA, COL_LOG_GROUP, COL_LOG_STREAM, COL_SEQUENCE, COL_SHARD, COL_SOURCE, COL_SUB_INDEX, FIELD_COUNT } from './schema.js';
import type { ColumnValues } from './parquet/writer.js';

/** A string column kept dictionary-coded as it fills: per row an index into `values`, -1 for null. */
interface StringColumn {
  idx: Int32Array;
  readonly map: Map<string, number>;
  readonly values: string[];
}

/**
 * The records of one output file while they accumulate: one array per archive column, copied
 * from FlowBatch columns (no per-record objects). Numbers go to Float64Arrays; strings are
 * dictionary-coded on the way in (the parser interns them, so consecutive equal values are the
 * same string and cost one comparison); the source columns are one index per record into the
 * list of distinct origins. A column is only allocated once some record has a value for it, so
 * the ~60 registry fields a v2 flow log never fills cost nothing.
 */
export class ColumnBuffer {
  rows = 0;
  /** Rough uncompressed size, for rolling by bytes: 8 per number, 4 per string index, plus distinct strings. */
  approxBytes = 0;
  // Small at first: a segment may hold many partitions of a few rows each (one per account and
  // hour), and the first append grows it straight to what it needs.
  private capacity = 16;
  private readonly numbers: (Float64Array | undefined)[] = new Array(ARCHIVE_SCHEMA.length);
  private readonly strings: (StringColumn | undefined)[] = new Array(ARCHIVE_SCHEMA.length);
  private originIdx = new Int32Array(16);
  private subIndex = new Float64Array(16);
  private readonly origins: Origin[] = [];
  private readonly originMap = new Map<Origin, number>();
  private lastOrigin: Origin | undefined;
  private lastOriginIdx = -1;

  /** Appends `batch` rows `rows[0..count)`. */
  append(batch: FlowBatch, rows: Int32Array, count: number): void {
    const base = this.rows;
    this.reserve(base + count);
    const fields = batch.format.fields;
    let bytes = 0;
    // Rows ascending and unique (as the writer passes them): contiguous when the span is `count`,
    // the common case of a Kinesis record whose flows share one hour; numbers are then block-copied.
    const first = count > 0 ? rows[0]! : 0;
    const contiguous = count > 0 && rows[count - 1]! - first === count - 1;
    for (let i = 0; i < fields.length; i++) {
      const c = fields[i]!.id;
      const src = batch.numbers[i];
      if (src !== undefined) {
        const dst = this.numberColumn(c, base);
        if (contiguous) dst.set(src.subarray(first, first + count), base);
        else for (let k = 0; k < count; k++) dst[base + k] = src[rows[k]!]!;
        bytes += 8 * count;
      } else {
        const s = batch.strings[i]!;
        const col = this.stringColumn(c, base);
        const idx = col.idx, map = col.map, values = col.values;
        let last: string | null | undefined, lastIndex = -1;
        for (let k = 0; k < count; k++) {
          const v = s[rows[k]!];
          if (v === null || v === undefined) {
            idx[base + k] = -1;
            continue;
          }
          if (v !== last) {
            let e = map.get(v);
            if (e === undefined) {
              e = values.length;
              map.set(v, e);
              values.push(v);
              bytes += v.length;
            }
            last = v;
            lastIndex = e;
          }
          idx[base + k] = lastIndex;
        }
        bytes += 4 * count;
      }
    }
    // Source identity: per-record origin (an index into the distinct origins) and index.
    const oi = this.originIdx, sub = this.subIndex;
    for (let k = 0; k < count; k++) {
      const r = rows[k]!;
      const o = batch.origins[r]!;
      if (o !== this.lastOrigin) {
        let e = this.originMap.get(o);
        if (e === undefined) {
          e = this.origins.length;
          this.originMap.set(o, e);
          this.origins.push(o);
          bytes += o.location.length + 64;
        }
        this.lastOrigin = o;
        this.lastOriginIdx = e;
      }
      oi[base + k] = this.lastOriginIdx;
      sub[base + k] = batch.subIndex[r]!;
    }
    this.rows = base + count;
    // Columns this batch's format lacks still need a value (null) for these rows.
    for (let c = 0; c < FIELD_COUNT; c++) {
      if (batch.format.positionOf[c] !== -1) continue;
      this.strings[c]?.idx.fill(-1, base, this.rows);
      this.numbers[c]?.fill(NaN, base, this.rows);
    }
    this.approxBytes += bytes + 12 * count;
  }

  /** Column values for the Parquet writer, in ARCHIVE_SCHEMA order. */
  columns(): ColumnValues[] {
    const n = this.rows;
    const origin = (f: (o: Origin) => string | undefined): ColumnValues => {
      const values = this.origins.map((o) => f(o) ?? null);
      // No origin has it (log group, shard... of S3 input): all null, which costs nothing.
      return values.every((v) => v === null) ? {} : { indices: this.originIdx.subarray(0, n), values };
    };
    return ARCHIVE_SCHEMA.map((spec, c): ColumnValues => {
      switch (c) {
        case COL_SOURCE:
          return origin((o) => o.location);
        case COL_LOG_GROUP:
          return origin((o) => o.logGroup);
        case COL_LOG_STREAM:
          return origin((o) => o.logStream);
        case COL_SHARD:
          return origin((o) => o.shardId);
        case COL_SEQUENCE:
          return origin((o) => o.sequenceNumber);
        case COL_SUB_INDEX:
          return { numbers: this.subIndex.subarray(0, n) };
      }
      const num = this.numbers[c];
      if (num !== undefined) return { numbers: num.subarray(0, n) };
      const s = this.strings[c];
      if (s !== undefined) return { indices: s.idx.subarray(0, n), values: s.values };
      return {};
    });
  }

  private reserve(rows: number): void {
    if (rows <= this.capacity) return;
    let cap = this.capacity;
    while (cap < rows) cap *= 2;
    for (let c = 0; c < this.numbers.length; c++) {
      const old = this.numbers[c];
      if (old !== undefined) this.numbers[c] = copyOf(new Float64Array(cap), old, this.rows);
      const s = this.strings[c];
      if (s !== undefined) s.idx = copyOf(new Int32Array(cap), s.idx, this.rows);
    }
    this.originIdx = copyOf(new Int32Array(cap), this.originIdx, this.rows);
    this.subIndex = copyOf(new Float64Array(cap), this.subIndex, this.rows);
    this.capacity = cap;
  }

  private numberColumn(c: number, filled: number): Float64Array {
    let a = this.numbers[c];
    if (a === undefined) {
      a = new Float64Array(this.capacity);
      a.fill(NaN, 0, filled);
      this.numbers[c] = a;
    }
    return a;
  }

  private stringColumn(c: number, filled: number): StringColumn {
    let a = this.strings[c];
    if (a === undefined) {
      a = { idx: new Int32Array(this.capacity), map: new Map(), values: [] };
      a.idx.fill(-1, 0, filled);
      this.strings[c] = a;
    }
    return a;
  }
}

function copyOf<T extends Float64Array | Int32Array>(next: T, old: T, n: number): T {
  next.set(old.subarray(0, n) as never);
  return next;
}
