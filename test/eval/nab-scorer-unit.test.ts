import { describe, expect, it } from 'vitest';
import {
  normalise,
  optimiseThreshold,
  probationLength,
  scaledSigmoid,
  scoreCorpus,
  scoreFileAt,
  sweepFile,
  type ScoredFile,
} from '../../src/eval/nab/scorer.js';

const standard = { tpWeight: 1, fpWeight: 0.11, fnWeight: 1 };

/** 100 rows (probation 15), one window over rows 40..59. */
function file(scores: number[], windows: [number, number][] = [[40, 59]]): ScoredFile {
  const n = 100;
  const timestamps = Array.from({ length: n }, (_, i) => 1000 + i);
  const all = new Array<number>(n).fill(0);
  scores.forEach((s, i) => (all[i] = s));
  return { swept: sweepFile({ name: 'f', timestamps, windows: windows.map(([a, b]) => [1000 + a, 1000 + b] as const) }), scores: all };
}

function withDetections(rows: number[], value = 1): number[] {
  const s = new Array<number>(100).fill(0);
  for (const r of rows) s[r] = value;
  return s;
}

describe('NAB scorer rules', () => {
  it('scaled sigmoid matches NAB (0.98661 at -1, 0 at 0, -1 from 3 on)', () => {
    expect(scaledSigmoid(-1)).toBeCloseTo(0.98661, 5);
    expect(scaledSigmoid(-0.5)).toBeCloseTo(0.84828, 5);
    expect(scaledSigmoid(0)).toBe(0);
    expect(scaledSigmoid(3)).toBe(-1);
  });

  it('probation is min(floor(0.15 n), 750)', () => {
    expect(probationLength(1243)).toBe(186);
    expect(probationLength(4032)).toBe(604);
    expect(probationLength(15902)).toBe(750);
  });


  it('a detection at the first row of a window scores A_TP exactly; only the earliest counts', () => {
    const r = scoreFileAt(file(withDetections([40, 45, 59])), standard, 0.5);
    expect(r.score).toBeCloseTo(1, 12);
    expect(r.windowsDetected).toBe(1);
    expect(r.tp).toBe(3);
  });

  it('a missed window costs A_FN, a false positive before any window A_FP', () => {
    expect(scoreFileAt(file(withDetections([])), standard, 0.5).score).toBeCloseTo(-1, 12);
    expect(scoreFileAt(file(withDetections([20])), standard, 0.5).score).toBeCloseTo(-1 - 0.11, 12);
  });

  it('a false positive after a window is weighted by its distance relative to the window width', () => {
    // Window 40..59 (W = 20); a detection at 69 is |69-59|/(20-1) past the window.
    const r = scoreFileAt(file(withDetections([69])), standard, 0.5);
    expect(r.score).toBeCloseTo(-1 + 0.11 * scaledSigmoid(10 / 19), 12);
    // Right after the window the cost is near zero.
    const next = scoreFileAt(file(withDetections([60])), standard, 0.5);
    expect(next.score).toBeCloseTo(-1 + 0.11 * scaledSigmoid(1 / 19), 12);
  });

  it('probation rows neither detect nor cost', () => {
    const r = scoreFileAt(file(withDetections([3, 10])), standard, 0.5);
    expect(r.score).toBeCloseTo(-1, 12);
    expect(r.fp).toBe(0);
  });

  it('the sweep tries every distinct score and keeps the highest of equal-scoring thresholds', () => {
    const s = new Array<number>(100).fill(0.1);
    s[50] = 0.9; // detects the window
    s[52] = 0.8; // also in the window: no change in score
    const best = optimiseThreshold([file(s)], standard);
    expect(best.threshold).toBe(0.9);
    expect(best.score).toBeCloseTo(scaledSigmoid(-(59 - 50 + 1) / 20) / scaledSigmoid(-1), 12);
  });

  it('normalises between the null (-A_FN per window) and perfect (+A_TP per window) detectors', () => {
    expect(normalise(-57, 57, standard)).toBe(0);
    expect(normalise(57, 57, standard)).toBe(100);
    const perfect = scoreCorpus([file(withDetections([40]))], { name: 'standard', costMatrix: standard });
    expect(perfect.normalised).toBeCloseTo(100, 10);
  });

  it('rejects windows that do not match the rows', () => {
    expect(() => sweepFile({ name: 'x', timestamps: [1, 2, 3], windows: [[2, 5]] })).toThrow(/does not match/);
  });
});
