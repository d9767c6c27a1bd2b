import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { RandomCutForest } from '../../src/rcf/forest.js';
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
  });
});
