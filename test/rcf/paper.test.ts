import { describe, expect, test } from 'vitest';
import { RandomCutForest } from '../../src/rcf/index.js';
import { loadPaperData } from './helpers.js';

// The 11 planted anomalies are the only rows near the origin (all others are
// near x = ±5). In the file they are lines 294, 404, ..., 2006 (1-based, the
// file has no header), i.e. these 0-based indices; the list
// (295, 405, ...) is the same rows counted as if there were a header line.
const ANOMALIES = [293, 403, 606, 942, 1054, 1091, 1162, 1559, 1693, 1959, 2005];

describe('rcf-paper.csv (100 trees, sample 256, no time decay, score then update)', () => {
  const rows = loadPaperData();

  test('the planted anomalies are exactly the rows near the origin', () => {
    const nearOrigin = rows.flatMap((r, i) => (Math.abs(r[0]!) < 1 ? [i] : []));
    expect(nearOrigin).toEqual(ANOMALIES);
  });

  for (const seed of [1, 2, 3]) {
    test(`seed ${seed}: anomalies score > 2.5, normal points < 2.0, first 64 score 0, normal median near 0.71`, () => {
      const forest = new RandomCutForest({ dimensions: 3, numberOfTrees: 100, sampleSize: 256, timeDecay: 0, seed });
      const scores = rows.map((r) => forest.scoreThenUpdate(r));
      expect(scores.slice(0, 64).every((s) => s === 0)).toBe(true);
      expect(scores[64]).toBeGreaterThan(0);
      for (const i of ANOMALIES) expect(scores[i], `row ${i}`).toBeGreaterThan(2.5);
      const normal = scores.filter((_, i) => i >= 64 && !ANOMALIES.includes(i));
      expect(Math.max(...normal)).toBeLessThan(2.0);
      const sorted = [...normal].sort((a, b) => a - b);
      const median = sorted[sorted.length >> 1]!;
      expect(median).toBeGreaterThan(0.65);
      expect(median).toBeLessThan(0.78);
    });
  }
});
