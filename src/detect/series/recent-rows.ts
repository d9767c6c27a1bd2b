import type { ByteReader, ByteWriter } from '../../rcf/bytes.js';
import { corrupt, readCount, readNumbers, writeNumbers } from './state-io.js';

/**
 * Values kept at most (rows × columns), whatever the series' rate and width: 64 MiB of them, up to
 * twice that between compactions, and the rows' times beside them.
 */
export const MAX_KEPT_VALUES = 8 * 1024 * 1024;

/**
 * How much earlier than the last kept row a row may come and still be a late row rather than a
 * restart; also how far after it a row may come before it is held (see `RecentRows`).
 */
export const LATE_ROW_MS = 6 * 3_600_000;

/**
 * The timed rows of the last `horizonMs`, oldest first, for lookups by time (the same time a day
 * or a week ago). Values are flattened by column. At most `MAX_KEPT_VALUES` values are kept: on a
 * series too fast or too wide for that, the oldest rows go first and lookups that far back find
 * nothing. A row without a finite time, or at the last kept row's time, is not kept. A row at most
 * `LATE_ROW_MS` earlier than the last kept one came late (a live feed delivers some rows out of
 * order): it is not kept either (`late` counts those), so one late row does not cost the week of
 * rows the lookups need. A row further back means the clock went back, and the rows start again
 * from it (`restarts` counts those).
 *
 * A row more than `LATE_ROW_MS` after the last kept one is held, not kept, until the next timed
 * row says which it was: a gap in the series (the next row comes at most `LATE_ROW_MS` before it
 * or after it: the held row is kept, as it would have been at once) or a row stamped ahead (the
 * next row comes earlier than that: the held row is dropped, `ahead` counts it, and the next row
 * carries on from the kept rows, unless it is more than `LATE_ROW_MS` before them too: then the
 * clock went back, and the rows start again from it). Kept at once, a
 * row stamped a day ahead would push the week's rows past the horizon, and the next row, a day
 * before it, would start the rows again: one wrong timestamp would cost the lookups a week.
 * `settle` must see each row's time before its lookups, so that a gap's held row is kept by then.
 */
export class RecentRows {
  private times: number[] = [];
  private values: number[] = [];
  /** Index of the oldest row still kept; rows before it are waiting to be compacted away. */
  private head = 0;
  private readonly maxRows: number;
  /** Rows that came more than `LATE_ROW_MS` earlier than the last kept row, each dropping the kept rows. */
  restarts = 0;
  /** Rows that came earlier than the last kept row by at most `LATE_ROW_MS`, not kept. */
  late = 0;
  /** Held rows dropped because the next row came more than `LATE_ROW_MS` before them: stamped ahead. */
  ahead = 0;
  /** Time of the held row (NaN: none) and its values. */
  private heldTime = Number.NaN;
  private readonly heldValues: Float64Array;

  constructor(
    readonly columns: number,
    readonly horizonMs: number,
    maxValues = MAX_KEPT_VALUES,
  ) {
    if (!Number.isInteger(columns) || columns < 1) throw new RangeError(`columns must be a positive integer, got ${columns}`);
    if (!(horizonMs > 0)) throw new RangeError(`horizon must be > 0 ms, got ${horizonMs}`);
    this.maxRows = Math.max(1, Math.floor(maxValues / columns));
    this.heldValues = new Float64Array(columns);
  }

  /** Refuses to serve `user` when this store forgets rows it needs (`needMs` back). */
  requireHorizon(needMs: number, user: string): void {
    if (this.horizonMs < needMs) throw new RangeError(`recent rows keep ${this.horizonMs} ms, ${user} needs ${needMs}`);
  }

  /** Time of the last kept row (NaN before any). */
  get lastTime(): number {
    return this.times.length > this.head ? (this.times[this.times.length - 1] as number) : Number.NaN;
  }

  /** Whether a row at `time` is judged against the kept rows: a finite time after the last kept row. */
  accepts(time: number): boolean {
    return Number.isFinite(time) && !(time <= this.lastTime);
  }

  /**
   * Settles the held row, if any, by the time of the row that follows it (see the class comment).
   * Call with each row's time before its lookups; a row without a finite time settles nothing.
   */
  settle(time: number): void {
    if (Number.isNaN(this.heldTime) || !Number.isFinite(time)) return;
    const held = this.heldTime;
    this.heldTime = Number.NaN;
    if (time >= held - LATE_ROW_MS) this.append(this.heldValues, held);
    // Far before the kept rows too: the clock went back, and `keep` starts the rows again (as it
    // did when the held row was kept at once).
    else if (!(time < this.lastTime - LATE_ROW_MS)) this.ahead++;
    // Nothing held is all zeros, so a state's bytes depend on what it holds only.
    this.heldValues.fill(0);
  }

  /** Keeps the row (see the class comment for the rows it does not keep); drops rows past the horizon or the cap. */
  keep(values: ArrayLike<number>, time: number): void {
    if (!Number.isFinite(time)) return;
    this.settle(time);
    const last = this.lastTime;
    if (time === last) return;
    if (time < last && last - time <= LATE_ROW_MS) {
      this.late++;
      return;
    }
    if (time < last) {
      this.restarts++;
      this.times = [];
      this.values = [];
      this.head = 0;
    } else if (time - last > LATE_ROW_MS) {
      this.heldTime = time;
      for (let col = 0; col < this.columns; col++) this.heldValues[col] = values[col] as number;
      return;
    }
    this.append(values, time);
  }

  private append(values: ArrayLike<number>, time: number): void {
    this.times.push(time);
    for (let col = 0; col < this.columns; col++) this.values.push(values[col] as number);
    const oldest = time - this.horizonMs;
    while ((this.times[this.head] as number) < oldest || this.times.length - this.head > this.maxRows) this.head++;
    if (this.head > 4096 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.values = this.values.slice(this.head * this.columns);
      this.head = 0;
    }
  }

  /** The kept rows only (rows waiting to be compacted away are not state), then the held row. */
  writeState(w: ByteWriter): void {
    w.f64(this.restarts);
    w.f64(this.late);
    writeNumbers(w, this.times, this.head);
    writeNumbers(w, this.values, this.head * this.columns);
    w.f64(this.ahead);
    w.f64(this.heldTime);
    w.array(this.heldValues);
  }

  /** `withHeld`: whether the state has the held row and `ahead` (series state layout 3 on). */
  readState(r: ByteReader, withHeld: boolean): void {
    this.restarts = readCount(r, 'recent rows restarts');
    this.late = readCount(r, 'late rows');
    const times = readNumbers(r, this.maxRows, 'recent row times');
    for (let i = 0; i < times.length; i++) {
      if (!Number.isFinite(times[i]) || (i > 0 && !((times[i] as number) > (times[i - 1] as number)))) throw corrupt('recent row times out of order');
    }
    const values = readNumbers(r, times.length * this.columns, 'recent row values');
    if (values.length !== times.length * this.columns) throw corrupt(`${values.length} recent values for ${times.length} rows`);
    if (!values.every(Number.isFinite)) throw corrupt('a recent row value that is not finite');
    this.times = Array.from(times);
    this.values = Array.from(values);
    this.head = 0;
    this.ahead = 0;
    this.heldTime = Number.NaN;
    this.heldValues.fill(0);
    if (!withHeld) return;
    this.ahead = readCount(r, 'rows stamped ahead');
    const held = r.f64('held row time');
    r.into(this.heldValues, this.columns, 'held row values');
    if (Number.isNaN(held)) {
      if (!this.heldValues.every((v) => v === 0)) throw corrupt('values for a held row when none is held');
    } else {
      if (!Number.isFinite(held) || !this.heldValues.every(Number.isFinite)) throw corrupt('a held row that is not finite');
      if (!(times.length > 0 && held - (times[times.length - 1] as number) > LATE_ROW_MS)) throw corrupt('a held row that does not come more than 6 hours after the kept rows');
    }
    this.heldTime = held;
  }

  /** Index range of the kept rows: [start, end). */
  get start(): number {
    return this.head;
  }

  get end(): number {
    return this.times.length;
  }

  time(row: number): number {
    return this.times[row] as number;
  }

  value(row: number, column: number): number {
    return this.values[row * this.columns + column] as number;
  }

  /** First kept row at or after `t` (`end` when none). */
  lowerBound(t: number): number {
    let lo = this.head;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.times[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** The kept row nearest to `t` within `tolerance` ms (the earlier on a tie), or -1. */
  nearest(t: number, tolerance: number): number {
    const right = this.lowerBound(t);
    const left = right - 1;
    const dRight = right < this.times.length ? (this.times[right] as number) - t : Number.POSITIVE_INFINITY;
    const dLeft = left >= this.head ? t - (this.times[left] as number) : Number.POSITIVE_INFINITY;
    const best = dLeft <= dRight ? left : right;
    return Math.min(dLeft, dRight) <= tolerance ? best : -1;
  }

  /** Largest over columns of |values - row|. */
  distance(values: ArrayLike<number>, row: number): number {
    let worst = 0;
    const base = row * this.columns;
    for (let col = 0; col < this.columns; col++) {
      const d = Math.abs((values[col] as number) - (this.values[base + col] as number));
      if (d > worst) worst = d;
    }
    return worst;
  }
}
