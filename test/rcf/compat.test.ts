import { describe, expect, test } from 'vitest';
import {
  KinesisRandomCutForest,
  RandomCutForest,
  randomCutForest,
  randomCutForestWithExplanation,
} from '../../src/rcf/index.js';
import { randomWalk } from './helpers.js';

describe('Kinesis Data Analytics compatibility', () => {
  const rows = randomWalk(600, 3, 31);

  test('RANDOM_CUT_FOREST defaults (100 trees, 256, timeDecay 100000, shingle 1) and score-then-update', () => {
    const kda = randomCutForest(rows, 3, { seed: 6 });
    const forest = new RandomCutForest({ dimensions: 3, numberOfTrees: 100, sampleSize: 256, timeDecay: 100000, shingleSize: 1, seed: 6 });
    const ours = rows.map((r) => forest.scoreThenUpdate(r));
    expect(kda).toEqual(ours);
    expect(kda.slice(0, 64).every((s) => s === 0)).toBe(true);
    expect(kda[64]).toBeGreaterThan(0);
  });

  test('explanation JSON has one entry per column, the KDA shape, and sums to the score', () => {
    const columns = ['bytes', 'packets', 'flows'];
    const input = rows.map((r) => ({ bytes: r[0]!, packets: r[1]!, flows: r[2]! }));
    input.push({ bytes: 40, packets: rows[599]![1]!, flows: rows[599]![2]! });
    const out = randomCutForestWithExplanation(input, columns, { seed: 6 });
    const plain = randomCutForest(rows.concat([[40, rows[599]![1]!, rows[599]![2]!]]), 3, { seed: 6 });
    for (let i = 0; i < out.length; i++) {
      const { score, explanation } = out[i]!;
      expect(Math.abs(score - plain[i]!)).toBeLessThan(1e-9);
      const parsed = JSON.parse(explanation) as Record<string, Record<string, string>>;
      expect(Object.keys(parsed)).toEqual(columns);
      let sum = 0;
      for (const c of columns) {
        const e = parsed[c]!;
        expect(Object.keys(e)).toEqual(['DIRECTION', 'STRENGTH', 'ATTRIBUTION_SCORE']);
        expect(e.DIRECTION).toMatch(/^(HIGH|LOW)$/);
        expect(e.STRENGTH).toMatch(/^[01]\.\d{4}$/);
        expect(Number(e.STRENGTH)).toBeLessThanOrEqual(1);
        expect(e.ATTRIBUTION_SCORE).toMatch(/^\d+\.\d{4}$/);
        sum += Number(e.ATTRIBUTION_SCORE);
      }
      // Each value is rounded to 4 decimals.
      expect(Math.abs(sum - score)).toBeLessThanOrEqual(3 * 0.00005 + 1e-12);
    }
    const last = JSON.parse(out[out.length - 1]!.explanation) as Record<string, Record<string, string>>;
    expect(out[out.length - 1]!.score).toBeGreaterThan(1.5);
    expect(last.bytes!.DIRECTION).toBe('HIGH');
    expect(Number(last.bytes!.ATTRIBUTION_SCORE)).toBeGreaterThan(0.8 * out[out.length - 1]!.score);
    expect(Number(last.bytes!.STRENGTH)).toBeGreaterThan(0.8);
  });

  test('shingled explanation folds shingle positions onto columns; withDirectionality=false drops direction', () => {
    const f = new KinesisRandomCutForest(['a', 'b'], { shingleSize: 3, withDirectionality: false, numberOfTrees: 30, seed: 2 });
    let last = { score: 0, explanation: '' };
    for (let i = 0; i < 400; i++) last = f.scoreWithExplanation([Math.sin(i / 4), 1 + (i % 3)]);
    last = f.scoreWithExplanation({ a: 0, b: -20 });
    const parsed = JSON.parse(last.explanation) as Record<string, Record<string, string>>;
    expect(Object.keys(parsed.a!)).toEqual(['ATTRIBUTION_SCORE']);
    expect(Number(parsed.b!.ATTRIBUTION_SCORE)).toBeGreaterThan(Number(parsed.a!.ATTRIBUTION_SCORE));
    expect(Math.abs(Number(parsed.a!.ATTRIBUTION_SCORE) + Number(parsed.b!.ATTRIBUTION_SCORE) - last.score)).toBeLessThan(1e-4);
  });
});
