import type { FlowBatch } from '../flowlog/batch.js';
import { ARCHIVE_SCHEMA, COL_LOG_GROUP, COL_LOG_STREAM, COL_SEQUENCE, COL_SHARD, COL_SOURCE, COL_SUB_INDEX, FIELD_COUNT } from './schema.js';
import type { ColumnValues } from './parquet/writer.js';

/**
 * The records of one output file while they accumulate: one array per archive column, copied
 * from FlowBatch columns (no per-record objects). A column is only allocated once some record has
 * a value for it, so the ~60 registry fields a v2 flow log never fills cost nothing.
 */
export class ColumnBuffer {
  rows = 0;
  /** Rough uncompressed size, for rolling by bytes: 8 per number, 1 per string character. */
  approxBytes = 0;
  private capacity = 1024;
  private readonly numbers: (Float64Array | undefined)[] = new Array(ARCHIVE_SCHEMA.length);
  private readonly strings: ((string | null)[] | undefined)[] = new Array(ARCHIVE_SCHEMA.length);

  /** Appends `batch` rows `rows[0..count)`. */
  append(batch: FlowBatch, rows: Int32Array, count: number): void {
    const base = this.rows;
    this.reserve(base + count);
    const fields = batch.format.fields;
    let bytes = 0;
    for (let i = 0; i < fields.length; i++) {
      const c = fields[i]!.id;
      const src = batch.numbers[i];
      if (src !== undefined) {
        const dst = this.numberColumn(c, base);
        for (let k = 0; k < count; k++) dst[base + k] = src[rows[k]!]!;
        bytes += 8 * count;
      } else {
        const s = batch.strings[i]!;
        const dst = this.stringColumn(c, base);
        for (let k = 0; k < count; k++) {
          const v = s[rows[k]!] ?? null;
          dst.push(v);
          if (v !== null) bytes += v.length;
        }
      }
    }
    // Source identity: per-record origin and index.
    const src = this.stringColumn(COL_SOURCE, base);
    const group = this.stringColumn(COL_LOG_GROUP, base);
    const stream = this.stringColumn(COL_LOG_STREAM, base);
    const shard = this.stringColumn(COL_SHARD, base);
    const seq = this.stringColumn(COL_SEQUENCE, base);
    const sub = this.numberColumn(COL_SUB_INDEX, base);
    for (let k = 0; k < count; k++) {
      const r = rows[k]!;
      const o = batch.origins[r]!;
      src.push(o.location);
      group.push(o.logGroup ?? null);
      stream.push(o.logStream ?? null);
      shard.push(o.shardId ?? null);
      seq.push(o.sequenceNumber ?? null);
      sub[base + k] = batch.subIndex[r]!;
    }
    this.rows = base + count;
    // Columns this batch's format lacks still need a value (null) for these rows.
    for (let c = 0; c < FIELD_COUNT; c++) {
      const s = this.strings[c];
      if (s !== undefined && s.length < this.rows) while (s.length < this.rows) s.push(null);
      const n = this.numbers[c];
      if (n !== undefined && batch.format.positionOf[c] === -1) n.fill(NaN, base, this.rows);
    }
    this.approxBytes += bytes + 80 * count;
  }

  /** Column values for the Parquet writer, in ARCHIVE_SCHEMA order. */
  columns(): ColumnValues[] {
    return ARCHIVE_SCHEMA.map((spec, c) => {
      const n = this.numbers[c];
      if (n !== undefined) return { numbers: n.subarray(0, this.rows) };
      const s = this.strings[c];
      if (s !== undefined) return { strings: s };
      return {};
    });
  }

  private reserve(rows: number): void {
    if (rows <= this.capacity) return;
    let cap = this.capacity;
    while (cap < rows) cap *= 2;
    for (let c = 0; c < this.numbers.length; c++) {
      const old = this.numbers[c];
      if (old === undefined) continue;
      const next = new Float64Array(cap);
      next.set(old.subarray(0, this.rows));
      this.numbers[c] = next;
    }
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

  private stringColumn(c: number, filled: number): (string | null)[] {
    let a = this.strings[c];
    if (a === undefined) {
      a = new Array<string | null>(filled).fill(null);
      this.strings[c] = a;
    }
    return a;
  }
}
