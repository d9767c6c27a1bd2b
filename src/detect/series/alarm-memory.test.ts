import { describe, expect, it } from 'vitest';
import { AlarmMemory, type AlarmMemoryOptions } from './alarm-memory.js';
import { DEFAULT_SERIES_OPTIONS, SeriesDetector } from './detector.js';

const options: AlarmMemoryOptions = { matches: 3, share: 0.25, shapeRows: 4, levelRows: 6, power: 2 };

/** Feeds `base` rows around `level`, then a burst ending at its peak, and judges the peak. */
function burst(memory: AlarmMemory, level: number, shape: readonly number[]): number {
  for (let i = 0; i < 10; i++) memory.observe([level + 0.01 * (i % 3)]);
  for (const v of shape) memory.observe([level + v]);
  return memory.judge();
}

describe('alarm memory', () => {
  it('discounts an alarm once `matches` earlier ones had its shape, and not before', () => {
    const m = new AlarmMemory(1, options);
    const f = [1, 2, 3, 4, 5].map(() => burst(m, 10, [0, 2, 5, 8]));
    expect(f.slice(0, 3)).toEqual([1, 1, 1]);
    expect(f[3]).toBeLessThan(0.01);
    expect(f[4]).toBeLessThan(0.01);
  });

  it('measures shapes from their level, and scales the discount by the distance against the height', () => {
    const m = new AlarmMemory(1, options);
    for (let i = 0; i < 3; i++) burst(m, 10, [0, 2, 5, 8]);
    // The same burst on another level is the same shape.
    expect(burst(m, 50, [0, 2, 5, 8])).toBeLessThan(0.01);
    // One row 1 away from the remembered shape, against a height of 8: (1 / (0.25 × 8))^2.
    expect(burst(m, 10, [0, 3, 5, 8])).toBeCloseTo(0.25, 1);
    // Twice as tall: far from every earlier alarm.
    expect(burst(m, 10, [0, 4, 10, 16])).toBe(1);
  });

  it('takes the largest difference over columns', () => {
    const m = new AlarmMemory(2, options);
    const run = (second: number) => {
      for (let i = 0; i < 10; i++) m.observe([10, 10]);
      for (const v of [0, 2, 5, 8]) m.observe([10 + v, 10 + (v > 0 ? second : 0)]);
      return m.judge();
    };
    for (let i = 0; i < 3; i++) run(1);
    expect(run(1)).toBeLessThan(0.01);
    expect(run(9)).toBe(1);
  });

  it('forgets the oldest alarms past its capacity', () => {
    const m = new AlarmMemory(1, { ...options, capacity: 3 });
    for (let i = 0; i < 3; i++) burst(m, 10, [0, 2, 5, 8]);
    for (let i = 0; i < 3; i++) burst(m, 10, [0, -2, -5, -8]);
    expect(burst(m, 10, [0, 2, 5, 8])).toBe(1);
  });

  it('refuses settings that cannot work', () => {
    expect(() => new AlarmMemory(1, { ...options, matches: 0 })).toThrow(/matches must be an integer >= 1/);
    expect(() => new AlarmMemory(1, { ...options, share: 0 })).toThrow(/share must be > 0/);
    expect(() => new AlarmMemory(1, { ...options, capacity: 2 })).toThrow(/capacity must be an integer >= 3/);
    // No rows before the shape: the level would be the alarm itself.
    expect(() => new AlarmMemory(1, { ...options, levelRows: 0 })).toThrow(/level rows must be an integer >= 1/);
  });
});

describe('series detector with the alarm memory', () => {
  const fast = {
    ...DEFAULT_SERIES_OPTIONS,
    numberOfTrees: 30,
    sampleSize: 256,
    minHistory: 20,
    history: 5000,
    cooldown: 100,
    cooldownShare: 0,
    minEvents: 2,
    recurrenceDays: 0,
    weekly: false,
  };

  /** A level with a little noise, the same 4-row burst every 397 rows, and a twice taller one at the end. */
  function scores(alarmMemory: number): { repeats: number[]; novel: number } {
    const detector = new SeriesDetector(1, { ...fast, alarmMemory }, [{ min: 0, max: 30 }]);
    // The highest score reported in each burst's rows.
    const peaks = new Array<number>(16).fill(0);
    for (let i = 0; i < 16 * 397; i++) {
      const k = i % 397;
      const last = i >= 15 * 397;
      // The alarm comes at a burst's first row, so the bursts differ from the first row on.
      const lift = k >= 200 && k < 204 ? (last ? 20 : 10) : 0;
      const s = detector.process([5 + 0.02 * ((i * 7919) % 7) + lift]).anomalyScore;
      const burst = Math.floor(i / 397);
      if (k >= 200 && k < 210) peaks[burst] = Math.max(peaks[burst] as number, s);
    }
    return { repeats: peaks.slice(0, 15), novel: peaks[15] as number };
  }

  it('stops reporting a burst the series keeps having, and still reports a new one', () => {
    const without = scores(0);
    const withIt = scores(DEFAULT_SERIES_OPTIONS.alarmMemory);
    // The forests alone go on finding the repeated burst rare.
    expect(Math.min(...without.repeats.slice(10))).toBeGreaterThan(0.5);
    // A burst's first and second rows each pass the cool-down (the second scores higher), so
    // each is an alarm and must have been seen three times before it is discounted.
    expect(Math.max(...withIt.repeats.slice(10))).toBeLessThan(0.05);
    expect(withIt.novel).toBeGreaterThan(0.5);
  });
});
