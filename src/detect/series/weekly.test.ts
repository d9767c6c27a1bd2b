import { describe, expect, it } from 'vitest';
import { DEFAULT_SERIES_OPTIONS, SeriesDetector } from './detector.js';
import { ByteReader, ByteWriter } from '../../rcf/bytes.js';
import { RecentRows } from './recent-rows.js';
import { WEEK_MS, WeeklyResidual, weeklyHorizonMs } from './weekly.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
// A Monday, so day d of the series is a weekend day when d % 7 is 5 or 6.
const T0 = Date.UTC(2024, 0, 1);

/** Hourly rides: a daily cycle, much lower at weekends unless `weekly` is false; `holiday` days look like a Sunday. */
function rides(weeks: number, weekly: boolean, holiday = new Set<number>()): { time: number; value: number }[] {
  const out = [];
  for (let h = 0; h < weeks * 7 * 24; h++) {
    const day = Math.floor(h / 24);
    const weekend = (weekly && day % 7 >= 5) || holiday.has(day);
    const cycle = 10 + 8 * Math.sin((2 * Math.PI * (h % 24)) / 24);
    out.push({ time: T0 + h * HOUR, value: (weekend ? 0.4 : 1) * cycle + 0.2 * ((h * 7919) % 5) });
  }
  return out;
}

describe('recent rows', () => {
  it('keeps timed rows within the horizon, and finds the nearest to a time', () => {
    const rows = new RecentRows(1, 10 * HOUR);
    for (let h = 0; h < 30; h++) rows.keep([h], T0 + h * HOUR);
    rows.keep([99], Number.NaN); // no time: not kept
    expect(rows.end - rows.start).toBe(11);
    expect(rows.value(rows.start, 0)).toBe(19);
    expect(rows.lastTime).toBe(T0 + 29 * HOUR);
    const near = rows.nearest(T0 + 25.4 * HOUR, HOUR);
    expect(rows.value(near, 0)).toBe(25);
    // A tie goes to the earlier row; nothing within the tolerance gives -1.
    expect(rows.value(rows.nearest(T0 + 25.5 * HOUR, HOUR), 0)).toBe(25);
    expect(rows.nearest(T0 + 35 * HOUR, HOUR)).toBe(-1);
    expect(rows.nearest(T0 + 5 * HOUR, HOUR)).toBe(-1);
    expect(rows.restarts).toBe(0);
  });

  it('starts again from a row earlier than the last, so one wrong clock does not silence it for good', () => {
    const rows = new RecentRows(1, 10 * HOUR);
    rows.keep([1], T0 + 1000 * HOUR); // a far-future timestamp
    for (let h = 0; h < 5; h++) rows.keep([h], T0 + h * HOUR);
    expect(rows.restarts).toBe(1);
    expect(rows.end - rows.start).toBe(5);
    expect(rows.value(rows.nearest(T0 + 3 * HOUR, 0), 0)).toBe(3);
    // A repeated time is skipped, not a restart.
    rows.keep([9], T0 + 4 * HOUR);
    expect(rows.restarts).toBe(1);
    expect(rows.end - rows.start).toBe(5);
  });

  it('skips a row that comes up to 6 hours late instead of dropping the rows kept', () => {
    const rows = new RecentRows(1, 1000 * HOUR);
    for (let h = 0; h < 200; h++) rows.keep([h], T0 + h * HOUR);
    rows.keep([-1], T0 + 193.5 * HOUR); // 5.5 hours before the last kept row
    rows.keep([-1], T0 + 193 * HOUR);
    expect(rows.late).toBe(2);
    expect(rows.restarts).toBe(0);
    expect(rows.end - rows.start).toBe(200);
    expect(rows.value(rows.nearest(T0 + 193 * HOUR, 0), 0)).toBe(193);
    rows.keep([-1], T0 + 192.5 * HOUR);
    expect(rows.restarts).toBe(1);
    expect(rows.end - rows.start).toBe(1);
  });

  it('holds a row more than 6 hours after the last, and drops it when the next row shows it was stamped ahead', () => {
    const rows = new RecentRows(1, 1000 * HOUR);
    for (let h = 0; h < 200; h++) rows.keep([h], T0 + h * HOUR);
    // A row stamped 30 days ahead, then the series carries on where it was.
    rows.settle(T0 + 720 * HOUR);
    rows.keep([-1], T0 + 720 * HOUR);
    expect(rows.lastTime).toBe(T0 + 199 * HOUR);
    for (let h = 200; h < 210; h++) {
      rows.settle(T0 + h * HOUR);
      rows.keep([h], T0 + h * HOUR);
    }
    expect(rows.ahead).toBe(1);
    expect(rows.restarts).toBe(0);
    expect(rows.late).toBe(0);
    // Kept at once, the row would have pushed every earlier row past the horizon.
    expect(rows.end - rows.start).toBe(210);
    expect(rows.value(rows.start, 0)).toBe(0);
    expect(rows.nearest(T0 + 720 * HOUR, 100 * HOUR)).toBe(-1);
  });

  it('keeps a held row once the next row shows a gap in the series, as if it had been kept at once', () => {
    const rows = new RecentRows(1, 100 * HOUR);
    const kept = () => Array.from({ length: rows.end - rows.start }, (_, k) => [(rows.time(rows.start + k) - T0) / HOUR, rows.value(rows.start + k, 0)]);
    const hours = [...Array.from({ length: 50 }, (_, h) => h), 80, 81, 82, 90, 130, 200, 200.5, 199.5];
    for (const [i, h] of hours.entries()) {
      rows.settle(T0 + h * HOUR);
      rows.keep([i], T0 + h * HOUR);
      if (h === 82) expect(kept().slice(-4)).toEqual([[49, 49], [80, 50], [81, 51], [82, 52]]);
    }
    // 200 was held until 200.5 came, then kept, and pushed 130's predecessors past the 100-hour horizon.
    expect(kept()).toEqual([[130, 54], [200, 55], [200.5, 56]]);
    expect(rows.ahead).toBe(0);
    expect(rows.late).toBe(1); // 199.5, half an hour before the last kept row
    expect(rows.restarts).toBe(0);
  });

  it('after a held row, tells a row stamped ahead from a clock that went back below the kept rows', () => {
    const feed = (rows: RecentRows, hours: number[]) => hours.forEach((h, i) => (rows.settle(T0 + h * HOUR), rows.keep([i], T0 + h * HOUR)));
    const series = Array.from({ length: 300 }, (_, h) => h);
    // 330 after a 31-hour gap, then 323 on: 330 was stamped ahead, and the rows carry on from 299.
    const ahead = new RecentRows(1, 1000 * HOUR);
    feed(ahead, [...series, 330, 323, 324]);
    expect([ahead.ahead, ahead.restarts, ahead.end - ahead.start]).toEqual([1, 0, 302]);
    // 330, then 200: the clock went back below the kept rows too, and the rows start again.
    const back = new RecentRows(1, 1000 * HOUR);
    feed(back, [...series, 330, 200, 201]);
    expect([back.ahead, back.restarts, back.end - back.start]).toEqual([0, 1, 2]);
  });

  it('saves a held row, and refuses a state whose held row is not one', () => {
    const rows = new RecentRows(2, 1000 * HOUR);
    for (let h = 0; h < 10; h++) rows.keep([h, -h], T0 + h * HOUR);
    const saved = (r: RecentRows) => {
      const w = new ByteWriter();
      r.writeState(w);
      return w.bytes();
    };
    const load = (bytes: Uint8Array) => {
      const r = new RecentRows(2, 1000 * HOUR);
      r.readState(new ByteReader(bytes, 0, bytes.length), true);
      return r;
    };
    const quiet = saved(rows);
    rows.keep([7, 7], T0 + 40 * HOUR);
    const holding = saved(rows);
    const restored = load(holding);
    restored.settle(T0 + 41 * HOUR);
    expect([restored.lastTime, restored.value(restored.end - 1, 0)]).toEqual([T0 + 40 * HOUR, 7]);
    // Settled as stamped ahead, the held row leaves no trace: no time held, its values zeros again.
    rows.settle(T0 + 11 * HOUR);
    expect(rows.ahead).toBe(1);
    expect(saved(rows).subarray(-24)).toEqual(quiet.subarray(-24));
    // The state ends with the count stamped ahead, the held time and the held values (2 columns).
    const tail = quiet.length - 24;
    const tampered = (at: number, v: number) => {
      const b = quiet.slice();
      new DataView(b.buffer).setFloat64(at, v, true);
      return b;
    };
    expect(() => load(tampered(tail + 8, 1))).toThrow(/values for a held row when none is held/);
    expect(() => load(tampered(tail, T0 + 12 * HOUR))).toThrow(/does not come more than 6 hours after the kept rows/);
    expect(() => load(tampered(tail, Number.POSITIVE_INFINITY))).toThrow(/held row that is not finite/);
  });

  it('keeps at most its value budget, oldest rows first out', () => {
    const rows = new RecentRows(4, 1000 * HOUR, 40);
    for (let h = 0; h < 30; h++) rows.keep([h, h, h, h], T0 + h * HOUR);
    expect(rows.end - rows.start).toBe(10);
    expect(rows.value(rows.start, 3)).toBe(20);
  });
});

describe('weekly residual', () => {
  function run(series: { time: number; value: number }[], rows = 1) {
    const recent = new RecentRows(1, weeklyHorizonMs(rows));
    const weekly = new WeeklyResidual(recent, { rows, rhythm: 0.75 });
    const out = new Float64Array(1);
    const residuals: number[] = [];
    const counts: boolean[] = [];
    for (const p of series) {
      residuals.push(weekly.residual([p.value], p.time, out) ? (out[0] as number) : Number.NaN);
      counts.push(weekly.counts);
      recent.keep([p.value], p.time);
    }
    return { residuals, counts };
  }

  it('is the value minus the median of the rows around the same time a week earlier', () => {
    const series = rides(2, true);
    const { residuals } = run(series);
    const i = 7 * 24 + 30;
    const week = [series[i - 169], series[i - 168], series[i - 167]].map((p) => (p as { value: number }).value).sort((a, b) => a - b);
    expect(residuals[i]).toBeCloseTo((series[i] as { value: number }).value - (week[1] as number), 12);
    // Nothing within a row step of a week earlier yet (the first residual's week-old row is an hour later).
    expect(residuals.slice(0, 7 * 24 - 1).every(Number.isNaN)).toBe(true);
    expect(residuals[7 * 24 - 1]).not.toBeNaN();
  });

  it('counts once a week of rows was compared and the series is weekly, and never for a daily series', () => {
    const weekly = run(rides(4, true));
    expect(weekly.counts.slice(0, 14 * 24 - 1).some(Boolean)).toBe(false);
    expect(weekly.counts.slice(15 * 24).every(Boolean)).toBe(true);
    const daily = run(rides(4, false));
    expect(daily.counts.some(Boolean)).toBe(false);
  });

  it('measures the rhythm anew after the clock goes back', () => {
    // Three weeks of June 2024, then four weeks from June 2023.
    const june2024 = rides(3, true).map((p) => ({ ...p, time: p.time + 3 * 365 * DAY }));
    const recent = new RecentRows(1, weeklyHorizonMs(3));
    const weekly = new WeeklyResidual(recent, { rows: 3, rhythm: 0.75 });
    const out = new Float64Array(1);
    const countsFrom = (series: { time: number; value: number }[]) => {
      let first = -1;
      for (const [i, p] of series.entries()) {
        weekly.residual([p.value], p.time, out);
        if (weekly.counts && first < 0) first = i;
        recent.keep([p.value], p.time);
      }
      return first;
    };
    const before = countsFrom(june2024);
    const after = countsFrom(rides(4, true));
    expect(recent.restarts).toBe(1);
    expect(before).toBeGreaterThan(0);
    expect(after).toBe(before);
  });

  it('refuses rows a week apart in a store that does not keep a week', () => {
    expect(() => new WeeklyResidual(new RecentRows(1, WEEK_MS), { rows: 3, rhythm: 0.75 })).toThrow(/the weekly residual needs/);
    expect(() => new WeeklyResidual(new RecentRows(1, weeklyHorizonMs(3)), { rows: -1, rhythm: 0.75 })).toThrow(/weekly rows must be an integer in \[0, 24\]/);
    expect(() => new WeeklyResidual(new RecentRows(1, weeklyHorizonMs(3)), { rows: 12, rhythm: 0.75 })).toThrow(/the weekly residual needs/);
  });
});

describe('series detector with the weekly view', () => {
  const fast = { ...DEFAULT_SERIES_OPTIONS, numberOfTrees: 30, sampleSize: 128, minHistory: 20, history: 2000, cooldown: 24, cooldownShare: 0, minEvents: 2 };

  function scores(series: { time: number; value: number }[], weekly: boolean): number[] {
    const values = series.map((p) => p.value);
    const range = [{ min: Math.min(...values), max: Math.max(...values) }];
    const detector = new SeriesDetector(1, { ...fast, weekly }, range);
    return series.map((p) => detector.process([p.value], p.time).anomalyScore);
  }

  it('finds a weekday that looks like a Sunday in a weekly series', () => {
    // Wednesday of the fourth week (day 23) looks like a weekend day.
    const series = rides(5, true, new Set([23]));
    const peak = (s: number[]) => Math.max(...s.slice(23 * 24, 24 * 24));
    const without = peak(scores(series, false));
    const withIt = peak(scores(series, true));
    expect(withIt).toBeGreaterThan(0.5);
    expect(withIt).toBeGreaterThan(without + 0.1);
  });

  it('still finds it after a row stamped days ahead, which it scores but does not let cost the weekly rows', () => {
    const series = rides(5, true, new Set([23]));
    // One row of day 20 carries a timestamp two days ahead (its value is its own hour's).
    const wrong = series.map((p, i) => (i === 20 * 24 + 10 ? { ...p, time: p.time + 2 * DAY } : p));
    const values = wrong.map((p) => p.value);
    const detector = new SeriesDetector(1, { ...fast, weekly: true }, [{ min: Math.min(...values), max: Math.max(...values) }]);
    const withIt = wrong.map((p) => detector.process([p.value], p.time).anomalyScore);
    expect(detector.aheadRows).toBe(1);
    expect(detector.timeRestarts).toBe(0);
    const peak = Math.max(...withIt.slice(23 * 24, 24 * 24));
    expect(peak).toBeGreaterThan(0.5);
    expect(peak).toBeGreaterThan(Math.max(...scores(series, false).slice(23 * 24, 24 * 24)) + 0.1);
  });

  it('changes nothing in a series without a weekly rhythm', () => {
    const series = rides(4, false, new Set([23]));
    expect(scores(series, true)).toEqual(scores(series, false));
  });
});
