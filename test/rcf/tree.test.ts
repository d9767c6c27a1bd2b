import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { RandomCutForest } from '../../src/rcf/forest.js';
import { floorToFloat32 } from '../../src/rcf/tree.js';
import { storeProblems, treeProblems } from './helpers.js';

describe('tree invariants under insert/delete', () => {
  test('masses, cuts, tight boxes, box caching and samples stay consistent (property)', () => {
    // Values on a coarse grid so duplicates (leaf mass > 1) are frequent.
    const point = (dims: number) => fc.array(fc.integer({ min: -6, max: 6 }), { minLength: dims, maxLength: dims });
    const scenario = fc.integer({ min: 1, max: 3 }).chain((dims) =>
      fc.record({
        dims: fc.constant(dims),
        sampleSize: fc.integer({ min: 2, max: 24 }),
        minMass: fc.integer({ min: 2, max: 7 }),
        timeDecay: fc.constantFrom(0, 5, 50),
        seed: fc.integer({ min: 0, max: 1000 }),
        points: fc.array(point(dims), { minLength: 1, maxLength: 300 }),
      }),
    );
    fc.assert(
      fc.property(scenario, (s) => {
        const f = new RandomCutForest({
          dimensions: s.dims,
          numberOfTrees: 3,
          sampleSize: s.sampleSize,
          timeDecay: s.timeDecay,
          seed: s.seed,
          boxCacheMinMass: s.minMass,
        });
        s.points.forEach((p, i) => {
          f.update(p.map((v) => v * 0.5));
          if (i % 37 === 0 || i === s.points.length - 1) {
            const problems = [0, 1, 2].flatMap((t) => treeProblems(f, t)).concat(storeProblems(f));
            expect(problems).toEqual([]);
          }
        });
      }),
      { numRuns: 150 },
    );
  });

  test('a long stream with decay keeps every tree valid and the store bounded', () => {
    const f = new RandomCutForest({ dimensions: 2, shingleSize: 3, numberOfTrees: 5, sampleSize: 64, timeDecay: 200, seed: 9 });
    for (let i = 0; i < 5000; i++) f.update([Math.sin(i / 10) + (i % 7) * 0.01, Math.round(Math.cos(i / 13) * 4)]);
    for (let t = 0; t < 5; t++) expect(treeProblems(f, t)).toEqual([]);
    expect(storeProblems(f)).toEqual([]);
    expect(f.store.size).toBeLessThanOrEqual(5 * 64);
    // Rows, not just live points: at most every live point's whole shingle plus an eighth, not 5000 inputs.
    expect(f.store.capacity).toBeLessThanOrEqual(Math.ceil((5 * 64 + 2) * 3 * 1.125) + 16);
  });

  test('without decay the store does not compact on every point once the samples hold distinct points', () => {
    // Shingle 1, uniform reservoirs: live points approach trees × sample size, the store's bound.
    const f = new RandomCutForest({ dimensions: 1, numberOfTrees: 4, sampleSize: 16, timeDecay: 0, seed: 3 });
    let compactions = 0;
    const remap = f.store.onCompact;
    f.store.onCompact = (map) => {
      compactions++;
      remap(map);
    };
    for (let i = 0; i < 20000; i++) f.update([i * 0.001]);
    expect(storeProblems(f)).toEqual([]);
    // A compaction leaves at least an eighth of the rows free, so at most one per ~8 points here.
    expect(compactions).toBeLessThan(20000 / 6);
  });

  test('a value beyond the float32 range is refused, not stored as an infinity', () => {
    const f = new RandomCutForest({ dimensions: 2, numberOfTrees: 2, sampleSize: 8, seed: 1 });
    expect(() => f.update([0, 1e39])).toThrow(/float32 range/);
    expect(() => f.score([-4e38, 0])).toThrow(/float32 range/);
    f.update([0, 3.4e38]);
    expect(f.pointsSeen).toBe(1);
  });

  test('a seed beyond 32 bits is refused rather than wrapped onto another seed', () => {
    for (const seed of [2 ** 32, 2 ** 60, -(2 ** 31) - 1, 1.5]) {
      expect(() => new RandomCutForest({ dimensions: 1, seed }), String(seed)).toThrow(/seed must be an integer in \[-2147483648, 4294967295\]/);
    }
    const a = new RandomCutForest({ dimensions: 1, seed: 2 ** 32 - 1, numberOfTrees: 5 });
    const b = new RandomCutForest({ dimensions: 1, seed: -1, numberOfTrees: 5 });
    for (let i = 0; i < 200; i++) expect(a.scoreThenUpdate([Math.sin(i)])).toBe(b.scoreThenUpdate([Math.sin(i)]));
  });
});

describe('cuts stored as float32', () => {
  test('rounding a cut down to float32 routes every float32 value as the float64 cut does (property)', () => {
    const f32 = (v: number) => Math.fround(v);
    fc.assert(
      fc.property(fc.double({ noNaN: true }), fc.array(fc.float({ noNaN: true }), { maxLength: 20 }), (cut, xs) => {
        const stored = floorToFloat32(cut);
        expect(Math.fround(stored)).toBe(stored);
        expect(stored <= cut).toBe(true);
        // Values right around the cut are where rounding could go wrong.
        // Every float32 (infinities included), and above all those right around the cut.
        const near = [f32(cut), stored, f32(-cut), 0, -0, Infinity, -Infinity, ...xs];
        if (stored !== Infinity) near.push(nextUp32(stored));
        for (const x of near) expect(x <= stored).toBe(x <= cut);
        // Nothing between the stored cut and the real one: the next float32 up is above the cut.
        if (stored !== Infinity) expect(nextUp32(stored) > cut).toBe(true);
      }),
      { numRuns: 3000 },
    );
  });
});

/** The smallest float32 above `x` (x a float32, not +Infinity). */
function nextUp32(x: number): number {
  const f = new Float32Array([x]);
  const bits = new Uint32Array(f.buffer);
  if (x === 0) bits[0] = 1;
  else if (x > 0) bits[0]!++;
  else bits[0]!--;
  return f[0]!;
}
