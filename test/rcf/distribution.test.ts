import { expect, test } from 'vitest';
import { RandomCutForest } from '../../src/rcf/forest.js';
import { Random } from '../../src/rcf/random.js';
import { NIL } from '../../src/rcf/tree.js';

test('incremental insertion yields root cuts distributed as a random cut on the bounding box', () => {
  // Build each tree purely by insertion (sample holds every point), then check
  // that the root cut picks dimension x with probability range_x / Σ ranges and
  // that its value is uniform within the box, as for a tree built in one batch.
  const rng = new Random(77);
  const points = Array.from({ length: 40 }, () => [rng.nextDouble() * 3, rng.nextDouble()]);
  const xs = points.map((p) => Math.fround(p[0]!));
  const ys = points.map((p) => Math.fround(p[1]!));
  const rx = Math.max(...xs) - Math.min(...xs);
  const ry = Math.max(...ys) - Math.min(...ys);
  const trees = 3000;
  const f = new RandomCutForest({ dimensions: 2, numberOfTrees: trees, sampleSize: 64, timeDecay: 0, seed: 5 });
  for (const p of points) f.update(p);
  let onX = 0;
  let positionSum = 0;
  for (const t of f.trees) {
    expect(t.root).not.toBe(NIL);
    const dim = t.cutDimOf(t.root);
    const lo = dim === 0 ? Math.min(...xs) : Math.min(...ys);
    const range = dim === 0 ? rx : ry;
    if (dim === 0) onX++;
    positionSum += (t.cutValueOf(t.root) - lo) / range;
  }
  const pX = rx / (rx + ry);
  // 4 standard deviations of a binomial / of a uniform mean.
  expect(Math.abs(onX / trees - pX)).toBeLessThan(4 * Math.sqrt((pX * (1 - pX)) / trees));
  expect(Math.abs(positionSum / trees - 0.5)).toBeLessThan(4 * Math.sqrt(1 / 12 / trees));
});
