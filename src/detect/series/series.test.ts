import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { KinesisRandomCutForest } from '../../rcf/index.js';
import { parseSeriesCsv, SeriesFormatError, splitCsvLine } from './csv.js';
import {
  CoolDown,
  cooldownRows,
  DEFAULT_SERIES_OPTIONS,
  EventYardstick,
  KINESIS_OPTIONS,
  Refractory,
  RunningQuantile,
  SeriesDetector,
  seriesProbation,
} from './detector.js';
import { formatScoredSeries, parseTime, scoreSeriesText } from './run.js';

const fast = { ...DEFAULT_SERIES_OPTIONS, numberOfTrees: 10, sampleSize: 64, minHistory: 20, history: 500, cooldown: 20, cooldownShare: 0 };

function series(n: number, spikeAt = -1): string {
  const lines = ['timestamp,value'];
  for (let i = 0; i < n; i++) {
    const t = new Date(Date.UTC(2024, 0, 1) + i * 300_000).toISOString().replace('T', ' ').slice(0, 19);
    const v = i === spikeAt ? 50 : 10 + Math.sin(i / 6) + 0.1 * ((i * 7919) % 13);
    lines.push(`${t},${v}`);
  }
  return `${lines.join('\n')}\n`;
}

describe('series CSV', () => {
  it('splits quoted fields', () => {
    expect(splitCsvLine('"2024-01-01, 00:00",1,"a""b"')).toEqual(['2024-01-01, 00:00', '1', 'a"b']);
  });

  it('reports bad rows by file and line and keeps the rest', () => {
    const p = parseSeriesCsv('timestamp,value,bytes\nt1,1,2\nt2,x,3\nt3,4\r\nt4,5,6\n\n', 'in.csv');
    expect(p.columns).toEqual(['value', 'bytes']);
    expect(p.rows.map((r) => r.values)).toEqual([
      [1, 2],
      [5, 6],
    ]);
    expect(p.bad.map((b) => b.line)).toEqual([3, 4]);
    expect(p.bad[0]?.message).toMatch(/^in\.csv:3: column "value" is not a finite number/);
    expect(p.bad[1]?.message).toMatch(/^in\.csv:4: expected 3 columns, found 2/);
    // Each keeps its row as it was (line ending aside) and its reason without the location.
    expect(p.bad.map((b) => b.text)).toEqual(['t2,x,3', 't3,4']);
    expect(p.bad[1]?.reason).toBe('expected 3 columns, found 2');
  });

  it('quotes at most 80 characters of a bad cell in the message, and keeps the whole row', () => {
    const cell = 'z'.repeat(100_000);
    const p = parseSeriesCsv(`timestamp,value\nt1,${cell}\n`, 'in.csv');
    expect(p.bad[0]?.message.length).toBeLessThan(200);
    expect(p.bad[0]?.message).toContain(`"${'z'.repeat(80)}…"`);
    expect(p.bad[0]?.text).toBe(`t1,${cell}`);
  });

  it('reports a value beyond what the forests hold (half of float32) as a bad row', () => {
    const p = parseSeriesCsv('timestamp,value\nt1,1\nt2,1e40\nt3,-1.7e38\nt4,3e38\n', 'in.csv');
    expect(p.rows.map((r) => r.values)).toEqual([[1], [-1.7e38]]);
    expect(p.bad.map((b) => b.line)).toEqual([3, 5]);
    expect(p.bad[1]?.message).toMatch(/^in\.csv:5: column "value" is beyond what the forests hold \(\|x\| <= 1\.7e\+38\): "3e38"$/);
  });

  it('refuses a file without a header', () => {
    expect(() => parseSeriesCsv('', 'e.csv')).toThrow(SeriesFormatError);
    expect(() => parseSeriesCsv('2024-01-01,5\n', 'e.csv')).toThrow(/looks like data/);
  });

  it('parses the timestamps it meets, as UTC unless they name a zone, and nothing it would have to guess', () => {
    const t = Date.UTC(2014, 3, 10, 7, 15);
    for (const text of [
      '2014-04-10 07:15:00', '2014-04-10T07:15:00Z', '2014-04-10T07:15', '2014/04/10 07:15:00', '2014-04-10T07:15:00 UTC',
      '2014/4/10 7:15', '2014-04-10T08:15:00+01:00', '2014-04-10T08:15:00+0100', '2014-04-10T02:15:00-05', '2014-04-10T07:15:00.000Z',
      '1397114100', '1397114100000', '1397114100000000', '1397114100000000000',
    ]) expect(parseTime(text), text).toBe(t);
    expect(parseTime('2014-04-10T07:15:00.25Z')).toBe(t + 250);
    expect(parseTime('2014-04-10')).toBe(Date.UTC(2014, 3, 10));
    expect(parseTime('2024-02-29')).toBe(Date.UTC(2024, 1, 29));
    for (const text of ['yesterday', '2024-02-30', '2023-02-29', '2024-13-01', '2014-04-10 24:00:00', '02.01.2024', '13.01.2024', '01/02/2024', '-1', '0x10', '']) {
      expect(Number.isNaN(parseTime(text)), text).toBe(true);
    }
  });

  it('reads the same times whatever the machine\'s time zone', () => {
    // The built module, in processes whose local time is far from UTC.
    const run = new URL('../../../dist/detect/series/run.js', import.meta.url).pathname;
    const code = `import('${run}').then((m) => console.log(['2024/03/10 02:30:00', '2024-11-03 01:30', '1700000000'].map(m.parseTime).join()))`;
    const expected = [Date.UTC(2024, 2, 10, 2, 30), Date.UTC(2024, 10, 3, 1, 30), 1_700_000_000_000].join();
    for (const TZ of ['UTC', 'America/New_York', 'Asia/Kolkata']) {
      expect(execFileSync(process.execPath, ['-e', code], { env: { ...process.env, TZ }, encoding: 'utf8' }).trim(), TZ).toBe(expected);
    }
  });
});

describe('series detector', () => {
  it('scores every row in [0,1], with a clear spike on top', () => {
    const s = scoreSeriesText(series(600, 450), 's.csv', fast);
    expect(s.scores).toHaveLength(600);
    for (const r of s.scores) {
      expect(r.anomalyScore).toBeGreaterThanOrEqual(0);
      expect(r.anomalyScore).toBeLessThanOrEqual(1);
      expect(r.grade).toBeGreaterThanOrEqual(0);
      expect(r.grade).toBeLessThanOrEqual(1);
    }
    const top = s.scores.reduce((best, r, i) => (r.anomalyScore > (s.scores[best]?.anomalyScore ?? 0) ? i : best), 0);
    expect(top).toBe(450);
    expect(s.scores[450]?.grade).toBeGreaterThan(0);
  });

  it('has no look-ahead: a row\'s score does not depend on later rows (given the ranges)', () => {
    const text = series(500, 300);
    const full = new SeriesDetector(1, fast, [{ min: 0, max: 60 }]);
    const prefix = new SeriesDetector(1, fast, [{ min: 0, max: 60 }]);
    const rows = text.trim().split('\n').slice(1).map((l) => Number(l.split(',')[1]));
    const a = rows.map((v) => full.process([v]).anomalyScore);
    const b = rows.slice(0, 320).map((v) => prefix.process([v]).anomalyScore);
    expect(a.slice(0, 320)).toEqual(b);
  });

  it('refuses a row that is not one finite number per column, and learns nothing from it', () => {
    const clean = new SeriesDetector(1, fast);
    const tried = new SeriesDetector(1, fast);
    const rows = Array.from({ length: 300 }, (_, i) => (i === 250 ? 40 : 10 + Math.sin(i / 5)));
    const time = (i: number) => Date.UTC(2024, 0, 1) + i * 60_000;
    const expected = rows.map((v, i) => clean.process([v], time(i)));
    const got = rows.map((v, i) => {
      if (i === 200) {
        expect(() => tried.process([Number.NaN], time(i))).toThrow(/value 1 is not a finite number: NaN/);
        expect(() => tried.process(['7' as unknown as number], time(i))).toThrow(/value 1 is not a finite number: 7/);
        expect(() => tried.process([1, 2], time(i))).toThrow(/expected 1 values, got 2/);
        expect(() => tried.process([v], new Date(time(i)) as unknown as number)).toThrow(/time must be epoch milliseconds/);
      }
      return tried.process([v], time(i));
    });
    expect(got).toEqual(expected);
    expect(Math.max(...got.map((r) => r.anomalyScore))).toBe(got[250]?.anomalyScore);
  });

  it('is deterministic for a seed', () => {
    const a = scoreSeriesText(series(300, 200), 's.csv', fast).scores;
    const b = scoreSeriesText(series(300, 200), 's.csv', fast).scores;
    expect(a).toEqual(b);
  });

  it('takes extra numeric columns as dimensions', () => {
    const text = 'timestamp,a,b\n' + Array.from({ length: 200 }, (_, i) => `${i},${i % 7},${i === 150 ? 99 : (i * 3) % 5}`).join('\n');
    const s = scoreSeriesText(text, 'm.csv', { ...fast, shingleSizes: [1], cooldown: 0, refractoryRows: 0 });
    expect(s.columns).toEqual(['a', 'b']);
    const out = [...formatScoredSeries(s)];
    expect(out[0]).toBe('timestamp,a,b,anomaly_score,raw_score,grade\n');
    expect(out).toHaveLength(201);
  });

  it('Kinesis mode is the compat forest\'s score, and anomaly_score = score / 8 clipped', () => {
    const text = series(400, 300);
    const s = scoreSeriesText(text, 'k.csv', { ...KINESIS_OPTIONS, numberOfTrees: 20 });
    const kda = new KinesisRandomCutForest(['value'], { numberOfTrees: 20, seed: KINESIS_OPTIONS.seed });
    const values = text.trim().split('\n').slice(1).map((l) => Number(l.split(',')[1]));
    expect(s.scores.map((r) => r.rawScore)).toEqual(values.map((v) => kda.score([v])));
    for (const r of s.scores) expect(r.anomalyScore).toBeCloseTo(Math.min(1, r.rawScore / 8), 12);
  });
});

describe('helpers', () => {
  it('running quantile over a sliding window', () => {
    const q = new RunningQuantile(4, 0.5);
    for (const v of [5, 1, 3, 2]) q.add(v);
    expect(q.value()).toBe(3); // sorted 1 2 3 5
    q.add(10); // drops 5
    expect(q.value()).toBe(3); // sorted 1 2 3 10
    q.add(0); // drops 1
    expect(q.value()).toBe(3); // sorted 0 2 3 10
  });

  it('cool-down passes a score only if it beats the recent ones', () => {
    const c = new CoolDown(3);
    expect([0.5, 0.4, 0.6, 0.6, 0.1, 0.1, 0.1, 0.2].map((s) => c.apply(s))).toEqual([0.5, 0, 0.6, 0, 0, 0, 0, 0.2]);
  });

  it('refractory: a ramp of reported scores is one alarm; a much stronger row or a later one still passes', () => {
    const r = new Refractory(3, 0.1);
    // Rows 0-3: a ramp (each below 1.1 x the last passed 0.5 would need 0.55); row 4 beats it by > 10%;
    // row 9 is more than 3 rows after the last passed one (row 4) and passes although lower.
    const scores = [0.5, 0.52, 0.54, 0, 0.6, 0, 0, 0, 0, 0.3];
    expect(scores.map((s) => r.apply(s))).toEqual([0.5, 0, 0, 0, 0.6, 0, 0, 0, 0, 0.3]);
    const off = new Refractory(0, 0.1);
    expect(scores.map((s) => off.apply(s))).toEqual(scores);
  });

  it('event yardstick: divides by a power of the median past event, after minEvents events', () => {
    const e = new EventYardstick({ eventWindow: 2, eventPower: 0.5, minEvents: 2, eventHistory: 10 });
    // events (beat the previous 2 ratios): 4 (row 0), 9 (row 3); row 4 is judged against median {4, 9} = 9
    const out = [4, 1, 1, 9, 9, 1].map((r) => e.apply(r));
    expect(out.slice(0, 4)).toEqual([0, 0, 0, 0]);
    expect(out[4]).toBeCloseTo(9 / 3, 12);
    expect(out[5]).toBeCloseTo(1 / 3, 12);
  });

  it('the probation period is NAB\'s: 15% of the rows, at most 750; the cool-down is a share of it when known', () => {
    expect([1243, 1643, 4032, 5000, 5001, 10320, 15902].map(seriesProbation)).toEqual([186, 246, 604, 750, 750, 750, 750]);
    const o = { cooldown: 500, cooldownShare: 0.55 };
    expect(cooldownRows(o, 604)).toBe(332);
    expect(cooldownRows(o, 186)).toBe(102);
    expect(cooldownRows(o, 750)).toBe(413);
    expect(cooldownRows(o, 0)).toBe(1);
    // Unknown probation, or no share: the fixed row count.
    expect(cooldownRows(o)).toBe(500);
    expect(cooldownRows({ cooldown: 500, cooldownShare: 0 }, 604)).toBe(500);
  });

  it('a short series\' second event is reported with the probation cool-down, not with a fixed 500 rows', () => {
    // 1000 rows (probation 150, cool-down 0.55 x 150 = 83 rows): spikes at rows 400 and 600, the second smaller.
    const values = Array.from({ length: 1000 }, (_, i) => (i === 400 ? 90 : i === 600 ? 60 : 10 + Math.sin(i / 6) + 0.1 * ((i * 7919) % 13)));
    const run = (o: typeof fast, probation?: number) => {
      const d = new SeriesDetector(1, o, [{ min: 0, max: 100 }], probation);
      return values.map((v) => d.process([v]).anomalyScore);
    };
    const byShare = run({ ...fast, cooldownShare: 0.55, cooldown: 500 }, seriesProbation(values.length));
    const fixed = run({ ...fast, cooldownShare: 0, cooldown: 500 }, seriesProbation(values.length));
    expect(byShare[400]).toBeGreaterThan(0.5);
    expect(byShare[600]).toBeGreaterThan(0.5);
    expect(fixed[400]).toBe(byShare[400]);
    expect(fixed[600]).toBe(0);
    // The same share without a known probation falls back to the fixed rows.
    expect(run({ ...fast, cooldownShare: 0.55, cooldown: 500 })).toEqual(fixed);
    expect(() => new SeriesDetector(1, fast, undefined, 1.5)).toThrow(/probationRows/);
  });

  it('range excess lifts a value far beyond everything seen above one just beyond it', () => {
    const opts = { ...fast, shingleSizes: [1], cooldown: 0, refractoryRows: 0 };
    const run = (spike: number) => {
      const d = new SeriesDetector(1, opts, [{ min: 0, max: 1000 }]);
      let last = 0;
      for (let i = 0; i < 400; i++) last = d.process([i === 399 ? spike : 10 + Math.sin(i / 6)]).anomalyScore;
      return last;
    };
    expect(run(900)).toBeGreaterThan(run(30));
  });
});

describe('series detector options, ranges and rows, as a library user gives them', () => {
  const small = { numberOfTrees: 10, sampleSize: 64, minHistory: 20, history: 500 };

  it('refuses option values of the wrong kind instead of reading them by truthiness', () => {
    const bad: [Record<string, unknown>, RegExp][] = [
      [{ mapping: 'Quantile' }, /mapping must be one of quantile, scaled, grade, got Quantile/],
      [{ weekly: 'false' }, /weekly must be a boolean, got false/],
      [{ differences: 1 }, /differences must be a boolean, got 1/],
      [{ timeDecay: Number.POSITIVE_INFINITY }, /timeDecay must be a finite number, got Infinity/],
      [{ recurrenceShare: Number.POSITIVE_INFINITY }, /recurrenceShare must be a finite number/],
      [{ alarmMemoryPower: 100 }, /alarmMemoryPower must be in \[0, 16\], got 100/],
      [{ shingleSizes: 4 }, /shingleSizes must be a list/],
      [{ eventWindow: 100_000 }, /eventWindow must be an integer in \[0, 75000\]/],
      [{ history: 50 }, /minHistory \(100\) must be at most history \(50\)/],
      [{ eventHistory: 4 }, /minEvents \(5\) must be at most eventHistory \(4\)/],
    ];
    for (const [options, message] of bad) expect(() => new SeriesDetector(1, options as never), JSON.stringify(options)).toThrow(message);
  });

  it('takes an option given as undefined as its default, and keeps its own copy of the options', () => {
    const shingles = [1, 4];
    const d = new SeriesDetector(1, { ...small, seed: undefined, shingleSizes: shingles });
    expect(d.options.seed).toBe(DEFAULT_SERIES_OPTIONS.seed);
    shingles.push(8);
    expect(d.options.shingleSizes).toEqual([1, 4]);
    expect(Object.isFrozen(d.options) && Object.isFrozen(d.options.shingleSizes)).toBe(true);
    expect(Object.isFrozen(DEFAULT_SERIES_OPTIONS) && Object.isFrozen(DEFAULT_SERIES_OPTIONS.shingleSizes)).toBe(true);
  });

  it('refuses ranges that cannot scale a column, and measures a single-value range from its value', () => {
    expect(() => new SeriesDetector(1, small, [{ min: 100, max: 0 }])).toThrow(/range 1 must have finite min <= max, got 100 to 0/);
    expect(() => new SeriesDetector(1, small, [{ min: 0, max: Number.POSITIVE_INFINITY }])).toThrow(/range 1 must have finite min/);
    expect(() => new SeriesDetector(1, small, [{ min: -1e308, max: 1e308 }])).toThrow(/range 1 must have finite min/);
    // A column configured as always 50: a spike to 99 must still show.
    const d = new SeriesDetector(1, { ...small, cooldown: 20, cooldownShare: 0 }, [{ min: 50, max: 50 }]);
    const scores = Array.from({ length: 400 }, (_, i) => d.process([i === 350 ? 99 : 50 + ((i * 7919) % 5) / 10]).anomalyScore);
    expect(scores[350]).toBeGreaterThan(0.5);
    expect(Math.max(...scores)).toBe(scores[350]);
  });

  it('refuses a value the forests cannot hold before anything learns from it', () => {
    const clean = new SeriesDetector(1, { ...small, differences: true });
    const tried = new SeriesDetector(1, { ...small, differences: true });
    const rows = Array.from({ length: 200 }, (_, i) => 10 + Math.sin(i / 5));
    const expected = rows.map((v) => clean.process([v]));
    const got = rows.map((v, i) => {
      if (i === 150) expect(() => tried.process([1e308])).toThrow(/value 1 \(1e\+308\) is outside what the forests hold: \|value\| <= 1\.7e\+38/);
      return tried.process([v]);
    });
    expect(got).toEqual(expected);
    const narrow = new SeriesDetector(1, small, [{ min: 0, max: 1e-40 }]);
    expect(() => narrow.process([1])).toThrow(/once scaled by its range/);
    expect(narrow.rowsSeen).toBe(0);
    expect(() => new SeriesDetector(1).process(null as never)).toThrow(/values must be an array of numbers, one per column/);
  });

  it('refuses a probation period whose cool-down would look back further than it can', () => {
    expect(() => new SeriesDetector(1, small, undefined, 200_000)).toThrow(/the cool-down \(cooldownShare 0.55 of 200000 probation rows\) must be at most 75000 rows, got 110000/);
    expect(new SeriesDetector(1, small, undefined, 100_000).probationRows).toBe(100_000);
  });
});
