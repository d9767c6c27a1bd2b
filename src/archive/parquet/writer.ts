import { gzipSync } from 'node:zlib';
import { ByteSink } from './bytes.js';
import { snappyCompress } from './snappy.js';
import { ThriftWriter } from './thrift.js';
import { zstdCompress } from '../../decode/zstd.js';

/**
 * A Parquet encoder for flat, nullable columns of int32, int64 and strings, written straight from
 * column arrays (numbers as Float64Array with NaN for null, strings as arrays with null, or
 * strings already dictionary-coded as indices into a value list). It does what the archive needs
 * and no more: one data page (v1) per column chunk; definition levels and dictionary indices in
 * the RLE/bit-packed hybrid (runs of nulls or of one value cost a few bytes); strings dictionary
 * encoded; integers as whichever of a dictionary, DELTA_BINARY_PACKED and PLAIN comes out smaller;
 * min/max statistics on numbers so DuckDB and Athena can skip row groups; ZSTD, SNAPPY or GZIP
 * pages.
 *
 * With an entropy coder (ZSTD, GZIP) the encodings are chosen for what they compress to, not for
 * their raw size: each candidate's page is compressed on a sample and the smallest wins (PLAIN
 * ports, four bytes a value, compress to less than their bit-packed dictionary indices, in which
 * the compressor finds no byte patterns); dictionary indices are bit-packed at whole-byte widths,
 * so repeated values stay repeated bytes, and integer dictionaries are tried ordered by value and
 * by use. An EncodingMemory lets a writer's later files skip the trials.
 */

export type PhysicalType = 'int32' | 'int64' | 'string';
export const CODECS = ['zstd', 'snappy', 'gzip', 'none'] as const;
export type Codec = (typeof CODECS)[number];
/**
 * Level 2: on bench:archive's simulated day the smallest files of levels 1–7 (≈0.57× AWS's gzip
 * text, before per-column stronger levels) at about twice level 6's speed. On the labeled real
 * captures in ../shared, with stronger levels per column, level 6 is at most 2.4% smaller; for
 * --zstd-level to choose.
 */
export const DEFAULT_ZSTD_LEVEL = 2;

export interface ColumnSpec {
  readonly name: string;
  readonly type: PhysicalType;
}

/**
 * One column's values for the rows being written: `numbers` for int types; for strings either
 * `strings`, or `indices` (per row, an index into `values`, -1 for null; `values` may hold
 * duplicates and nulls). None of them means every value is null (most registry fields in most
 * files): encoded in O(1).
 */
export interface ColumnValues {
  readonly numbers?: Float64Array;
  readonly strings?: readonly (string | null)[];
  readonly indices?: Int32Array;
  readonly values?: readonly (string | null)[];
}

export interface EncodeOptions {
  readonly codec?: Codec;
  readonly rowGroupRows?: number;
  readonly keyValue?: Readonly<Record<string, string>>;
  /** Integer encodings to consider (tests force one); default all. */
  readonly intEncodings?: readonly IntEncoding[];
  /** ZSTD level (1–22, default DEFAULT_ZSTD_LEVEL); call loadZstd() before encoding ZSTD. */
  readonly level?: number;
  /** Under ZSTD or GZIP: remembers which encodings won, across the files of one writer. */
  readonly memory?: EncodingMemory;
  /** ZSTD: try each column at a stronger level too (see levelTrial); default true. */
  readonly strongerLevels?: boolean;
}

/** How pages are compressed, and what that means for choosing encodings. */
interface Packing {
  readonly codec: Codec;
  readonly level: number;
  /** ZSTD and GZIP: choose encodings by compressed size, byte-aligned dictionary indices. */
  readonly entropy: boolean;
  readonly intEncodings: readonly IntEncoding[];
  readonly memory: EncodingMemory | undefined;
  readonly strongerLevels: boolean;
}

export type IntEncoding = 'dictionary' | 'delta' | 'plain';

const TYPE_CODE: Record<PhysicalType, number> = { int32: 1, int64: 2, string: 6 };
const CONVERTED: Record<PhysicalType, number> = { string: 0 /* UTF8 */, int32: 17 /* INT_32 */, int64: 18 /* INT_64 */ };
const CODEC_CODE: Record<Codec, number> = { none: 0, snappy: 1, gzip: 2, zstd: 6 };
const ENC_PLAIN = 0;
const ENC_RLE = 3;
const ENC_DELTA_BINARY_PACKED = 5;
const ENC_RLE_DICTIONARY = 8;
const PAGE_DATA = 0;
const PAGE_DICTIONARY = 2;
const MAGIC = new Uint8Array([0x50, 0x41, 0x52, 0x31]);
const ALL_INT_ENCODINGS: readonly IntEncoding[] = ['dictionary', 'delta', 'plain'];

/** Strings: past this many distinct values (and half the rows), PLAIN instead of a dictionary. */
const MAX_STRING_DICT = 1 << 18;
/** Integers spanning less than this use a direct lookup table for their dictionary. */
const SMALL_RANGE = 1 << 16;
/** Integers with more distinct values than this never use a dictionary. */
const MAX_INT_DICT = 1 << 16;
/** Rows of a column sampled to choose its encoding under an entropy coder. */
const TRIAL_ROWS = 65_536;
/** Trials on fewer rows than this are not remembered for later files. */
const MIN_REMEMBERED_ROWS = 8_192;
/** DELTA_BINARY_PACKED layout: blocks of 128 values in 4 miniblocks of 32 (as parquet-mr). */
const DELTA_BLOCK = 128;
const DELTA_MINIBLOCKS = 4;
const DELTA_MINI = DELTA_BLOCK / DELTA_MINIBLOCKS;
/** Delta coding only for magnitudes where double arithmetic stays exact (zigzag of 2^52 deltas). */
const DELTA_MAX_ABS = 2 ** 50;

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

/** Scratch buffers reused across columns and files (encoding is synchronous). */
class Scratch {
  i32 = new Int32Array(1 << 16);
  i32b = new Int32Array(1 << 16);
  u8 = new Uint8Array(1 << 16);
  f64 = new Float64Array(1 << 16);
  table = new Int32Array(SMALL_RANGE).fill(-1);
  deltas = new Float64Array(DELTA_BLOCK);
  alt = new ByteSink(1 << 16);
  alt2 = new ByteSink(1 << 16);
  plain = new ByteSink(1 << 16);
  delta = new ByteSink(1 << 16);
  dict = new ByteSink(1 << 12);

  ints(n: number): Int32Array {
    if (this.i32.length < n) this.i32 = new Int32Array(grow(n));
    return this.i32;
  }
  ints2(n: number): Int32Array {
    if (this.i32b.length < n) this.i32b = new Int32Array(grow(n));
    return this.i32b;
  }
  bytes(n: number): Uint8Array {
    if (this.u8.length < n) this.u8 = new Uint8Array(grow(n));
    return this.u8;
  }
  floats(n: number): Float64Array {
    if (this.f64.length < n) this.f64 = new Float64Array(grow(n));
    return this.f64;
  }
}

function grow(n: number): number {
  let c = 1 << 16;
  while (c < n) c *= 2;
  return c;
}

const scratch = new Scratch();

/** Encodes `rows` rows of `columns` (parallel to `schema`) as a complete Parquet file. */
export function encodeParquet(schema: readonly ColumnSpec[], columns: readonly ColumnValues[], rows: number, opts: EncodeOptions = {}): Uint8Array {
  const codec = opts.codec ?? 'snappy';
  const groupRows = Math.max(1, opts.rowGroupRows ?? 1 << 20);
  const level = opts.level ?? DEFAULT_ZSTD_LEVEL;
  if (codec === 'zstd' && !(Number.isInteger(level) && level >= 1 && level <= 22)) throw new RangeError(`ZSTD level must be an integer from 1 to 22, got ${level}`);
  const packing: Packing = { codec, level, entropy: codec === 'zstd' || codec === 'gzip', intEncodings: opts.intEncodings ?? ALL_INT_ENCODINGS, memory: opts.memory, strongerLevels: opts.strongerLevels ?? true };
  const file = new ByteSink(1 << 20);
  const page = new ByteSink(1 << 16);
  file.bytes(MAGIC);
  const groups: { chunks: ChunkMeta[]; rows: number; bytes: number; offset: number }[] = [];
  for (let r0 = 0; r0 < rows || (rows === 0 && groups.length === 0); r0 += groupRows) {
    const r1 = Math.min(rows, r0 + groupRows);
    const offset = file.length;
    const chunks = schema.map((spec, i) => writeChunk(file, page, spec, columns[i]!, r0, r1, packing));
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

function compress(packing: Packing, body: Uint8Array, level = packing.level): Uint8Array {
  switch (packing.codec) {
    case 'zstd':
      return zstdCompress(body, level);
    case 'snappy':
      return snappyCompress(body);
    case 'gzip':
      return gzipSync(body, { level: 6 });
    case 'none':
      return body;
  }
}

/** `compressed`: the body already compressed (by an encoding trial that covered all of it). */
function writePage(file: ByteSink, type: number, body: Uint8Array, packing: Packing, header: (w: ThriftWriter) => void, compressed?: Uint8Array): { uncompressed: number; compressed: number } {
  const data = compressed ?? compress(packing, body);
  const h = new ThriftWriter();
  h.i32(1, type).i32(2, body.length).i32(3, data.length);
  header(h);
  const hb = h.end();
  file.bytes(hb);
  file.bytes(data);
  return { uncompressed: hb.length + body.length, compressed: hb.length + data.length };
}

/** A chosen dictionary: its PLAIN page body and entry count; the data page holds the indices. */
interface DictPage {
  body: Uint8Array;
  size: number;
  /** The body compressed, when a trial already did it. */
  compressed?: Uint8Array | undefined;
}

function writeChunk(file: ByteSink, page: ByteSink, spec: ColumnSpec, col: ColumnValues, r0: number, r1: number, packing: Packing): ChunkMeta {
  const n = r1 - r0;
  const meta: ChunkMeta = {
    type: spec.type, name: spec.name, encodings: [ENC_RLE], numValues: n, uncompressed: 0, compressed: 0,
    dataPageOffset: 0, dictionaryPageOffset: undefined, nullCount: 0, min: Infinity, max: -Infinity,
  };
  page.reset();
  let encoding = ENC_PLAIN;
  let dict: DictPage | undefined;
  let compressed: Uint8Array | undefined;
  let level: number | undefined;
  if (spec.type === 'string') {
    const r = col.strings === undefined && col.indices === undefined ? allNull(page, n) : stringChunk(page, spec.name, col, r0, r1, packing);
    meta.nullCount = r.nulls;
    encoding = r.encoding;
    dict = r.dict;
    compressed = r.compressed;
    level = r.level;
  } else {
    const r = col.numbers === undefined ? allNull(page, n) : numberChunk(page, spec.type, col.numbers, r0, r1, meta, packing);
    meta.nullCount = r.nulls;
    encoding = r.encoding;
    dict = r.dict;
    compressed = r.compressed;
    level = r.level;
  }
  const pk = level === undefined ? packing : { ...packing, level };
  if (dict !== undefined) {
    meta.dictionaryPageOffset = file.length;
    const size = dict.size;
    const d = writePage(file, PAGE_DICTIONARY, dict.body, pk, (h) => h.struct(7, (x) => x.i32(1, size).i32(2, ENC_PLAIN)), dict.compressed);
    meta.uncompressed += d.uncompressed;
    meta.compressed += d.compressed;
    meta.encodings.push(ENC_PLAIN);
  }
  if (!meta.encodings.includes(encoding)) meta.encodings.push(encoding);
  meta.dataPageOffset = file.length;
  const p = writePage(file, PAGE_DATA, page.toBytes(), pk, (h) => h.struct(5, (x) => x.i32(1, n).i32(2, encoding).i32(3, ENC_RLE).i32(4, ENC_RLE)), compressed);
  meta.uncompressed += p.uncompressed;
  meta.compressed += p.compressed;
  return meta;
}

interface ChunkBody {
  nulls: number;
  encoding: number;
  dict: DictPage | undefined;
  /** The whole data page compressed, when a trial already did it. */
  compressed?: Uint8Array | undefined;
  /** ZSTD level of this chunk's pages, when a trial chose another than the file's. */
  level?: number | undefined;
}

/** Definition levels of an all-null column: one RLE run of zeros, no values. */
function allNull(page: ByteSink, n: number): ChunkBody {
  page.int32(0);
  if (n > 0) rleRun(page, n, 0, 1);
  page.view.setInt32(0, page.length - 4, true);
  return { nulls: n, encoding: ENC_PLAIN, dict: undefined };
}

/** Definition levels (v1 page: 4-byte length, then the hybrid at width 1). */
function writeLevels(page: ByteSink, levels: Uint8Array, n: number, nulls: number): void {
  const at = page.length;
  page.int32(0);
  if (n > 0) {
    if (nulls === 0) rleRun(page, n, 1, 1);
    else if (nulls === n) rleRun(page, n, 0, 1);
    else hybrid(page, levels, 0, n, 1);
  }
  page.view.setInt32(at, page.length - at - 4, true);
}

// ---------------------------------------------------------------------------------------------
// Strings

function stringChunk(page: ByteSink, name: string, col: ColumnValues, r0: number, r1: number, packing: Packing): ChunkBody {
  const n = r1 - r0;
  const idx = scratch.ints(n);
  let values: string[];
  if (col.indices !== undefined) values = remapIndices(col.indices, col.values ?? [], r0, r1, idx);
  else values = dictionaryOf(col.strings!, r0, r1, idx);
  // Levels, and the present rows' indices packed to the front.
  const levels = scratch.bytes(n);
  let k = 0;
  for (let r = 0; r < n; r++) {
    const i = idx[r]!;
    if (i < 0) levels[r] = 0;
    else {
      levels[r] = 1;
      idx[k++] = i;
    }
  }
  const nulls = n - k;
  writeLevels(page, levels, n, nulls);
  if (k === 0) return { nulls, encoding: ENC_PLAIN, dict: undefined };
  if (values.length > MAX_STRING_DICT && values.length * 2 > k) {
    for (let i = 0; i < k; i++) {
      const b = encoder.encode(values[idx[i]!]!);
      page.int32(b.length);
      page.bytes(b);
    }
    return { nulls, encoding: ENC_PLAIN, dict: undefined };
  }
  const d = scratch.dict;
  d.reset();
  for (const v of values) {
    const at = d.length;
    d.int32(0);
    const len = d.utf8(v); // may grow the buffer: take the view after it
    d.view.setInt32(at, len, true);
  }
  writeIndices(page, idx, k, values.length, packing.entropy);
  const dict: DictPage = { body: d.toBytes(), size: values.length };
  if (packing.codec !== 'zstd' || !packing.strongerLevels) return { nulls, encoding: ENC_RLE_DICTIONARY, dict };
  const recalled = packing.memory?.recall(name);
  if (recalled !== undefined) return { nulls, encoding: ENC_RLE_DICTIONARY, dict, level: recalled.level };
  // The page's first TRIAL_ROWS rows' share of bytes (indices are about equally wide).
  const whole = k <= TRIAL_ROWS;
  const sample = whole ? page.toBytes() : page.buf.subarray(0, Math.ceil((page.length * TRIAL_ROWS) / k));
  const t = levelTrial(packing, sample, whole ? 1 : k / TRIAL_ROWS, dict);
  if (k >= MIN_REMEMBERED_ROWS) packing.memory?.remember(name, undefined, t.level);
  return { nulls, encoding: ENC_RLE_DICTIONARY, dict, level: t.level, compressed: whole ? t.compressed : undefined };
}

/** ZSTD levels tried for each column: the file's, and this many above it. */
const STRONGER_LEVEL_STEP = 4;

/**
 * ZSTD at the file's level, or a stronger one for this column when that saves at least 5% on
 * the sample (dictionary page included). Small pages nearly always gain (a few milliseconds
 * more); large ones only where the stronger search finds more (bench:archive: addresses and
 * bytes yes, ports no), so speed is spent where it buys bytes. Below 5% the sample misleads: on
 * that bench's dstport it promised 2.4% and the whole column came out 10% larger.
 * `scale`: whole column / sample. Sets the dictionary's compressed body for the chosen level.
 */
function levelTrial(packing: Packing, sample: Uint8Array, scale: number, dict: DictPage | undefined, base?: { compressed: Uint8Array; dict: Uint8Array | undefined }): { level: number; compressed: Uint8Array } {
  const stronger = Math.min(22, packing.level + STRONGER_LEVEL_STEP);
  const atBase = base ?? { compressed: compress(packing, sample), dict: dict === undefined ? undefined : compress(packing, dict.body) };
  const atStrong = { compressed: compress(packing, sample, stronger), dict: dict === undefined ? undefined : compress(packing, dict.body, stronger) };
  const size = (c: { compressed: Uint8Array; dict: Uint8Array | undefined }): number => c.compressed.length * scale + (c.dict?.length ?? 0);
  const win = size(atStrong) < 0.95 * size(atBase) ? { level: stronger, c: atStrong } : { level: packing.level, c: atBase };
  if (dict !== undefined) dict.compressed = win.c.dict;
  return { level: win.level, compressed: win.c.compressed };
}

/** Dictionary of raw strings: `idx[r - r0]` gets the entry (-1 for null); returns the entries. */
function dictionaryOf(v: readonly (string | null)[], r0: number, r1: number, idx: Int32Array): string[] {
  const map = new Map<string, number>();
  const values: string[] = [];
  let last: string | null | undefined, lastIndex = -1;
  for (let r = r0; r < r1; r++) {
    const s = v[r];
    if (s === null || s === undefined) {
      idx[r - r0] = -1;
      continue;
    }
    if (s !== last) {
      let i = map.get(s);
      if (i === undefined) {
        i = values.length;
        map.set(s, i);
        values.push(s);
      }
      last = s;
      lastIndex = i;
    }
    idx[r - r0] = lastIndex;
  }
  return values;
}

/**
 * Indices into a caller's value list (duplicates and nulls allowed) → a dictionary of the
 * distinct non-null values used in rows [r0, r1), in order of first use.
 */
function remapIndices(src: Int32Array, values: readonly (string | null)[], r0: number, r1: number, idx: Int32Array): string[] {
  const remap = scratch.ints2(values.length + 1);
  remap.fill(-2, 0, values.length);
  const map = new Map<string, number>();
  const out: string[] = [];
  for (let r = r0; r < r1; r++) {
    const s = src[r]!;
    if (s < 0) {
      idx[r - r0] = -1;
      continue;
    }
    let m = remap[s]!;
    if (m === -2) {
      const v = values[s];
      if (v === null || v === undefined) m = -1;
      else {
        const found = map.get(v);
        if (found !== undefined) m = found;
        else {
          m = out.length;
          map.set(v, m);
          out.push(v);
        }
      }
      remap[s] = m;
    }
    idx[r - r0] = m;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Integers

function numberChunk(page: ByteSink, type: PhysicalType, v: Float64Array, r0: number, r1: number, meta: ChunkMeta, packing: Packing): ChunkBody {
  const allowed = packing.intEncodings;
  const n = r1 - r0;
  let nulls = 0, min = Infinity, max = -Infinity;
  for (let r = r0; r < r1; r++) {
    const x = v[r]!;
    if (x !== x) nulls++;
    else {
      if (x < min) min = x;
      if (x > max) max = x;
    }
  }
  meta.min = min;
  meta.max = max;
  // Present values, packed (a view of the input when nothing is null).
  let vals: Float64Array;
  const k = n - nulls;
  if (nulls === 0) {
    vals = v.subarray(r0, r1);
    writeLevels(page, scratch.u8, n, 0);
  } else {
    const levels = scratch.bytes(n);
    vals = scratch.floats(k);
    let j = 0;
    for (let r = r0; r < r1; r++) {
      const x = v[r]!;
      if (x !== x) levels[r - r0] = 0;
      else {
        levels[r - r0] = 1;
        vals[j++] = x;
      }
    }
    writeLevels(page, levels, n, nulls);
  }
  if (k === 0) return { nulls, encoding: ENC_PLAIN, dict: undefined };
  if (packing.entropy) return numberByTrial(page, meta.name, type, vals, k, nulls, min, max, packing);
  const base = page.length;
  const elem = type === 'int32' ? 4 : 8;
  // Candidate 1: a dictionary (direct table for small ranges, a map otherwise).
  let best: { encoding: number; bytes: Uint8Array | undefined; dict: DictPage | undefined; size: number } | undefined;
  if (allowed.includes('dictionary')) {
    const d = numberDictionary(vals, k, min, max);
    if (d !== undefined) {
      const alt = scratch.alt;
      alt.reset();
      writeIndices(alt, d.indices, k, d.values.length, false);
      const body = plainValues(type, d.values);
      best = { encoding: ENC_RLE_DICTIONARY, bytes: alt.toBytes(), dict: { body, size: d.values.length }, size: alt.length + body.length };
    }
  }
  // Candidate 2: DELTA_BINARY_PACKED, straight into the page.
  if (allowed.includes('delta') && Math.abs(min) < DELTA_MAX_ABS && Math.abs(max) < DELTA_MAX_ABS && max - min < 2 ** 31) {
    deltaEncode(page, vals, k);
    const size = page.length - base;
    const beatsPlain = size <= k * elem || !allowed.includes('plain');
    if ((best === undefined || size < best.size) && beatsPlain) return { nulls, encoding: ENC_DELTA_BINARY_PACKED, dict: undefined };
    page.length = base;
  }
  if (best !== undefined && (best.size < k * elem || !allowed.includes('plain'))) {
    page.bytes(best.bytes!);
    return { nulls, encoding: best.encoding, dict: best.dict };
  }
  writePlain(page, type, vals, k);
  return { nulls, encoding: ENC_PLAIN, dict: undefined };
}

function writePlain(out: ByteSink, type: PhysicalType, vals: Float64Array | readonly number[], k: number): void {
  out.ensure(k * (type === 'int32' ? 4 : 8));
  for (let i = 0; i < k; i++) {
    if (type === 'int32') out.int32(vals[i]!);
    else out.int64(vals[i]!);
  }
}

function plainValues(type: PhysicalType, values: readonly number[]): Uint8Array {
  const body = new ByteSink(values.length * 8 + 8);
  writePlain(body, type, values, values.length);
  return body.toBytes();
}

/** The ways an integer column can be written under an entropy coder. */
export type IntChoice = 'dictionary-by-value' | 'dictionary-by-use' | 'delta' | 'plain';
const INT_CHOICES: readonly IntChoice[] = ['dictionary-by-value', 'dictionary-by-use', 'delta', 'plain'];

/**
 * What won each column's last trial (by column name), so that a writer's files mostly skip the
 * trials: a column's encoding is tried again every `retryEvery` files (the data may drift), and
 * whenever the remembered one does not apply to a file (too many distinct values, a range deltas
 * cannot hold).
 */
export class EncodingMemory {
  private readonly won = new Map<string, { choice: IntChoice | undefined; level: number; uses: number }>();
  constructor(readonly retryEvery = 16) {}

  /** The column's remembered encoding (undefined for strings: always a dictionary) and ZSTD level. */
  recall(column: string): { choice: IntChoice | undefined; level: number } | undefined {
    const w = this.won.get(column);
    if (w === undefined || w.uses >= this.retryEvery) return undefined;
    w.uses++;
    return w;
  }

  remember(column: string, choice: IntChoice | undefined, level: number): void {
    this.won.set(column, { choice, level, uses: 0 });
  }
}

/**
 * Integers under an entropy coder. Each allowed encoding is tried on the first TRIAL_ROWS rows
 * (dictionary indices against the whole column's dictionary, so widths are the real ones) and
 * compressed; the smallest estimate of the whole column (the sample's share scaled up, plus the
 * dictionary page) is written. A page no bigger than the sample is tried whole, and the winner's
 * compressed bytes are kept, so small files are not compressed twice. With an EncodingMemory,
 * a remembered winner is written without trials.
 */
function numberByTrial(page: ByteSink, name: string, type: PhysicalType, vals: Float64Array, k: number, nulls: number, min: number, max: number, packing: Packing): ChunkBody {
  const allowed = packing.intEncodings;
  type Writer = (out: ByteSink, rows: number) => void;
  interface Candidate {
    choice: IntChoice;
    encoding: number;
    sink: ByteSink;
    write: Writer;
    dict: DictPage | undefined;
  }
  let dictionary: { indices: Int32Array; values: number[] } | undefined | null = null;
  const getDictionary = (): { indices: Int32Array; values: number[] } | undefined => (dictionary === null ? (dictionary = numberDictionary(vals, k, min, max)) : dictionary);
  const make = (choice: IntChoice): Candidate | undefined => {
    switch (choice) {
      case 'dictionary-by-value':
      case 'dictionary-by-use': {
        if (!allowed.includes('dictionary')) return undefined;
        const d = getDictionary();
        if (d === undefined) return undefined;
        const full = d.indices;
        // By use: heavy-tailed counts give common values common bytes. By value: for times, a
        // row's index stays close to its neighbours', so high bytes repeat.
        const renumber = choice === 'dictionary-by-value' ? valueOrder(d.values) : useOrder(full, k, d.values.length);
        const values = new Array<number>(d.values.length);
        for (let i = 0; i < values.length; i++) values[renumber[i]!] = d.values[i]!;
        const write: Writer = (out, rows) => {
          const idx = scratch.ints2(rows);
          for (let i = 0; i < rows; i++) idx[i] = renumber[full[i]!]!;
          writeIndices(out, idx, rows, values.length, true);
        };
        const sink = choice === 'dictionary-by-value' ? scratch.alt : scratch.alt2;
        return { choice, encoding: ENC_RLE_DICTIONARY, sink, write, dict: { body: plainValues(type, values), size: values.length } };
      }
      case 'delta':
        if (!(allowed.includes('delta') && Math.abs(min) < DELTA_MAX_ABS && Math.abs(max) < DELTA_MAX_ABS && max - min < 2 ** 31)) return undefined;
        return { choice, encoding: ENC_DELTA_BINARY_PACKED, sink: scratch.delta, write: (out, rows) => deltaEncode(out, vals, rows), dict: undefined };
      case 'plain':
        return { choice, encoding: ENC_PLAIN, sink: scratch.plain, write: (out, rows) => writePlain(out, type, vals, rows), dict: undefined };
    }
  };

  const recalled = packing.memory?.recall(name);
  const known = recalled?.choice === undefined ? undefined : make(recalled.choice);
  if (known !== undefined) {
    known.write(page, k);
    return { nulls, encoding: known.encoding, dict: known.dict, level: recalled!.level };
  }

  const base = page.length;
  const m = Math.min(k, TRIAL_ROWS);
  const whole = m === k;
  const levels = page.buf.slice(0, base);
  let best: { c: Candidate; estimate: number; compressed: Uint8Array | undefined } | undefined;
  const trial = (c: Candidate): void => {
    const sink = c.sink;
    sink.reset();
    if (whole) sink.bytes(levels);
    c.write(sink, m);
    const compressed = compress(packing, sink.toBytes());
    let estimate = whole ? compressed.length : (compressed.length * k) / m;
    if (c.dict !== undefined) {
      // Whole: a dictionary is at most MAX_INT_DICT values, and a prefix of one ordered by value
      // compresses unlike the rest. The winner's is written as compressed here.
      c.dict.compressed = compress(packing, c.dict.body);
      estimate += c.dict.compressed.length;
    }
    if (best === undefined || estimate < best.estimate) best = { c, estimate, compressed };
  };
  for (const choice of INT_CHOICES) {
    if (choice === 'plain' && !allowed.includes('plain') && best !== undefined) continue;
    // One-byte indices: the order makes no difference to a compressor (see stringChunk).
    if (choice === 'dictionary-by-use' && allowed.includes('dictionary') && (getDictionary()?.values.length ?? 0) <= 256) continue;
    const c = make(choice);
    if (c !== undefined) trial(c);
  }
  const win = best!;
  let level = packing.level;
  let compressed = whole ? win.compressed : undefined;
  if (packing.codec === 'zstd' && packing.strongerLevels) {
    const t = levelTrial(packing, win.c.sink.toBytes(), whole ? 1 : k / m, win.c.dict, { compressed: win.compressed!, dict: win.c.dict?.compressed });
    level = t.level;
    if (whole) compressed = t.compressed;
  }
  // A small file's winner says little about the next big one.
  if (k >= MIN_REMEMBERED_ROWS) packing.memory?.remember(name, win.c.choice, level);
  if (whole) {
    page.reset();
    page.bytes(win.c.sink.buf.subarray(0, win.c.sink.length));
  } else win.c.write(page, k);
  return { nulls, encoding: win.c.encoding, dict: win.c.dict, compressed, level };
}

/** Dictionary of integers, or undefined when there are too many distinct values. */
function numberDictionary(vals: Float64Array, k: number, min: number, max: number): { indices: Int32Array; values: number[] } | undefined {
  const indices = scratch.ints(k);
  const values: number[] = [];
  // A dictionary only pays while distinct values stay a small share of the values.
  const limit = Math.min(MAX_INT_DICT, Math.max(16, k >>> 2));
  if (max - min < SMALL_RANGE) {
    const table = scratch.table;
    let ok = true;
    for (let i = 0; i < k; i++) {
      const off = vals[i]! - min;
      let e = table[off]!;
      if (e < 0) {
        if (values.length >= limit) {
          ok = false;
          break;
        }
        e = values.length;
        table[off] = e;
        values.push(vals[i]!);
      }
      indices[i] = e;
    }
    for (const x of values) table[x - min] = -1;
    return ok ? { indices, values } : undefined;
  }
  const map = new Map<number, number>();
  for (let i = 0; i < k; i++) {
    const x = vals[i]!;
    let e = map.get(x);
    if (e === undefined) {
      if (values.length >= limit) return undefined;
      e = values.length;
      map.set(x, e);
      values.push(x);
    }
    indices[i] = e;
  }
  return { indices, values };
}

function zigzagVarint(out: ByteSink, v: number): void {
  out.varint(v >= 0 ? v * 2 : -v * 2 - 1);
}

/**
 * DELTA_BINARY_PACKED: header (block size, miniblocks per block, count, first value), then per
 * block of 128 deltas the minimum delta, four bit widths and four miniblocks of 32 deltas minus
 * the minimum, bit-packed; the last miniblock is padded, miniblocks past the end are omitted.
 * Callers guarantee max - min < 2^31, so every residual fits 32 bits.
 */
function deltaEncode(out: ByteSink, vals: Float64Array, k: number): void {
  out.varint(DELTA_BLOCK);
  out.varint(DELTA_MINIBLOCKS);
  out.varint(k);
  zigzagVarint(out, vals[0]!);
  const deltas = scratch.deltas;
  for (let i = 1; i < k; i += DELTA_BLOCK) {
    const m = Math.min(DELTA_BLOCK, k - i);
    let minD = Infinity;
    for (let j = 0; j < m; j++) {
      const d = vals[i + j]! - vals[i + j - 1]!;
      deltas[j] = d;
      if (d < minD) minD = d;
    }
    for (let j = m; j < DELTA_BLOCK; j++) deltas[j] = minD;
    zigzagVarint(out, minD);
    out.ensure(DELTA_MINIBLOCKS + DELTA_BLOCK * 4);
    const widthsAt = out.length;
    out.length += DELTA_MINIBLOCKS;
    for (let b = 0; b < DELTA_MINIBLOCKS; b++) {
      const s = b * DELTA_MINI;
      if (s >= m) {
        out.buf[widthsAt + b] = 0;
        continue;
      }
      let maxR = 0;
      for (let j = s; j < s + DELTA_MINI; j++) {
        const r = deltas[j]! - minD;
        deltas[j] = r;
        if (r > maxR) maxR = r;
      }
      const width = maxR === 0 ? 0 : 32 - Math.clz32(maxR >>> 0);
      out.buf[widthsAt + b] = width;
      if (width > 0) packFloats(out, deltas, s, DELTA_MINI, width);
    }
  }
}

/** Bit-packs `count` non-negative values below 2^width (width ≤ 32), LSB first. */
function packFloats(out: ByteSink, a: Float64Array, from: number, count: number, width: number): void {
  const bytes = Math.ceil((count * width) / 8);
  out.ensure(bytes);
  const buf = out.buf;
  let p = out.length;
  if (width <= 24) {
    let acc = 0, bits = 0;
    for (let i = from; i < from + count; i++) {
      acc |= a[i]! << bits;
      bits += width;
      while (bits >= 8) {
        buf[p++] = acc & 0xff;
        acc >>>= 8;
        bits -= 8;
      }
    }
    if (bits > 0) buf[p++] = acc & 0xff;
  } else {
    let acc = 0, bits = 0; // acc < 2^(7 + 32): exact in a double
    for (let i = from; i < from + count; i++) {
      acc += a[i]! * 2 ** bits;
      bits += width;
      while (bits >= 8) {
        const byte = acc % 256;
        buf[p++] = byte;
        acc = (acc - byte) / 256;
        bits -= 8;
      }
    }
    if (bits > 0) buf[p++] = acc;
  }
  out.length = out.length + bytes;
}

// ---------------------------------------------------------------------------------------------
// The RLE / bit-packed hybrid

/**
 * Bit width byte, then the indices in the hybrid. `aligned`: widths rounded up to whole bytes,
 * so that a compressor sees a repeated value as repeated bytes.
 */
function writeIndices(page: ByteSink, idx: Int32Array, n: number, dictSize: number, aligned: boolean): void {
  const bits = Math.max(1, 32 - Math.clz32(dictSize - 1));
  const width = aligned ? Math.ceil(bits / 8) * 8 : bits;
  page.byte(width);
  hybrid(page, idx, 0, n, width);
}

function rleRun(page: ByteSink, count: number, value: number, width: number): void {
  page.varint(count * 2);
  for (let b = 0; b < Math.ceil(width / 8); b++) page.byte((value >>> (8 * b)) & 0xff);
}

/**
 * The RLE/bit-packed hybrid of values `a[from..to)` at `width` bits (≤ 24): runs of one value long
 * enough to fill the pending bit-packed group and 8 more become RLE runs, everything else is
 * bit-packed in groups of 8 (the last group padded with zeros; readers stop at the value count).
 */
function hybrid(page: ByteSink, a: Int32Array | Uint8Array, from: number, to: number, width: number): void {
  let pend = from;
  let i = from;
  while (i < to) {
    const v = a[i]!;
    let j = i + 1;
    while (j < to && a[j] === v) j++;
    const run = j - i;
    if (run >= 8) {
      const fill = (8 - ((i - pend) & 7)) & 7;
      if (run - fill >= 8) {
        if (i + fill > pend) bitPacked(page, a, pend, i + fill, width);
        rleRun(page, run - fill, v, width);
        pend = j;
      }
    }
    i = j;
  }
  if (pend < to) bitPacked(page, a, pend, to, width);
}

function bitPacked(page: ByteSink, a: Int32Array | Uint8Array, from: number, to: number, width: number): void {
  const groups = Math.ceil((to - from) / 8);
  page.varint(groups * 2 + 1);
  const total = groups * width;
  page.ensure(total);
  const buf = page.buf;
  let p = page.length;
  const end = p + total;
  let acc = 0, bits = 0;
  for (let i = from; i < to; i++) {
    acc |= a[i]! << bits;
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

/**
 * A dictionary's renumbering by descending use (ties: first use first): under byte-aligned
 * widths the common values then get the same small, frequent bytes. `renumber[old] = new`.
 */
function useOrder(idx: Int32Array, k: number, n: number): Int32Array {
  const count = new Float64Array(n);
  for (let i = 0; i < k; i++) count[idx[i]!]!++;
  // One native numeric sort of (rows - count) * 2^21 + entry: counts descending, then entries.
  for (let e = 0; e < n; e++) count[e] = (k - count[e]!) * 2 ** 21 + e;
  count.sort();
  const renumber = new Int32Array(n);
  for (let j = 0; j < n; j++) renumber[count[j]! % 2 ** 21] = j;
  return renumber;
}

/** A dictionary of distinct numbers' renumbering in ascending order of value. `renumber[old] = new`. */
function valueOrder(values: readonly number[]): Int32Array {
  const sorted = Float64Array.from(values).sort();
  const renumber = new Int32Array(values.length);
  for (let e = 0; e < values.length; e++) {
    // Distinct values: binary search finds each one's rank.
    const v = values[e]!;
    let lo = 0, hi = sorted.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (sorted[mid]! < v) lo = mid + 1;
      else hi = mid;
    }
    renumber[e] = lo;
  }
  return renumber;
}
