import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import { parquetMetadata, parquetReadObjects } from 'hyparquet';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { snappyCompress } from './snappy.js';
import { CODECS, encodeParquet, type Codec, type ColumnSpec } from './writer.js';

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
        const got = await parquetReadObjects({ file, compressors: { GZIP: (input: Uint8Array) => gunzipSync(input) } });
        expect(got.map((r) => ({ a: r.a ?? null, b: r.b === null || r.b === undefined ? null : Number(r.b), s: r.s ?? null }))).toEqual(rows);
      }),
      { numRuns: 40 },
    );
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
});
