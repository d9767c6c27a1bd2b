import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadZstd, zstdDecompress } from '../../decode/zstd.js';
import { SeededRandom } from '../../sim/random.js';
import { snappyCompress } from './snappy.js';
import { CODECS, EncodingMemory, encodeParquet, type Codec, type ColumnSpec, type ColumnValues, type IntEncoding } from './writer.js';

/** Snappy's decoder from hyparquet: an independent implementation to check ours against. */
async function snappyRoundTrip(input: Uint8Array): Promise<Uint8Array> {
  const { snappyUncompress } = await import('hyparquet');
  const out = new Uint8Array(input.length);
  snappyUncompress(snappyCompress(input), out);
  return out;
}

const schema: ColumnSpec[] = [
  { name: 'a', type: 'int32' },
  { name: 'b', type: 'int64' },
  { name: 's', type: 'string' },
];

type Row = { a: number | null; b: number | null; s: string | null };

function columnsOf(rows: Row[]) {
  return [
    { numbers: Float64Array.from(rows, (r) => r.a ?? NaN) },
    { numbers: Float64Array.from(rows, (r) => r.b ?? NaN) },
    { strings: rows.map((r) => r.s) },
  ];
}

const rowArb = fc.record({
  a: fc.option(fc.oneof(fc.integer({ min: -5, max: 5 }), fc.integer()), { nil: null }),
  b: fc.option(fc.oneof(fc.integer({ min: 0, max: 3 }), fc.maxSafeInteger(), fc.integer({ min: -(2 ** 40), max: 2 ** 40 })), { nil: null }),
  s: fc.option(fc.oneof(fc.constantFrom('ACCEPT', 'REJECT', ''), fc.string({ unit: 'grapheme' })), { nil: null }),
});

/** Rows with long runs (of nulls, of one value) and sorted stretches, so RLE runs and deltas occur. */
const runsArb = fc
  .array(
    fc.record({
      len: fc.integer({ min: 1, max: 40 }),
      a: fc.option(fc.oneof(fc.integer({ min: -3, max: 3 }), fc.constantFrom(-(2 ** 31), 2 ** 31 - 1)), { nil: null }),
      b: fc.option(fc.oneof(fc.integer({ min: 1_767_000_000, max: 1_768_000_000 }), fc.integer({ min: -(2 ** 30), max: 2 ** 30 }), fc.maxSafeInteger(), fc.constant(-(2 ** 53) + 1)), { nil: null }),
      step: fc.integer({ min: -5, max: 1000 }),
      s: fc.option(fc.constantFrom('ACCEPT', 'REJECT', 'eni-0a1', ''), { nil: null }),
    }),
    { maxLength: 30 },
  )
  .map((runs) =>
    runs.flatMap((r) => Array.from({ length: r.len }, (_, i): Row => ({ a: r.a, b: r.b === null ? null : Math.max(Number.MIN_SAFE_INTEGER, Math.min(Number.MAX_SAFE_INTEGER, r.b + i * r.step)), s: r.s }))),
  );

/** Strings handed over dictionary-coded: indices into a value list with duplicates and nulls. */
function indexedColumns(rows: Row[]): ColumnValues[] {
  const values: (string | null)[] = [null, 'dup', 'dup'];
  const indices = Int32Array.from(rows, (r, i) => {
    if (r.s === null) return i % 2 === 0 ? -1 : 0;
    if (r.s === 'dup') return 1 + (i % 2);
    values.push(r.s);
    return values.length - 1;
  });
  const [a, b] = columnsOf(rows);
  return [a!, b!, { indices, values }];
}

/** hyparquet reads SNAPPY itself; the others come from zlib and zstd's own library. */
const compressors = {
  GZIP: (input: Uint8Array) => gunzipSync(input),
  ZSTD: (input: Uint8Array, outputLength: number) => zstdDecompress(input, outputLength),
};

beforeAll(loadZstd);

async function readBack(bytes: Uint8Array): Promise<Row[]> {
  const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
  const got = await parquetReadObjects({ file, compressors });
  return got.map((r) => ({ a: r.a ?? null, b: r.b === null || r.b === undefined ? null : Number(r.b), s: r.s ?? null }));
}

const FORCED: (readonly IntEncoding[])[] = [['dictionary'], ['delta'], ['plain'], ['dictionary', 'delta', 'plain']];

describe('snappy', () => {
  it('round-trips through an independent decoder', async () => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.constantFrom(...'abcab '), { maxLength: 200_000 }).map((a) => new TextEncoder().encode(a.join('')))), async (input) => {
        expect(await snappyRoundTrip(input)).toEqual(input);
      }),
      { numRuns: 60 },
    );
  });
});

describe('encodeParquet', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowcut-pq-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.each(CODECS)('hyparquet reads back exactly what was written (%s)', async (codec: Codec) => {
    await fc.assert(
      fc.asyncProperty(fc.array(rowArb, { maxLength: 300 }), fc.integer({ min: 1, max: 64 }), async (rows, groupRows) => {
        const bytes = encodeParquet(schema, columnsOf(rows), rows.length, { codec, rowGroupRows: groupRows, keyValue: { k: 'v' } });
        const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
        const meta = parquetMetadata(file);
        expect(Number(meta.num_rows)).toBe(rows.length);
        expect(meta.key_value_metadata).toEqual([{ key: 'k', value: 'v' }]);
        const got = await parquetReadObjects({ file, compressors });
        expect(got.map((r) => ({ a: r.a ?? null, b: r.b === null || r.b === undefined ? null : Number(r.b), s: r.s ?? null }))).toEqual(rows);
      }),
      { numRuns: 40 },
    );
  });

  it.each(FORCED.map((e) => [e.join('+'), e] as const))('hyparquet reads back runs, deltas and dictionary-coded strings (%s)', async (_name, intEncodings) => {
    await fc.assert(
      fc.asyncProperty(fc.oneof(runsArb, fc.array(rowArb, { maxLength: 200 })), fc.integer({ min: 1, max: 400 }), fc.constantFrom(...CODECS), fc.boolean(), async (rows, groupRows, codec, indexed) => {
        const columns = indexed ? indexedColumns(rows) : columnsOf(rows);
        const bytes = encodeParquet(schema, columns, rows.length, { codec, rowGroupRows: groupRows, intEncodings });
        expect(await readBack(bytes)).toEqual(rows);
      }),
      { numRuns: 60 },
    );
  });

  it('uses DELTA_BINARY_PACKED and RLE runs where they pay; an all-null column costs a few bytes', () => {
    const n = 100_000;
    const rows: Row[] = Array.from({ length: n }, (_, i) => ({ a: null, b: 1_767_225_600 + Math.floor(i / 7), s: i < n / 2 ? 'ACCEPT' : null }));
    const bytes = encodeParquet(schema, columnsOf(rows), n, { codec: 'none' });
    const meta = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
    const [a, b, s] = meta.row_groups[0]!.columns.map((c) => c.meta_data!);
    expect(b!.encodings).toContain('DELTA_BINARY_PACKED');
    expect(Number(b!.total_compressed_size)).toBeLessThan(n / 4);
    expect(Number(a!.total_compressed_size)).toBeLessThan(64);
    expect(s!.encodings).toContain('RLE_DICTIONARY');
    expect(Number(s!.total_compressed_size)).toBeLessThan(100);
  });

  it('DuckDB reads types, nulls, dictionaries and statistics', async () => {
    const rows: Row[] = Array.from({ length: 50_000 }, (_, i) => ({
      a: i % 97 === 0 ? null : i % 7,
      b: i % 3 === 0 ? null : 1_767_225_600_000 + i * 1000,
      s: i % 11 === 0 ? null : `eni-${i % 1300}`,
    }));
    const path = join(dir, 'd.parquet');
    await writeFile(path, encodeParquet(schema, columnsOf(rows), rows.length, { rowGroupRows: 20_000 }));
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    const types = (await c.runAndReadAll(`DESCRIBE SELECT * FROM read_parquet('${path}')`)).getRowObjectsJson();
    expect(types.map((t) => [t.column_name, t.column_type])).toEqual([['a', 'INTEGER'], ['b', 'BIGINT'], ['s', 'VARCHAR']]);
    const agg = (await c.runAndReadAll(`SELECT count(*) n, count(a) na, sum(a)::BIGINT sa, count(b) nb, max(b) mb, count(s) ns, count(DISTINCT s) ds FROM read_parquet('${path}')`)).getRowObjectsJson()[0]!;
    const expected = {
      n: rows.length,
      na: rows.filter((r) => r.a !== null).length,
      sa: rows.reduce((s, r) => s + (r.a ?? 0), 0),
      nb: rows.filter((r) => r.b !== null).length,
      mb: Math.max(...rows.map((r) => r.b ?? 0)),
      ns: rows.filter((r) => r.s !== null).length,
      ds: 1300,
    };
    expect(Object.fromEntries(Object.entries(agg).map(([k, v]) => [k, Number(v)]))).toEqual(expected);
    const stats = (await c.runAndReadAll(`SELECT row_group_id, stats_min_value, stats_max_value FROM parquet_metadata('${path}') WHERE path_in_schema = 'b' ORDER BY 1`)).getRowObjectsJson();
    expect(stats.map((s) => [s.stats_min_value, s.stats_max_value])).toEqual([
      [String(1_767_225_600_000 + 1000), String(1_767_225_600_000 + 19_999 * 1000)],
      [String(1_767_225_600_000 + 20_000 * 1000), String(1_767_225_600_000 + 39_998 * 1000)],
      [String(1_767_225_600_000 + 40_000 * 1000), String(1_767_225_600_000 + 49_999 * 1000)],
    ]);
    c.closeSync();
  });

  it('DuckDB reads every integer encoding and dictionary-coded strings back exactly', async () => {
    // Runs of nulls and of values, sorted stretches, random stretches, int32 and int64 extremes.
    const rows = fc.sample(runsArb, { numRuns: 40, seed: 11 }).flat();
    rows.push({ a: 2 ** 31 - 1, b: Number.MAX_SAFE_INTEGER, s: 'x' }, { a: -(2 ** 31), b: -Number.MAX_SAFE_INTEGER, s: null });
    const db = await DuckDBInstance.create(':memory:');
    const c = await db.connect();
    for (const intEncodings of FORCED) {
      for (const [indexed, codec] of [[false, 'snappy'], [true, 'snappy'], [false, 'zstd'], [true, 'zstd']] as const) {
        const path = join(dir, `e-${intEncodings.join('')}-${indexed}-${codec}.parquet`);
        await writeFile(path, encodeParquet(schema, indexed ? indexedColumns(rows) : columnsOf(rows), rows.length, { rowGroupRows: 500, intEncodings, codec }));
        const got = (await c.runAndReadAll(`SELECT a, b::VARCHAR b, s FROM read_parquet('${path}', file_row_number = true) ORDER BY file_row_number`)).getRowsJS();
        expect(got.map(([a, b, s]) => ({ a: a ?? null, b: b === null ? null : Number(b), s: s ?? null }))).toEqual(rows);
      }
    }
    c.closeSync();
  });

  it('under zstd, picks for each column the encoding that compresses smallest', () => {
    // Columns where each encoding wins once: ephemeral ports beside a few service ports (PLAIN
    // compresses best), times rising with jitter (deltas), 50 distinct large values (a dictionary).
    const n = 200_000;
    const random = new SeededRandom(7);
    const rnd = (): number => random.next();
    const ports = Float64Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 32_768 + Math.floor(rnd() * 28_000) : [443, 5432, 8080][i % 3]!));
    const times = Float64Array.from({ length: n }, (_, i) => 1_767_225_600 + Math.floor(i / 200) + Math.floor(rnd() * 20));
    const few = Array.from({ length: 50 }, () => Math.floor(rnd() * 2 ** 40));
    const counts = Float64Array.from({ length: n }, () => few[Math.floor(rnd() * few.length)]!);
    const specs: ColumnSpec[] = [{ name: 'p', type: 'int32' }, { name: 't', type: 'int64' }, { name: 'c', type: 'int64' }];
    const cols: ColumnValues[] = [{ numbers: ports }, { numbers: times }, { numbers: counts }];
    const sizeOf = (c: number, intEncodings?: readonly IntEncoding[]): number => {
      const bytes = encodeParquet([specs[c]!], [cols[c]!], n, { codec: 'zstd', ...(intEncodings ? { intEncodings } : {}) });
      const meta = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      return Number(meta.row_groups[0]!.columns[0]!.meta_data!.total_compressed_size);
    };
    for (let c = 0; c < specs.length; c++) {
      const forced = (['dictionary', 'delta', 'plain'] as const).map((e) => sizeOf(c, [e]));
      const best = Math.min(...forced), worst = Math.max(...forced);
      // The choice comes from a sample: within 3% of the best, and the encodings differ by more.
      expect(sizeOf(c)).toBeLessThanOrEqual(best * 1.03);
      expect(forced.indexOf(best)).toBe(c === 0 ? 2 : c === 1 ? 1 : 0);
      expect(worst).toBeGreaterThan(best * 1.2);
    }
  });

  it('refuses a ZSTD level outside 1–22', () => {
    expect(() => encodeParquet(schema, columnsOf([]), 0, { codec: 'zstd', level: 0 })).toThrow(/ZSTD level/);
    expect(() => encodeParquet(schema, columnsOf([]), 0, { codec: 'zstd', level: 23 })).toThrow(/ZSTD level/);
  });

  it("with an EncodingMemory, a column keeps its last trial's winner for the next files, then is tried again", () => {
    const n = 50_000;
    const random = new SeededRandom(3);
    const ports = Float64Array.from({ length: n }, (_, i) => (i % 2 === 0 ? 32_768 + random.int(0, 28_000) : 443));
    const times = Float64Array.from({ length: n }, (_, i) => 1_767_225_600 + Math.floor(i / 200) + random.int(0, 19));
    const encodingOf = (values: Float64Array, memory?: EncodingMemory, name = 'x'): string => {
      const bytes = encodeParquet([{ name, type: 'int64' }], [{ numbers: values }], n, { codec: 'zstd', ...(memory ? { memory } : {}) });
      const meta = parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer);
      return meta.row_groups[0]!.columns[0]!.meta_data!.encodings.filter((e) => e !== 'RLE').join(',');
    };
    expect(encodingOf(ports)).toBe('PLAIN');
    expect(encodingOf(times)).toBe('DELTA_BINARY_PACKED');
    const memory = new EncodingMemory(3);
    expect(encodingOf(ports, memory)).toBe('PLAIN');
    // Times written the way ports won, for retryEvery files; then tried again.
    expect([1, 2, 3, 4, 5].map(() => encodingOf(times, memory))).toEqual(['PLAIN', 'PLAIN', 'PLAIN', 'DELTA_BINARY_PACKED', 'DELTA_BINARY_PACKED']);
    // The memory is per column name: another column is tried on its own.
    expect(encodingOf(ports, memory)).toBe('DELTA_BINARY_PACKED');
    expect(encodingOf(ports, memory, 'y')).toBe('PLAIN');
  });

  it('gives a column a stronger ZSTD level only where the sample shows it saves 5%', async () => {
    const n = 100_000;
    const random = new SeededRandom(5);
    // Client addresses of request/response pairs (the stronger search finds the repeats), and
    // uniformly random 32-bit values (nothing to find at any level).
    const clients = Array.from({ length: n }, (_, i) => (i % 2 === 0 ? `${random.pick(['203.0.113.', '198.51.100.', '192.0.2.'])}${random.int(1, 254)}` : '10.0.1.10'));
    const noise = Float64Array.from({ length: n }, () => random.int(0, 2 ** 31 - 1));
    const memory = new EncodingMemory();
    const bytes = encodeParquet([{ name: 'srcaddr', type: 'string' }, { name: 'noise', type: 'int32' }], [{ strings: clients }, { numbers: noise }], n, { codec: 'zstd', level: 2, memory });
    expect(memory.recall('srcaddr')?.level).toBe(6);
    expect(memory.recall('noise')?.level).toBe(2);
    const fixed = new EncodingMemory();
    encodeParquet([{ name: 'srcaddr', type: 'string' }], [{ strings: clients }], n, { codec: 'zstd', level: 2, memory: fixed, strongerLevels: false });
    expect(fixed.recall('srcaddr')).toBeUndefined();
    // Pages of two levels in one file read back exactly.
    const got = await parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer, compressors });
    expect(got.map((r) => r.srcaddr)).toEqual(clients);
    expect(Float64Array.from(got, (r) => Number(r.noise))).toEqual(noise);
  });
});

