import { expect, test } from 'vitest';
import { RandomCutForest } from '../../src/rcf/index.js';
import { randomWalk } from './helpers.js';

test('internal shingling of 1-d input equals a 4-d forest fed the manually shingled points', () => {
  const xs = randomWalk(1500, 1, 11).map((r) => r[0]!);
  const common = { numberOfTrees: 30, sampleSize: 64, timeDecay: 500, seed: 42 };
  const internal = new RandomCutForest({ ...common, dimensions: 1, shingleSize: 4 });
  const manual = new RandomCutForest({ ...common, dimensions: 4 });
  let compared = 0;
  for (let i = 0; i < xs.length; i++) {
    if (i < 3) {
      expect(internal.scoreThenUpdate([xs[i]!])).toBe(0);
      continue;
    }
    const shingle = [xs[i - 3]!, xs[i - 2]!, xs[i - 1]!, xs[i]!];
    if (i % 100 === 0) {
      const ai = internal.attribution([xs[i]!]);
      const am = manual.attribution(shingle);
      expect(Array.from(ai.high)).toEqual(Array.from(am.high));
      expect(Array.from(ai.low)).toEqual(Array.from(am.low));
    }
    const a = internal.scoreThenUpdate([xs[i]!]);
    const b = manual.scoreThenUpdate(shingle);
    expect(a).toBe(b);
    if (a > 0) compared++;
  }
  expect(compared).toBeGreaterThan(1400);
  expect(internal.entriesSeen).toBe(manual.entriesSeen);
  expect(internal.pointsSeen).toBe(xs.length);
});
