import fc from 'fast-check';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadZstd, zstdCompress, zstdDecompress } from './zstd.js';

beforeAll(loadZstd);

describe('zstd', () => {
  it('round-trips any bytes at any level', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 5000 }), fc.array(fc.constantFrom(...'abcab '), { maxLength: 100_000 }).map((a) => new TextEncoder().encode(a.join('')))), fc.integer({ min: 1, max: 19 }), (input, level) => {
        expect(zstdDecompress(zstdCompress(input, level), input.length)).toEqual(input);
      }),
      { numRuns: 80 },
    );
  });

  it("inflates into exactly the page header's size: more fails, less is an error, bytes that are not zstd too", () => {
    const frame = zstdCompress(new Uint8Array(1000).fill(1), 3);
    expect(() => zstdDecompress(frame, 999)).toThrow(/corrupt or larger than its page header says/);
    expect(() => zstdDecompress(frame, 1001)).toThrow(/inflated to 1000 bytes, its page header says 1001/);
    expect(() => zstdDecompress(new TextEncoder().encode('not a zstd frame'), 16)).toThrow(/not a zstd frame/);
    expect(() => zstdDecompress(new Uint8Array([1, 2, 3]), 3)).toThrow(/not a zstd frame/);
  });

  it('inflates a page made of several frames (streaming writers emit them)', () => {
    const a = new TextEncoder().encode('srcport '.repeat(300)), b = new Uint8Array(5000).map((_, i) => i % 7);
    const page = new Uint8Array([...zstdCompress(a, 3), ...zstdCompress(b, 1)]);
    expect(zstdDecompress(page, a.length + b.length)).toEqual(new Uint8Array([...a, ...b]));
  });

  it('fails cleanly on a corrupt frame', () => {
    const frame = zstdCompress(new TextEncoder().encode('flow '.repeat(2000)), 3);
    const bad = frame.slice(0, frame.length - 4);
    expect(() => zstdDecompress(bad, 10_000)).toThrow();
    // The module still works afterwards.
    expect(zstdDecompress(frame, 10_000).length).toBe(10_000);
  });
});
