import { describe, expect, it } from 'vitest';
import { ByteSink } from '../archive/parquet/bytes.js';
import { ThriftWriter } from '../archive/parquet/thrift.js';
import { DecodeError } from './errors.js';
import { scanChunkPages } from './parquet-pages.js';

/** A chunk made of the given page headers, each followed by a 4-byte body, at offset 0. */
function chunk(headers: Uint8Array[]): { file: Uint8Array; place: { dataPageOffset: bigint; totalCompressedSize: bigint } } {
  const parts = headers.flatMap((h) => [h, new Uint8Array(4)]);
  const file = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    file.set(p, at);
    at += p.length;
  }
  return { file, place: { dataPageOffset: 0n, totalCompressedSize: BigInt(file.length) } };
}

/** A page header of `type` (0 data, 2 dictionary, 3 data v2) whose sub-header claims `values`. */
function header(type: number, values: number, extra?: (w: ThriftWriter) => void): Uint8Array {
  const w = new ThriftWriter(new ByteSink(64)).i32(1, type).i32(2, 4).i32(3, 4);
  const field = type === 0 ? 5 : type === 2 ? 7 : 8;
  w.struct(field, (s) => s.i32(1, values));
  extra?.(w);
  return w.end();
}

const scan = (headers: Uint8Array[]) => {
  const { file, place } = chunk(headers);
  return scanChunkPages(file, place, 'srcport');
};

describe('page-header scan', () => {
  it('sums data pages, dictionary and v2 pages by the type each page says it is', () => {
    expect(scan([header(2, 7), header(0, 100), header(3, 50)])).toEqual({ inflatedBytes: 12, values: 150, maxPageValues: 100 });
  });

  it('takes the count the page type names, so a stray sub-header cannot hide a larger one', () => {
    // A data page claiming 2^30 values, with a dictionary sub-header of 10 after it.
    const h = header(0, 2 ** 30, (w) => w.struct(7, (s) => s.i32(1, 10)));
    expect(scan([h]).values).toBe(2 ** 30);
  });

  it('refuses a field given twice, a count that is not an i32, and an unknown page type', () => {
    const twice = new ThriftWriter(new ByteSink(64)).i32(1, 0).i32(2, 4).i32(3, 4).struct(5, (s) => s.i32(1, 1)).i32(5, 9).end();
    expect(() => scan([twice])).toThrow(/field 5 twice/);
    // num_values as an i64 (Thrift type 6) rather than i32: field header 0x16, zigzag varint.
    const i64 = Uint8Array.of(0x15, 0x00, 0x15, 0x08, 0x15, 0x08, 0x2c, 0x16, 0x80, 0x80, 0x80, 0x80, 0x08, 0x00, 0x00);
    expect(() => scan([i64])).toThrow(/not an i32/);
    expect(() => scan([header(9 as 0, 1)])).toThrow(/page type 9/);
  });

  it('reads booleans in a map as bytes and fails fast on a map claiming 2^40 of them', () => {
    // Field 6 as map<bool,bool>: type 11, varint size 2^40, key/value type byte 0x11, then nothing.
    const size = [0x80, 0x80, 0x80, 0x80, 0x80, 0x20];
    const h = Uint8Array.of(0x15, 0x00, 0x15, 0x08, 0x15, 0x08, 0x1b, ...size, 0x11, 0x00);
    const started = Date.now();
    expect(() => scan([h])).toThrow(DecodeError);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it('refuses nesting deeper than any page header needs, with a DecodeError rather than a stack overflow', () => {
    // Field 6 as a list of lists of ... 20,000 deep.
    const deep = new Uint8Array(20_006).fill(0x19);
    deep.set([0x15, 0x00, 0x15, 0x08, 0x15, 0x08, 0x69], 0);
    expect(() => scan([deep])).toThrow(/nesting too deep/);
  });

  it('allows zero padding after the last page, and refuses a header cut short or a chunk outside the file', () => {
    const { file, place } = chunk([header(0, 5)]);
    const padded = new Uint8Array(file.length + 7);
    padded.set(file);
    expect(scanChunkPages(padded, { ...place, totalCompressedSize: BigInt(padded.length) }, 'srcport').values).toBe(5);
    const h = header(0, 5);
    expect(() => scanChunkPages(h.subarray(0, 5), { dataPageOffset: 0n, totalCompressedSize: 5n }, 'srcport')).toThrow(/cut short/);
    expect(() => scanChunkPages(file, { ...place, totalCompressedSize: BigInt(file.length + 1) }, 'srcport')).toThrow(/outside the file/);
  });
});
