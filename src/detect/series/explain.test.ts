import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseSeriesCsv } from './csv.js';
import { type ColumnRange, DEFAULT_SERIES_OPTIONS, type RowScore, SeriesDetector } from './detector.js';
import { scoreParsedSeries } from './run.js';
import { type SeriesExplanation, describeExplanation } from './explain.js';

const HOUR = 3_600_000;
// A Monday, so day d of a series starting here is a weekend day when d % 7 is 5 or 6.
const T0 = Date.UTC(2024, 0, 1);
const fast = { numberOfTrees: 30 };

/** Small deterministic noise in [-0.5, 0.5). */
const noise = (i: number) => ((i * 7919) % 13) / 13 - 0.5;

function run(rows: readonly (readonly number[])[], ranges: readonly ColumnRange[], times?: readonly number[]): RowScore[] {
  const d = new SeriesDetector(rows[0]!.length, fast, ranges, Math.floor(rows.length * 0.15));
  return rows.map((v, i) => d.process(v, times?.[i] ?? Number.NaN));
}

function explained(scores: readonly RowScore[], row: number, atLeast = 0.9): SeriesExplanation {
  const s = scores[row]!;
  expect(s.anomalyScore).toBeGreaterThan(atLeast);
  expect(s.explanation).toBeDefined();
  return s.explanation!;
}

describe('series detector explanations', () => {
  it('explains exactly the reported rows, a spike as a high value and a dip as a low one, with the level expected in the input units', () => {
    const rows = Array.from({ length: 2000 }, (_, i) => [i === 1500 ? 100 : i === 1800 ? -60 : 10 + noise(i)]);
    const scores = run(rows, [{ min: -60, max: 100 }]);
    for (const s of scores) expect(s.explanation !== undefined).toBe(s.anomalyScore > 0);
    const spike = explained(scores, 1500);
    expect(spike).toMatchObject({ view: 'value', rows: 1, column: 0, direction: 'high' });
    expect(spike.expected).toBeGreaterThan(9.5);
    expect(spike.expected).toBeLessThan(10.5);
    // The range seen before was about 1 wide (9.5 to 10.5): 100 lies about 90 ranges above it.
    expect(spike.beyondRange).toBeGreaterThan(80);
    const dip = explained(scores, 1800);
    expect(dip).toMatchObject({ view: 'value', column: 0, direction: 'low' });
    expect(dip.expected).toBeGreaterThan(9.5);
    expect(dip.expected).toBeLessThan(10.5);
    // Below the earlier minimum of about 9.5 by 69.5, in a range of about 100 - 9.5.
    expect(dip.beyondRange).toBeCloseTo(69.5 / 90.5, 1);
  });

  it('gives how far beyond its own earlier values the named column lies, not another column\'s', () => {
    // a: about 10, with one early 100, so a later 60 lies within its range but far from its level;
    // b: 4.75 to 5.21, then 5.25, just beyond its range.
    const rows = Array.from({ length: 2000 }, (_, i) => [i === 300 ? 100 : i === 1500 ? 60 : 10 + noise(i), i === 1500 ? 5.25 : 5 + 0.5 * noise(i + 3)]);
    const scores = run(rows, [{ min: 9.5, max: 100 }, { min: 4.75, max: 5.25 }]);
    expect(scores[1500]!.explanation).toMatchObject({ view: 'value', column: 0, direction: 'high', beyondRange: 0 });
    // The detector did see b's excess: without a's jump, b's row is explained by it.
    const alone = run(rows.map((r, i) => (i === 1500 ? [10 + noise(i), r[1]!] : r)), [{ min: 9.5, max: 100 }, { min: 4.75, max: 5.25 }]);
    const b = alone[1500]!.explanation;
    expect(b).toMatchObject({ view: 'value', column: 1, direction: 'high' });
    expect(b!.beyondRange).toBeCloseTo((5.25 - (5 + 0.5 * (12 / 13 - 0.5))) / (0.5 * (12 / 13)), 6);
  });

  it('names the column that carries the anomaly', () => {
    const rows = Array.from({ length: 2000 }, (_, i) => [10 + noise(i), i === 1500 ? 50 : 5 + noise(i + 3)]);
    const e = explained(run(rows, [{ min: 9.5, max: 10.5 }, { min: 4.5, max: 50 }]), 1500);
    expect(e).toMatchObject({ view: 'value', column: 1, direction: 'high' });
    expect(e.expected).toBeGreaterThan(4.5);
    expect(e.expected).toBeLessThan(5.5);
  });

  it('explains common values in an unusual order by their shape', () => {
    // A sawtooth 0..9 that runs backwards for one period: every value is common, their order is not.
    const rows = Array.from({ length: 2000 }, (_, i) => [i >= 1500 && i < 1510 ? 9 - (i % 10) : (i % 10) + 0.1 * noise(i)]);
    const scores = run(rows, [{ min: -0.05, max: 9.05 }]);
    const reported = scores.slice(1500, 1510).filter((s) => s.anomalyScore > 0.6);
    expect(reported.length).toBeGreaterThan(0);
    expect(reported[0]!.explanation).toMatchObject({ view: 'shape', rows: 4, beyondRange: 0 });
  });

  it('asks the next view when the simplest expected the value as it is', () => {
    // NAB's rogue_agent_key_updown, with first differences: at 16:20 on 7 July the series drops
    // from 1.52 to 0. The value forest sees 0 (its commonest value) with a rare change, and
    // expects 0 for both; "0 is about what was expected" would say nothing, so the shape speaks.
    const file = fileURLToPath(new URL('../../../../shared/data/nab/data/realKnownCause/rogue_agent_key_updown.csv', import.meta.url));
    const options = { ...DEFAULT_SERIES_OPTIONS, differences: true, shingleSizes: [1, 4, 8] };
    const scored = scoreParsedSeries(parseSeriesCsv(readFileSync(file, 'utf8'), file), options);
    const row = scored.timestamps.indexOf('2014-07-07 16:20:00');
    expect(scored.values[row]).toEqual([0]);
    expect(scored.values[row - 1]![0]).toBeGreaterThan(1);
    const s = scored.scores[row]!;
    expect(s.anomalyScore).toBeGreaterThan(0.8);
    expect(s.explanation).toMatchObject({ view: 'shape', column: 0 });
    // Every view expected 0 here, so the one that found the row most unusual speaks, and the
    // sentence gives no expected value.
    expect(describeExplanation(s.explanation!, 'value', 0)).toMatch(/^the last \d rows of value form an unusual shape$/);
  });

  it('explains a weekday that looks like a Sunday by the week before, and expects that week\'s level', () => {
    const rows: number[][] = [];
    const times: number[] = [];
    for (let h = 0; h < 5 * 7 * 24; h++) {
      const day = Math.floor(h / 24);
      // Wednesday of the fourth week (day 23) is as quiet as a weekend day.
      const quiet = day % 7 >= 5 || day === 23;
      const cycle = 10 + 8 * Math.sin((2 * Math.PI * (h % 24)) / 24);
      rows.push([(quiet ? 0.4 : 1) * cycle + 0.2 * ((h * 7919) % 5)]);
      times.push(T0 + h * HOUR);
    }
    const scores = run(rows, [{ min: 0, max: 20 }], times);
    const day23 = scores.slice(23 * 24, 24 * 24);
    const first = day23.findIndex((s) => s.anomalyScore > 0.6);
    expect(first).toBeGreaterThanOrEqual(0);
    const e = day23[first]!.explanation!;
    expect(e).toMatchObject({ view: 'week', direction: 'low', column: 0 });
    const value = rows[23 * 24 + first]![0]!;
    const weekBefore = rows[16 * 24 + first]![0]!;
    expect(Math.abs(e.expected - weekBefore)).toBeLessThan(0.25 * weekBefore);
    expect(e.expected).toBeGreaterThan(1.5 * value);
  });

  it('gives a restored detector the same explanations as one never stopped', () => {
    const rows = Array.from({ length: 1600 }, (_, i) => [i % 300 === 299 ? 30 + (i % 7) : 10 + noise(i)]);
    const ranges = [{ min: 9.5, max: 36 }];
    const whole = new SeriesDetector(1, fast, ranges, 240);
    const expected = rows.map((v) => whole.process(v));
    let d = new SeriesDetector(1, fast, ranges, 240);
    const got = rows.map((v, i) => {
      if (i === 800) d = SeriesDetector.fromState(d.toState());
      return d.process(v);
    });
    expect(got).toEqual(expected);
    expect(got.filter((s) => s.explanation !== undefined).length).toBeGreaterThan(2);
  });

  it('leaves every score as it was, and gives none with the explain option off', () => {
    const rows = Array.from({ length: 1200 }, (_, i) => [i % 300 === 299 ? 30 + (i % 7) : 10 + noise(i)]);
    const ranges = [{ min: 9.5, max: 36 }];
    const on = new SeriesDetector(1, fast, ranges, 180);
    const off = new SeriesDetector(1, { ...fast, explain: false }, ranges, 180);
    const explainedRows = rows.map((v) => on.process(v));
    const plain = rows.map((v) => off.process(v));
    expect(plain.map((s) => s.anomalyScore)).toEqual(explainedRows.map((s) => s.anomalyScore));
    expect(plain.every((s) => s.explanation === undefined)).toBe(true);
    expect(explainedRows.filter((s) => s.explanation !== undefined).length).toBeGreaterThan(2);
  });

  it('says it in one sentence per view', () => {
    const base = { rows: 1, column: 0, direction: 'high', expected: 11.004, beyondRange: 0 } as const;
    expect(describeExplanation({ ...base, view: 'value' }, 'requests', 654)).toBe('requests 654 is high; about 11 was expected');
    expect(describeExplanation({ ...base, view: 'value', beyondRange: 1.00613 }, 'requests', 654)).toBe(
      'requests 654 is high; about 11 was expected; beyond every earlier value of requests by 1.006 times its range seen before',
    );
    expect(describeExplanation({ ...base, view: 'week', direction: 'low', expected: 16470 }, 'rides', 5955)).toBe(
      'rides 5955 is low for the time of week; about 16470 was expected from the same time a week earlier',
    );
    expect(describeExplanation({ ...base, view: 'shape', rows: 4, expected: 2.5 }, 'cpu', 9)).toBe(
      'the last 4 rows of cpu form an unusual shape; 9 is high where about 2.5 was expected after the rows before',
    );
    // A value the view expected: the sentence must not call it high or low.
    expect(describeExplanation({ ...base, view: 'value', expected: 0 }, 'bytes', 0)).toBe('bytes 0 is about what was expected; no single value stands out');
    expect(describeExplanation({ ...base, view: 'week', expected: 10.6004 }, 'rides', 10.6)).toBe(
      'rides 10.6 is about what the same time a week earlier led to expect; no single value stands out',
    );
    // A value the rows before lead to: the surprise is in those rows, so no expected value is given.
    expect(describeExplanation({ ...base, view: 'shape', rows: 4, expected: 9.0001 }, 'cpu', 9)).toBe('the last 4 rows of cpu form an unusual shape');
    expect(describeExplanation({ ...base, view: 'value', expected: 1.5e-7 }, 'bytes', 2.5e12)).toBe('bytes 2.5e+12 is high; about 1.5e-7 was expected');
  });
});
