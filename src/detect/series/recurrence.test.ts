import { describe, expect, it } from 'vitest';
import { DEFAULT_SERIES_OPTIONS, SeriesDetector } from './detector.js';
import { RecentRows } from './recent-rows.js';
import { DailyRecurrence, type DailyRecurrenceOptions, recurrenceHorizonMs } from './recurrence.js';

const MINUTE = 60_000;
const DAY = 1440 * MINUTE;
const T0 = Date.UTC(2024, 0, 1);
const options: DailyRecurrenceOptions = { days: 7, minDays: 3, toleranceMs: 30 * MINUTE, levelRows: 6, share: 0.5, power: 2 };

/** A 5-minute series around 10 with small deterministic noise; `spikes` maps a row to its value. */
function rows(days: number, spikes: ReadonlyMap<number, number>): { time: number; value: number }[] {
  const out = [];
  for (let i = 0; i < days * 288; i++) out.push({ time: T0 + i * 5 * MINUTE, value: spikes.get(i) ?? 10 + 0.05 * ((i * 7919) % 7) });
  return out;
}

/** Row index of day `day` at hh:mm. */
const at = (day: number, hh: number, mm = 0) => day * 288 + hh * 12 + mm / 5;

/** A recurrence over rows of its own, kept after each judgement as the detector keeps them. */
function recurrence(columns: number, o: DailyRecurrenceOptions): { factor(values: number[], time: number): number } {
  const rows = new RecentRows(columns, recurrenceHorizonMs(o.days));
  const judge = new DailyRecurrence(rows, o);
  return {
    factor(values, time) {
      const f = judge.factor(values, time);
      rows.keep(values, time);
      return f;
    },
  };
}

function factors(o: DailyRecurrenceOptions, series: { time: number; value: number }[]): number[] {
  const r = recurrence(1, o);
  return series.map((p) => r.factor([p.value], p.time));
}

describe('daily recurrence', () => {
  it('discounts a spike that came at the same time on at least minDays earlier days, and no other', () => {
    const spikes = new Map<number, number>();
    for (let d = 0; d < 5; d++) spikes.set(at(d, 3), 20 + d * 0.1);
    spikes.set(at(5, 15), 20);
    const f = factors(options, rows(6, spikes));
    // Days 1 and 2 have one and two earlier nightly spikes: not yet a routine.
    expect(f[at(1, 3)]).toBe(1);
    expect(f[at(2, 3)]).toBe(1);
    // From day 3 on, three earlier nights came within 0.3 of a departure of about 10.
    expect(f[at(3, 3)]).toBeLessThan(0.01);
    expect(f[at(4, 3)]).toBeLessThan(0.01);
    // The same height at an hour it never came is not routine.
    expect(f[at(5, 15)]).toBe(1);
  });

  it('matches within the tolerance of the time of day, and not beyond it', () => {
    const base = new Map<number, number>();
    for (let d = 0; d < 3; d++) base.set(at(d, 3), 20);
    const inside = new Map(base).set(at(3, 3, 25), 20);
    const outside = new Map(base).set(at(3, 3, 45), 20);
    expect(factors(options, rows(4, inside))[at(3, 3, 25)]).toBe(0);
    expect(factors(options, rows(4, outside))[at(3, 3, 45)]).toBe(1);
  });

  it('scales the discount by how close the earlier days came against the departure', () => {
    const spikes = new Map<number, number>();
    for (let d = 0; d < 3; d++) spikes.set(at(d, 3), 20);
    // Departure about 12 from the level 10; the days came within 2, under 0.5 × 12: (2 / 6)^2.
    spikes.set(at(3, 3), 22);
    const f = factors(options, rows(4, spikes));
    expect(f[at(3, 3)]).toBeCloseTo((2 / (0.5 * (22 - 10.15))) ** 2, 1);
    expect(f[at(3, 3)]).toBeGreaterThan(0.05);
    expect(f[at(3, 3)]).toBeLessThan(0.2);
  });

  it('takes the largest distance over columns: a repeat in one column and news in another is not routine', () => {
    const r = recurrence(2, options);
    let last = 1;
    for (let i = 0; i < 4 * 288; i++) {
      const nightly = i % 288 === 36;
      const b = nightly && i >= 3 * 288 ? 50 : 5;
      last = r.factor([nightly ? 20 : 10, b], T0 + i * 5 * MINUTE);
      if (nightly && i >= 3 * 288) break;
    }
    expect(last).toBe(1);
  });

  it('neither discounts nor keeps rows without a time or out of order, and leaves daily series alone', () => {
    const spikes = new Map<number, number>();
    for (let d = 0; d < 4; d++) spikes.set(at(d, 3), 20);
    const series = rows(4, spikes);
    const r = recurrence(1, options);
    for (const [i, p] of series.entries()) {
      const f = r.factor([p.value], i === at(3, 3) ? Number.NaN : p.time);
      if (i === at(3, 3)) expect(f).toBe(1);
    }
    // A row earlier than the last kept one is not judged, though a day before it the spike came;
    // the kept rows start again from it, so the next night is judged against it alone.
    const once = recurrence(1, { ...options, minDays: 1 });
    const time = (row: number) => T0 + row * 5 * MINUTE;
    for (const p of rows(2, new Map([[at(0, 3), 20]]))) once.factor([p.value], p.time);
    expect(once.factor([20], time(at(1, 3)))).toBe(1);
    for (let row = at(1, 3) + 1; row < at(2, 3); row++) once.factor([10], time(row));
    expect(once.factor([20], time(at(2, 3)))).toBeLessThan(0.01);

    const daily = recurrence(1, { ...options, minDays: 1 });
    const out = [];
    for (let d = 0; d < 10; d++) out.push(daily.factor([d % 2 === 0 ? 20 : 10], T0 + d * DAY));
    expect(out.every((f) => f === 1)).toBe(true);
  });

  it('compares at most maxCompared rows per day, nearest the same time of day first', () => {
    // One row a second around 03:00; the earlier days' spike lies 20 s off the hour.
    const run = (maxCompared: number) => {
      const r = recurrence(1, { ...options, toleranceMs: MINUTE, maxCompared });
      let f = 1;
      for (let d = 0; d < 4; d++) {
        for (let s = -120; s <= 120; s++) {
          const spike = d < 3 ? s === 20 : s === 0;
          f = r.factor([spike ? 20 : 10], T0 + d * DAY + 3 * 3_600_000 + s * 1000);
          if (d === 3 && s === 0) return f;
        }
      }
      return f;
    };
    expect(run(512)).toBe(0);
    expect(run(10)).toBe(1);
  });

  it('refuses settings that cannot work', () => {
    expect(() => recurrence(1, { ...options, minDays: 8 })).toThrow(/min days must be an integer from 1 to the recurrence days \(7\), got 8/);
    expect(() => recurrence(1, { ...options, toleranceMs: 7 * 3_600_000 })).toThrow(/tolerance must be 0 to 360 minutes, got 420/);
    expect(() => recurrence(1, { ...options, share: 0 })).toThrow(/share must be > 0/);
  });
});

describe('series detector with the daily recurrence', () => {
  // Without the alarm memory, which would also take the eighth spike at a new hour for a habit.
  const fast = { ...DEFAULT_SERIES_OPTIONS, numberOfTrees: 20, sampleSize: 128, minHistory: 20, history: 2000, cooldown: 50, cooldownShare: 0, minEvents: 2, alarmMemory: 0 };

  function score(recurrenceDays: number): { nightly: number; novel: number } {
    const spikes = new Map<number, number>();
    for (let d = 0; d < 8; d++) spikes.set(at(d, 3), 20);
    spikes.set(at(8, 15), 20);
    const series = rows(9, spikes);
    const detector = new SeriesDetector(1, { ...fast, recurrenceDays }, [{ min: 10, max: 20 }]);
    const scores = series.map((p) => detector.process([p.value], p.time).anomalyScore);
    return { nightly: scores[at(7, 3)] as number, novel: scores[at(8, 15)] as number };
  }

  it('scores a nightly spike low once it is routine, and the same spike at a new hour as before', () => {
    const without = score(0);
    const withIt = score(DEFAULT_SERIES_OPTIONS.recurrenceDays);
    // Without it the forests still find the eighth nightly spike rare.
    expect(without.nightly).toBeGreaterThan(0.5);
    expect(withIt.nightly).toBeLessThan(0.01);
    expect(withIt.novel).toBeGreaterThan(0.5);
    expect(withIt.novel).toBeCloseTo(without.novel, 6);
  });
});
