import { gzipSync } from 'node:zlib';
import { ByteSink } from './bytes.js';
import { snappyCompress } from './snappy.js';
import { ThriftWriter } from './thrift.js';

/**
 * A Parquet encoder for flat, nullable columns of int32, int64 and strings, written straight from
 * column arrays (numbers as Float64Array with NaN for null, strings as arrays with null). It does
 * what the archive needs and no more: one data page (v1) per column chunk, dictionary encoding for
 * strings and for low-cardinality numbers, PLAIN otherwise, min/max statistics on numbers so
 * DuckDB and Athena can skip row groups, and SNAPPY or GZIP pages.
 */

export type PhysicalType = 'int32' | 'int64' | 'string';
export type Codec = 'snappy' | 'gzip' | 'none';
export const CODECS: readonly Codec[] = ['snappy', 'gzip', 'none'];

export interface ColumnSpec {
  readonly name: string;
  readonly type: PhysicalType;
}

/**
 * One column's values for the rows being written; `numbers` for int types, `strings` otherwise.
 * Neither means every value is null (most registry fields in most files): encoded in O(1).
 */
export interface ColumnValues {
  readonly numbers?: Float64Array;
  readonly strings?: readonly (string | null)[];
}

export interface EncodeOptions {
  readonly codec?: Codec;
  readonly rowGroupRows?: number;
  readonly keyValue?: Readonly<Record<string, string>>;
}

const TYPE_CODE: Record<PhysicalType, number> = { int32: 1, int64: 2, string: 6 };
const CONVERTED: Record<PhysicalType, number> = { string: 0 /* UTF8 */, int32: 17 /* INT_32 */, int64: 18 /* INT_64 */ };
const CODEC_CODE: Record<Codec, number> = { none: 0, snappy: 1, gzip: 2 };
const ENC_PLAIN = 0;
const ENC_RLE = 3;
const ENC_RLE_DICTIONARY = 8;
const PAGE_DATA = 0;
const PAGE_DICTIONARY = 2;
const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]);

interface ChunkMeta {
  type: PhysicalType;
  name: string;
  encodings: number[];
  numValues: number;
  uncompressed: number;
  compressed: number;
  dataPageOffset: number;
  dictionaryPageOffset: number | undefined;
  nullCount: number;
  min: number;
  max: number;
}

const encoder = new TextEncoder();

/** Encodes `rows` rows of `columns` (parallel to `schema`) as a complete Parquet file. */
export function encodeParquet(schema: readonly ColumnSpec[], columns: readonly ColumnValues[], rows: number, opts: EncodeOptions = {}): Uint8Array {
  const codec = opts.codec ?? 'snappy';
  const groupRows = Math.max(1, opts.rowGroupRows ?? 1 << 20);
  const file = new ByteSink(1 << 20);
  const page = new ByteSink(1 << 16);
  file.bytes(MAGIC);
  const groups: { chunks: ChunkMeta[]; rows: number; bytes: number; offset: number }[] = [];
  for (let r0 = 0; r0 < rows || (rows === 0 && groups.length === 0); r0 += groupRows) {
    const r1 = Math.min(rows, r0 + groupRows);
    const offset = file.length;
    const chunks = schema.map((spec, i) => writeChunk(file, page, spec, columns[i]!, r0, r1, codec));
    groups.push({ chunks, rows: r1 - r0, bytes: chunks.reduce((s, c) => s + c.uncompressed, 0), offset });
    if (rows === 0) break;
  }
  const footer = new ThriftWriter();
  footer
    .i32(1, 1)
    .listStruct(2, [undefined, ...schema], (w, spec) => {
      if (spec === undefined) {
        w.binary(4, 'schema').i32(5, schema.length);
        return;
      }
      w.i32(1, TYPE_CODE[spec.type]).i32(3, 1 /* OPTIONAL */).binary(4, spec.name).i32(6, CONVERTED[spec.type]);
      if (spec.type === 'string') w.struct(10, (l) => l.struct(1, () => {}));
    })
    .i64(3, rows)
    .listStruct(4, groups, (w, g) => {
      w.listStruct(1, g.chunks, (cw, c) => {
        cw.i64(2, c.dictionaryPageOffset ?? c.dataPageOffset).struct(3, (m) => columnMeta(m, c, codec));
      });
      w.i64(2, g.bytes).i64(3, g.rows).i64(5, g.offset).i64(6, g.chunks.reduce((s, c) => s + c.compressed, 0));
    });
  if (opts.keyValue !== undefined) {
    footer.listStruct(5, Object.entries(opts.keyValue), (w, [k, v]) => w.binary(1, k).binary(2, v));
  }
  footer.binary(6, 'flowcut');
  const meta = footer.end();
  file.bytes(meta);
  file.int32(meta.length);
  file.bytes(MAGIC);
  return file.toBytes();
}

function columnMeta(m: ThriftWriter, c: ChunkMeta, codec: Codec): void {
  m.i32(1, TYPE_CODE[c.type])
    .listI32(2, c.encodings)
    .listBinary(3, [c.name])
    .i32(4, CODEC_CODE[codec])
    .i64(5, c.numValues)
    .i64(6, c.uncompressed)
    .i64(7, c.compressed)
    .i64(9, c.dataPageOffset);
  if (c.dictionaryPageOffset !== undefined) m.i64(11, c.dictionaryPageOffset);
  m.struct(12, (s) => {
    s.i64(3, c.nullCount);
    if (c.type !== 'string' && c.nullCount < c.numValues) {
      const max = plainNumber(c.type, c.max), min = plainNumber(c.type, c.min);
      s.binary(5, max).binary(6, min);
    }
  });
}

function plainNumber(type: PhysicalType, v: number): Uint8Array {
  const b = new ByteSink(8);
  if (type === 'int32') b.int32(v);
  else b.int64(v);
  return b.toBytes();
}

function compress(codec: Codec, body: Uint8Array): Uint8Array {
  if (codec === 'snappy') return snappyCompress(body);
  if (codec === 'gzip') return gzipSync(body, { level: 6 });
  return body;
}

function writePage(file: ByteSink, type: number, body: Uint8Array, codec: Codec, header: (w: ThriftWriter) => void): { uncompressed: number; compressed: number } {
  const data = compress(codec, body);
  const h = new ThriftWriter();
  h.i32(1, type).i32(2, body.length).i32(3, data.length);
  header(h);
  const hb = h.end();
  file.bytes(hb);
  file.bytes(data);
  return { uncompressed: hb.length + body.length, compressed: hb.length + data.length };
}

/** Dictionary indices, or undefined when a dictionary would not pay (too many distinct values). */
interface Dict {
  indices: Int32Array;
  count: number;
  values: (number | string)[];
}

function writeChunk(file: ByteSink, page: ByteSink, spec: ColumnSpec, col: ColumnValues, r0: number, r1: number, codec: Codec): ChunkMeta {
  const n = r1 - r0;
  const meta: ChunkMeta = {
    type: spec.type, name: spec.name, encodings: [ENC_RLE], numValues: n, uncompressed: 0, compressed: 0,
    dataPageOffset: 0, dictionaryPageOffset: undefined, nullCount: 0, min: Infinity, max: -Infinity,
  };
  page.reset();
  // Definition levels: 4-byte length, then RLE runs of 0 (null) and 1 (present).
  const lenAt = page.length;
  page.int32(0);
  const allNull = col.numbers === undefined && col.strings === undefined;
  if (allNull && n > 0) rleRun(page, n, 0);
  const nulls = allNull ? n : spec.type === 'string' ? stringLevels(page, col.strings!, r0, r1) : numberLevels(page, col.numbers!, r0, r1, meta);
  page.view.setInt32(lenAt, page.length - lenAt - 4, true);
  meta.nullCount = nulls;
  const present = n - nulls;

  const dict = present === 0 ? undefined : spec.type === 'string' ? stringDict(col.strings!, r0, r1, present) : numberDict(col.numbers!, r0, r1, present);
  if (dict !== undefined) {
    const dpage = new ByteSink(1024);
    for (const v of dict.values) {
      if (spec.type === 'string') {
        const at = dpage.length;
        dpage.int32(0);
        const len = dpage.utf8(v as string); // may grow the buffer: take the view after it
        dpage.view.setInt32(at, len, true);
      } else if (spec.type === 'int32') dpage.int32(v as number);
      else dpage.int64(v as number);
    }
    meta.dictionaryPageOffset = file.length;
    const d = writePage(file, PAGE_DICTIONARY, dpage.toBytes(), codec, (h) => h.struct(7, (x) => x.i32(1, dict.values.length).i32(2, ENC_PLAIN)));
    meta.uncompressed += d.uncompressed;
    meta.compressed += d.compressed;
    writeIndices(page, dict.indices, dict.count, dict.values.length);
    meta.encodings.push(ENC_PLAIN, ENC_RLE_DICTIONARY);
  } else {
    if (present > 0 && spec.type === 'string') plainStrings(page, col.strings!, r0, r1);
    else if (present > 0) plainNumbers(page, spec.type, col.numbers!, r0, r1);
    meta.encodings.push(ENC_PLAIN);
  }
  meta.dataPageOffset = file.length;
  const encoding = dict !== undefined ? ENC_RLE_DICTIONARY : ENC_PLAIN;
  const p = writePage(file, PAGE_DATA, page.toBytes(), codec, (h) =>
    h.struct(5, (x) => x.i32(1, n).i32(2, encoding).i32(3, ENC_RLE).i32(4, ENC_RLE)),
  );
  meta.uncompressed += p.uncompressed;
  meta.compressed += p.compressed;
  return meta;
}

function rleRun(page: ByteSink, count: number, value: number): void {
  page.varint(count * 2);
  page.byte(value);
}

function numberLevels(page: ByteSink, v: Float64Array, r0: number, r1: number, meta: ChunkMeta): number {
  let nulls = 0, runValue = -1, run = 0, min = Infinity, max = -Infinity;
  for (let r = r0; r < r1; r++) {
    const x = v[r]!;
    const level = x === x ? 1 : 0;
    if (level === 0) nulls++;
    else {
      if (x < min) min = x;
      if (x > max) max = x;
    }
    if (level === runValue) run++;
    else {
      if (run > 0) rleRun(page, run, runValue);
      runValue = level;
      run = 1;
    }
  }
  if (run > 0) rleRun(page, run, runValue);
  meta.min = min;
  meta.max = max;
  return nulls;
}

function stringLevels(page: ByteSink, v: readonly (string | null)[], r0: number, r1: number): number {
  let nulls = 0, runValue = -1, run = 0;
  for (let r = r0; r < r1; r++) {
    const level = v[r] === null || v[r] === undefined ? 0 : 1;
    nulls += 1 - level;
    if (level === runValue) run++;
    else {
      if (run > 0) rleRun(page, run, runValue);
      runValue = level;
      run = 1;
    }
  }
  if (run > 0) rleRun(page, run, runValue);
  return nulls;
}

function stringDict(v: readonly (string | null)[], r0: number, r1: number, present: number): Dict {
  const map = new Map<string, number>();
  const values: string[] = [];
  const indices = new Int32Array(present);
  let k = 0;
  for (let r = r0; r < r1; r++) {
    const s = v[r];
    if (s === null || s === undefined) continue;
    let i = map.get(s);
    if (i === undefined) {
      i = values.length;
      map.set(s, i);
      values.push(s);
    }
    indices[k++] = i;
  }
  return { indices, count: k, values };
}

/** A dictionary for numbers only pays while distinct values stay a small share of the rows. */
function numberDict(v: Float64Array, r0: number, r1: number, present: number): Dict | undefined {
  const limit = Math.max(16, present >>> 2);
  const map = new Map<number, number>();
  const values: number[] = [];
  const indices = new Int32Array(present);
  let k = 0;
  for (let r = r0; r < r1; r++) {
    const x = v[r]!;
    if (x !== x) continue;
    let i = map.get(x);
    if (i === undefined) {
      i = values.length;
      if (i >= limit) return undefined;
      map.set(x, i);
      values.push(x);
    }
    indices[k++] = i;
  }
  return { indices, count: k, values };
}

/** Bit width, then one RLE run when every index is the same, else one bit-packed run. */
function writeIndices(page: ByteSink, idx: Int32Array, n: number, dictSize: number): void {
  const width = Math.max(1, 32 - Math.clz32(dictSize - 1));
  page.byte(width);
  let constant = true;
  for (let i = 1; i < n && constant; i++) if (idx[i] !== idx[0]) constant = false;
  if (constant) {
    page.varint(n * 2);
    const v = n > 0 ? idx[0]! : 0;
    for (let b = 0; b < Math.ceil(width / 8); b++) page.byte((v >>> (8 * b)) & 0xff);
    return;
  }
  const groups = Math.ceil(n / 8);
  page.varint(groups * 2 + 1);
  const total = groups * width;
  page.ensure(total);
  const buf = page.buf;
  let p = page.length;
  const end = p + total;
  let acc = 0, bits = 0;
  for (let i = 0; i < n; i++) {
    acc |= idx[i]! << bits;
    bits += width;
    while (bits >= 8) {
      buf[p++] = acc & 0xff;
      acc >>>= 8;
      bits -= 8;
    }
  }
  if (bits > 0) buf[p++] = acc & 0xff;
  while (p < end) buf[p++] = 0;
  page.length = end;
}

function plainNumbers(page: ByteSink, type: PhysicalType, v: Float64Array, r0: number, r1: number): void {
  page.ensure((r1 - r0) * 8);
  for (let r = r0; r < r1; r++) {
    const x = v[r]!;
    if (x !== x) continue;
    if (type === 'int32') page.int32(x);
    else page.int64(x);
  }
}

function plainStrings(page: ByteSink, v: readonly (string | null)[], r0: number, r1: number): void {
  for (let r = r0; r < r1; r++) {
    const s = v[r];
    if (s === null || s === undefined) continue;
    const b = encoder.encode(s);
    page.int32(b.length);
    page.bytes(b);
  }
}
