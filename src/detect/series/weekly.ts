import type { ByteReader, ByteWriter } from '../../rcf/bytes.js';
import { corrupt, readCount, readFinite, readFlag } from './state-io.js';
import { DAY_MS, MAX_STEP_MS } from './recurrence.js';
import { upperMedian } from './last-rows.js';
import type { RecentRows } from './recent-rows.js';

export const WEEK_MS = 7 * DAY_MS;
/** Rows on each side of the week-old row at most (a day of hourly rows). */
export const MAX_WEEKLY_ROWS = 24;
/** How far from the same time a day or a week earlier the nearest row may lie (at least one row step). */
const NEAREST_TOLERANCE_MS = 30 * 60_000;

export interface WeeklyResidualOptions {
  /** Rows on each side of the row nearest the same time a week earlier; their median is the baseline. */
  readonly rows: number;
  /**
   * The weekly view counts only once a week has passed since the first row compared with both a
   * day and a week earlier, and the week-over-week changes add up to less than `rhythm` × the
   * day-over-day ones.
   */
  readonly rhythm: number;
}

/**
 * A row's departure from the same time a week earlier (value minus the median of the rows
 * around it), for a forest of its own: in a series driven by people's week (taxi rides, requests
 * to a consumer service) a holiday brings ordinary values at the wrong time, which neither the
 * values nor their short shapes show. It counts only while the series has a weekly rhythm, which
 * is measured as it goes: elsewhere the residual is noise added to the score.
 */
export class WeeklyResidual {
  private readonly rows: number;
  private readonly rhythm: number;
  private weekChange = 0;
  private dayChange = 0;
  private firstCompared = Number.NaN;
  private rhythmic = false;
  /** The store's restarts when last seen: after the clock went back, the rhythm is measured anew. */
  private restartsSeen = 0;
  private readonly scratch: number[] = [];

  /** `recent`: the series' recent timed rows, kept by the caller after each row; it must reach `weeklyHorizonMs(rows)`. */
  constructor(
    private readonly recent: RecentRows,
    o: WeeklyResidualOptions,
  ) {
    validateWeekly(o);
    recent.requireHorizon(weeklyHorizonMs(o.rows), 'the weekly residual');
    this.rows = o.rows;
    this.rhythm = o.rhythm;
  }

  /** Whether the last row passed to `residual` had a residual and found the series weekly (see `WeeklyResidualOptions.rhythm`). */
  get counts(): boolean {
    return this.rhythmic;
  }

  writeState(w: ByteWriter): void {
    w.f64(this.weekChange);
    w.f64(this.dayChange);
    w.f64(this.firstCompared);
    w.u8(this.rhythmic ? 1 : 0);
    w.f64(this.restartsSeen);
  }

  readState(r: ByteReader): void {
    this.weekChange = readFinite(r, 'weekly change');
    this.dayChange = readFinite(r, 'daily change');
    const first = r.f64('weekly first comparison');
    if (!(Number.isNaN(first) || Number.isFinite(first))) throw corrupt(`weekly first comparison ${first}`);
    this.firstCompared = first;
    this.rhythmic = readFlag(r, 'weekly rhythm');
    this.restartsSeen = readCount(r, 'weekly restarts seen');
  }

  /**
   * Writes each column's residual into `out` and returns true, or returns false when no row lies
   * near the same time a week earlier (or the row has no usable time). Updates the rhythm. Call
   * before the row is kept.
   */
  residual(values: ArrayLike<number>, time: number, out: Float64Array): boolean {
    const recent = this.recent;
    if (recent.restarts !== this.restartsSeen) {
      this.restartsSeen = recent.restarts;
      this.weekChange = 0;
      this.dayChange = 0;
      this.firstCompared = Number.NaN;
    }
    const step = time - recent.lastTime;
    // `counts` speaks of the last row judged; a row that cannot be judged is not weekly news.
    this.rhythmic = false;
    if (!recent.accepts(time) || !(step <= MAX_STEP_MS)) return false;
    const tolerance = Math.max(NEAREST_TOLERANCE_MS, step);
    const week = recent.nearest(time - WEEK_MS, tolerance);
    if (week < 0) return false;
    const day = recent.nearest(time - DAY_MS, tolerance);
    if (day >= 0) {
      this.weekChange += recent.distance(values, week);
      this.dayChange += recent.distance(values, day);
      if (Number.isNaN(this.firstCompared)) this.firstCompared = time;
    }
    this.rhythmic = time - this.firstCompared >= WEEK_MS && this.weekChange < this.rhythm * this.dayChange;
    const from = Math.max(recent.start, week - this.rows);
    const to = Math.min(recent.end - 1, week + this.rows);
    const s = this.scratch;
    for (let col = 0; col < recent.columns; col++) {
      s.length = 0;
      for (let j = from; j <= to; j++) s.push(recent.value(j, col));
      out[col] = (values[col] as number) - upperMedian(s);
    }
    return true;
  }
}

/** How far back the weekly residual looks: a week, the tolerance, and `rows` rows before it, each at most 6 h apart. */
export function weeklyHorizonMs(rows: number): number {
  return WEEK_MS + (rows + 1) * MAX_STEP_MS;
}

export function validateWeekly(o: WeeklyResidualOptions): void {
  if (!(Number.isInteger(o.rows) && o.rows >= 0 && o.rows <= MAX_WEEKLY_ROWS)) {
    throw new RangeError(`weekly rows must be an integer in [0, ${MAX_WEEKLY_ROWS}], got ${o.rows}`);
  }
  if (!(o.rhythm > 0)) throw new RangeError(`weekly rhythm must be > 0, got ${o.rhythm}`);
}
