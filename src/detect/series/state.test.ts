import { describe, expect, it } from 'vitest';
import { ByteReader, ByteWriter, KIND_SERIES_DETECTOR, open, seal } from '../../rcf/bytes.js';
import { RcfStateError, ThresholdedForest } from '../../rcf/index.js';
import { DEFAULT_SERIES_OPTIONS, type RowScore, RunningQuantile, SeriesDetector } from './detector.js';

// Every part on (two forests, weekly view, daily recurrence, alarm memory, cool-down as a share
// of probation), with small forests so the test stays quick.
const options = { numberOfTrees: 12, sampleSize: 128, minHistory: 20, history: 3000, minEvents: 2, seed: 11 };
const HOUR = 3_600_000;
const START = Date.UTC(2024, 0, 1);

/** Five weeks of hourly rows, two columns: a daily and weekly rhythm, a nightly job, bursts. */
function rows(): { time: number; values: [number, number] }[] {
  let x = 12345;
  const noise = () => {
    x = (x * 1103515245 + 12345) % 2147483648;
    return x / 2147483648;
  };
  const out: { time: number; values: [number, number] }[] = [];
  for (let i = 0; i < 5 * 168; i++) {
    const hour = i % 24;
    const weekend = Math.floor(i / 24) % 7 >= 5;
    let requests = (weekend ? 300 : 1000) + 400 * Math.sin((2 * Math.PI * hour) / 24) + 60 * noise();
    let cpu = 20 + 5 * noise() + (hour === 3 ? 50 : 0);
    if (i % 97 === 50) requests += 900;
    if (i === 700) cpu = 99;
    out.push({ time: START + i * HOUR, values: [requests, cpu] });
  }
  return out;
}

const ranges = [
  { min: 0, max: 2500 },
  { min: 0, max: 100 },
];

function detector(): SeriesDetector {
  return new SeriesDetector(2, options, ranges, 126);
}

describe('series detector state', () => {
  it('restores to the same later scores as an uninterrupted run, from any row', () => {
    const series = rows();
    const whole = detector();
    const expected: RowScore[] = series.map((r) => whole.process(r.values, r.time));
    // The run must have alarms for the alarm memory and the refractory margin to matter.
    expect(expected.filter((s) => s.anomalyScore > 0).length).toBeGreaterThan(3);

    for (const at of [0, 1, 100, 400, 600]) {
      const first = detector();
      for (const r of series.slice(0, at)) first.process(r.values, r.time);
      const saved = first.toState();
      const resumed = SeriesDetector.fromState(saved);
      expect(resumed.rowsSeen).toBe(at);
      // What was restored writes the same bytes: nothing was lost or rebuilt differently.
      expect(resumed.toState()).toEqual(saved);
      const later = series.slice(at).map((r) => resumed.process(r.values, r.time));
      expect(later).toEqual(expected.slice(at));
    }
  });

  it('keeps its options, columns, ranges and probation period', () => {
    const d = SeriesDetector.fromState(detector().toState());
    expect(d.options).toEqual({ ...DEFAULT_SERIES_OPTIONS, ...options });
    expect(d.columns).toBe(2);
    expect(d.ranges).toEqual(ranges);
    expect(d.probationRows).toBe(126);
    const bare = SeriesDetector.fromState(new SeriesDetector(1).toState());
    expect(bare.ranges).toBeUndefined();
    expect(bare.probationRows).toBeUndefined();
  });

  it('refuses bytes that are not a whole series detector state', () => {
    const d = detector();
    for (const r of rows().slice(0, 200)) d.process(r.values, r.time);
    const saved = d.toState();

    const flipped = saved.slice();
    flipped[saved.length >> 1] = (saved[saved.length >> 1] as number) ^ 1;
    expect(() => SeriesDetector.fromState(flipped)).toThrow(/checksum mismatch/);
    expect(() => SeriesDetector.fromState(saved.subarray(0, saved.length - 100))).toThrow(/truncated/);
    const forest = new ThresholdedForest({ dimensions: 1 }).toState();
    expect(() => SeriesDetector.fromState(forest)).toThrow(/holds a ThresholdedForest, expected a SeriesDetector/);
    expect(() => ThresholdedForest.fromState(saved)).toThrow(/holds a SeriesDetector, expected a ThresholdedForest/);
  });

  it('reads version-1 and version-2 states (before the held row; before `explain`) and carries on as the detector that wrote them', () => {
    const series = rows();
    const whole = new SeriesDetector(2, options);
    series.slice(0, 400).forEach((p) => whole.process(p.values, p.time));
    const r = open(whole.toState(), KIND_SERIES_DETECTOR);
    expect(r.u16()).toBe(3);
    const text = new Uint8Array(r.u32());
    r.into(text);
    const rest = new Uint8Array(r.remaining);
    r.into(rest);
    // Version 2's bytes are 3's without the recent rows' trailer: no row stamped ahead, no row
    // held (time NaN), the held row's two values 0. It comes once in these bytes, or the test says so.
    const trailer = new ByteWriter();
    trailer.f64(0);
    trailer.f64(Number.NaN);
    trailer.f64(0);
    trailer.f64(0);
    const pattern = trailer.bytes();
    const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
    const at = hex(rest).indexOf(hex(pattern));
    expect(at % 2).toBe(0);
    expect(hex(rest).indexOf(hex(pattern), at + 1)).toBe(-1);
    const restV2 = new Uint8Array([...rest.subarray(0, at / 2), ...rest.subarray(at / 2 + pattern.length)]);
    const options2 = JSON.parse(new TextDecoder().decode(text)) as Record<string, unknown>;
    expect(options2.explain).toBe(true);
    const options1 = { ...options2 };
    delete options1.explain;
    const legacy = (version: number, o: Record<string, unknown>) =>
      seal(KIND_SERIES_DETECTOR, (w) => {
        w.u16(version);
        const t = new TextEncoder().encode(JSON.stringify(o));
        w.u32(t.length);
        w.array(t);
        w.array(restV2);
      });
    const v1 = SeriesDetector.fromState(legacy(1, options1));
    const v2 = SeriesDetector.fromState(legacy(2, options2));
    expect(v1.options.explain).toBe(true);
    const later = series.slice(400);
    const expected = later.map((p) => whole.process(p.values, p.time));
    expect(later.map((p) => v1.process(p.values, p.time))).toEqual(expected);
    expect(later.map((p) => v2.process(p.values, p.time))).toEqual(expected);
    // Version 2's bytes read as version 3 run out where the trailer should be.
    expect(() => SeriesDetector.fromState(legacy(3, options2))).toThrow(RcfStateError);
  });

  it('carries a held row and the rows stamped ahead across a restore', () => {
    const series = rows().slice(0, 500);
    // Row 300 stamped two days ahead; row 450 starts a gap of a day.
    const timed = series.map((p, i) => ({ ...p, time: i === 300 ? p.time + 48 * HOUR : i >= 450 ? p.time + 24 * HOUR : p.time }));
    const whole = new SeriesDetector(2, options);
    const cut = [301, 451];
    const restored: RowScore[] = [];
    let d = new SeriesDetector(2, options);
    for (const [i, p] of timed.entries()) {
      if (cut.includes(i)) d = SeriesDetector.fromState(d.toState());
      restored.push(d.process(p.values, p.time));
    }
    expect(timed.map((p) => whole.process(p.values, p.time))).toEqual(restored);
    expect(d.aheadRows).toBe(1);
    expect(whole.aheadRows).toBe(1);
    expect(d.timeRestarts).toBe(0);
  });

  it('refuses a sealed state whose contents are wrong', () => {
    // Room for three of the smallest forests (one tree, sample size 2), so the column count is what is judged.
    const optionsOf = (json: string, columns: number, version = 1) =>
      seal(KIND_SERIES_DETECTOR, (w) => {
        w.u16(version);
        const text = new TextEncoder().encode(json);
        w.u32(text.length);
        w.array(text);
        w.u32(columns);
        w.array(new Uint8Array(300));
      });
    expect(() => SeriesDetector.fromState(optionsOf('{}', 1, 4))).toThrow(/series detector state version 4 is not this flowcut's \(3\)/);
    expect(() => SeriesDetector.fromState(optionsOf('{"numberOfTrees":', 1))).toThrow(RcfStateError);
    expect(() => SeriesDetector.fromState(optionsOf('{"trees":5}', 1))).toThrow(/corrupt \(unknown series detector option 'trees'\)/);
    // A column count the bytes cannot back is refused before anything is allocated.
    expect(() => SeriesDetector.fromState(optionsOf('{"numberOfTrees":1,"sampleSize":2}', 0xfffffff0))).toThrow(/corrupt \(4294967280 columns in 300 bytes\)/);
    // Ten columns take 176 bytes each here (values, shingles, the recurrence's and the alarm memory's rows).
    expect(() => SeriesDetector.fromState(optionsOf('{"numberOfTrees":1,"sampleSize":2}', 10))).toThrow(/corrupt \(10 columns in 300 bytes\)/);

    // Options that build other forests than the ones stored.
    const d = new SeriesDetector(1, { numberOfTrees: 5, sampleSize: 32 });
    d.process([1], START);
    const saved = d.toState();
    // After the container's 12-byte header: the layout version (2 bytes), the options' length and text.
    const text = new TextDecoder().decode(saved.subarray(18, 18 + new DataView(saved.buffer, saved.byteOffset).getUint32(14, true)));
    const other = text.replace('"numberOfTrees":5', '"numberOfTrees":6');
    expect(other).not.toBe(text);
    const forged = seal(KIND_SERIES_DETECTOR, (w) => {
      w.u16(1);
      const bytes = new TextEncoder().encode(other);
      w.u32(bytes.length);
      w.array(bytes);
      w.array(saved.subarray(18 + text.length, saved.length - 4));
    });
    expect(() => SeriesDetector.fromState(forged)).toThrow(/corrupt \(forest 1 is not configured as the detector's options say\)/);
  });

  it('refuses an option that does not exist rather than ignoring it', () => {
    expect(() => new SeriesDetector(1, { sampelSize: 64 } as never)).toThrow(/unknown series detector option 'sampelSize'/);
    expect(new SeriesDetector(1, { sampleSize: 64 }).options.sampleSize).toBe(64);
  });
});

describe('series detector state, at the edges', () => {
  it('restores a quantile over more past scores than a call can spread (history 150,000)', () => {
    const q = new RunningQuantile(150_000, 0.99);
    for (let i = 0; i < 160_000; i++) q.add((i * 7919) % 100_003);
    const w = new ByteWriter();
    q.writeState(w);
    const bytes = w.bytes();
    const back = new RunningQuantile(150_000, 0.99);
    back.readState(new ByteReader(bytes, 0, bytes.length), 'scores');
    expect(back.size).toBe(150_000);
    for (let i = 0; i < 1000; i++) {
      q.add(i * 31);
      back.add(i * 31);
    }
    expect(back.value()).toBe(q.value());
  });

  it('refuses options that claim forests its bytes cannot hold, before building them', () => {
    const claim = seal(KIND_SERIES_DETECTOR, (w) => {
      w.u16(1);
      const text = new TextEncoder().encode(JSON.stringify({ numberOfTrees: 1000, sampleSize: 32767 }));
      w.u32(text.length);
      w.array(text);
      w.u32(1);
      w.array(new Uint8Array(40));
    });
    expect(() => SeriesDetector.fromState(claim)).toThrow(
      /corrupt \(its options claim 3 forests of 1000 trees of sample size 32767, which take at least 1966146000 bytes; 44 remain\)/,
    );
  });
});
