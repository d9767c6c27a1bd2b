import { describe, expect, test } from 'vitest';
import { DiVector, RandomCutForest } from '../../src/rcf/index.js';
import { Random } from '../../src/rcf/random.js';

function clusterForest(seed: number): RandomCutForest {
  const f = new RandomCutForest({ dimensions: 3, numberOfTrees: 50, sampleSize: 128, seed });
  const rng = new Random(seed);
  for (let i = 0; i < 600; i++) f.update([rng.nextDouble(), rng.nextDouble() * 2, 10 + rng.nextDouble()]);
  return f;
}

describe('attribution (DiVector)', () => {
  test('sums to the score for outliers, inliers, duplicates of sampled points and during warm-up', () => {
    const f = clusterForest(3);
    const rng = new Random(4);
    const sampled = f.store.offset(f.samplers[0]!.points[0]!);
    const stored = Array.from(f.store.values.subarray(sampled, sampled + 3)); // a sampled point: duplicate path
    const queries = [[5, 1, 10.5], [0.5, 1, 10.5], stored, [-3, 9, -2]];
    for (let i = 0; i < 50; i++) queries.push([rng.nextDouble() * 4 - 1, rng.nextDouble() * 4 - 1, 9 + rng.nextDouble() * 3]);
    for (const q of queries) {
      const s = f.score(q);
      expect(s).toBeGreaterThan(0);
      expect(Math.abs(f.attribution(q).total() - s)).toBeLessThan(1e-9);
    }
    const fresh = new RandomCutForest({ dimensions: 3, seed: 1 });
    fresh.update([1, 2, 3]);
    expect(fresh.score([9, 9, 9])).toBe(0);
    expect(fresh.attribution([9, 9, 9]).total()).toBe(0);
  });

  test('points far out in one dimension are attributed to it, with the right direction', () => {
    const f = clusterForest(5);
    const high0 = f.attribution([8, 1, 10.5]);
    expect(high0.high[0]!).toBeGreaterThan(0.9 * high0.total());
    const low1 = f.attribution([0.5, -6, 10.5]);
    expect(low1.low[1]!).toBeGreaterThan(0.9 * low1.total());
    expect(low1.high[1]!).toBeLessThan(0.01 * low1.total());
    // Two dimensions out by similar relative amounts share the attribution.
    const both = f.attribution([0.5, 7, 5]);
    expect(both.high[1]!).toBeGreaterThan(0.25 * both.total());
    expect(both.low[2]!).toBeGreaterThan(0.25 * both.total());
  });

  test('folding a shingled attribution sums each base dimension over shingle positions', () => {
    const f = new RandomCutForest({ dimensions: 2, shingleSize: 3, numberOfTrees: 20, seed: 2 });
    for (let i = 0; i < 400; i++) f.update([Math.sin(i / 5), Math.cos(i / 7)]);
    const a = f.attribution([4, 0]);
    const folded = a.foldShingle(2);
    expect(folded.high[0]).toBeCloseTo(a.high[0]! + a.high[2]! + a.high[4]!, 12);
    expect(Math.abs(folded.total() - f.score([4, 0]))).toBeLessThan(1e-9);
    expect(folded.high[0]!).toBeGreaterThan(0.5 * folded.total());
  });

  test('refuses an out vector of the wrong size instead of returning a partial attribution', () => {
    const f = new RandomCutForest({ dimensions: 2, shingleSize: 3, numberOfTrees: 20, seed: 2 });
    for (let i = 0; i < 400; i++) f.update([Math.sin(i / 5), Math.cos(i / 7)]);
    expect(() => f.attribution([4, 0], new DiVector(2))).toThrow(/out has 2 dimensions; this forest's are shingled: 6/);
    const out = new DiVector(6);
    expect(f.attribution([4, 0], out).total()).toBeCloseTo(f.score([4, 0]), 9);
  });

  test('expected values refuse base dimensions that are not dimensions of the forest', () => {
    const f = new RandomCutForest({ dimensions: 2, shingleSize: 3, numberOfTrees: 20, seed: 2 });
    for (let i = 0; i < 400; i++) f.update([Math.sin(i / 5), Math.cos(i / 7)]);
    for (const bad of [2, -1, 0.5, Number.NaN]) {
      expect(() => f.expectedValues([4, 0], [bad])).toThrow(/expectedValues: base dimension .* is not an integer in 0..1/);
    }
    expect(Math.abs(f.expectedValues([4, 0], [0])[0]!)).toBeLessThan(1.5);
  });
});
