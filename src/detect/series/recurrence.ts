import type { ByteReader, ByteWriter } from '../../rcf/bytes.js';
import { LastRows, upperMedian } from './last-rows.js';
import type { RecentRows } from './recent-rows.js';

export const DAY_MS = 86_400_000;
/** Rows further apart than this say nothing about the time of day (daily or coarser series). */
export const MAX_STEP_MS = DAY_MS / 4;
/** Days looked back at most: the work per row grows with them. */
export const MAX_RECURRENCE_DAYS = 60;
/** Rows in the recent level at most. */
export const MAX_LEVEL_ROWS = 10_000;

export interface DailyRecurrenceOptions {
  /** Days back to look for the same values at the same time of day. */
  readonly days: number;
  /** Of those days, how many must have come close: a routine recurs on most days, a coincidence on one. */
  readonly minDays: number;
  /** How far from the same time of day a match may lie, in ms; at least one row step is always allowed. */
  readonly toleranceMs: number;
  /** Rows whose per-column median is the recent level a deviation is measured from. */
  readonly levelRows: number;
  /** A match within `share` × the deviation from the recent level starts discounting. */
  readonly share: number;
  /** Power of the discount: factor = min(1, match / (share × deviation)) ^ power. */
  readonly power: number;
  /** Rows compared per earlier day at most, nearest the same time of day first (bounds the work on sub-minute series). */
  readonly maxCompared?: number;
}

/**
 * How routine a row's departure from the recent level is: a CPU spike from a nightly backup, or
 * a burst from a daily batch, came at the same time of day before, and is routine however sharp
 * it looks. A forest's sample holds only a point or two of a once-a-day shape, so the forests go
 * on finding it rare; this finds it in the rows of the last `days` days instead.
 *
 * `factor` compares the row with the rows within the tolerance of the same time on each of the
 * last `days` days (the `maxCompared` nearest that time at most: on a series of sub-second to
 * few-second rows the tolerance shrinks to that many rows) (the distance of two rows is the largest over columns) and with the recent
 * level (per-column median of the last `levelRows` rows). Each day's closest row is that day's
 * match; m is the `minDays`-th best of them, so m is small only when at least `minDays` days came
 * close. Against the deviation from the level d it gives min(1, m / (share × d)) ^ power: 1 when
 * too few days at that time of day come close, towards 0 when they repeated the row. Only rows
 * already seen count.
 */
export class DailyRecurrence {
  private readonly o: DailyRecurrenceOptions;
  private readonly dayMatches: Float64Array;
  private readonly maxCompared: number;
  /** The rows the recent level is the median of. */
  private readonly level: LastRows;
  private readonly scratch: number[] = [];

  /**
   * `rows`: the series' recent timed rows, kept by the caller after each `factor` (so that other
   * time lookups can share them); its horizon must reach `recurrenceHorizonMs(days)`.
   */
  constructor(
    private readonly rows: RecentRows,
    o: DailyRecurrenceOptions,
  ) {
    validateRecurrence(o);
    rows.requireHorizon(recurrenceHorizonMs(o.days), 'the recurrence');
    this.o = o;
    this.dayMatches = new Float64Array(o.days);
    this.maxCompared = o.maxCompared ?? 512;
    this.level = new LastRows(rows.columns, o.levelRows);
  }

  /**
   * The discount for a row in (0, 1] (1 = nothing routine about it), judged against earlier rows
   * only; then the row joins the recent level. `time` is epoch ms; a row without a time, or out of
   * order, is not discounted (and `RecentRows` will not keep it).
   */
  factor(values: ArrayLike<number>, time: number): number {
    const step = time - this.rows.lastTime;
    let out = 1;
    if (this.rows.accepts(time) && step <= MAX_STEP_MS && this.level.size > 0) {
      const deviation = this.deviation(values);
      if (deviation > 0) {
        const match = this.dayMatch(values, time, Math.max(this.o.toleranceMs, step));
        if (match < Number.POSITIVE_INFINITY) out = Math.min(1, match / (this.o.share * deviation)) ** this.o.power;
      }
    }
    this.level.push(values);
    return out;
  }

  /** The recent level's rows; the day lookups use the shared `RecentRows`, saved by its owner. */
  writeState(w: ByteWriter): void {
    this.level.writeState(w);
  }

  readState(r: ByteReader): void {
    this.level.readState(r, 'recurrence level rows');
  }

  /** Largest over columns of |value - median of the last levelRows rows|. */
  private deviation(values: ArrayLike<number>): number {
    const s = this.scratch;
    let worst = 0;
    for (let col = 0; col < this.level.columns; col++) {
      s.length = 0;
      for (let back = 0; back < this.level.size; back++) s.push(this.level.value(back, col));
      const d = Math.abs((values[col] as number) - upperMedian(s));
      if (d > worst) worst = d;
    }
    return worst;
  }

  /** The `minDays`-th smallest of the days' closest distances; infinite when fewer days have rows there. */
  private dayMatch(values: ArrayLike<number>, time: number, tolerance: number): number {
    const matches = this.dayMatches;
    let found = 0;
    for (let d = 1; d <= this.o.days; d++) {
      const best = this.closestOnDay(values, time - d * DAY_MS, tolerance);
      if (best < Number.POSITIVE_INFINITY) matches[found++] = best;
    }
    if (found < this.o.minDays) return Number.POSITIVE_INFINITY;
    return matches.subarray(0, found).sort()[this.o.minDays - 1] as number;
  }

  private closestOnDay(values: ArrayLike<number>, centre: number, tolerance: number): number {
    const rows = this.rows;
    let best = Number.POSITIVE_INFINITY;
    // Outward from the same time of day, so a cap on compared rows keeps the nearest ones.
    let right = rows.lowerBound(centre);
    let left = right - 1;
    for (let compared = 0; compared < this.maxCompared; compared++) {
      const rightOk = right < rows.end && rows.time(right) <= centre + tolerance;
      const leftOk = left >= rows.start && rows.time(left) >= centre - tolerance;
      if (!rightOk && !leftOk) break;
      const takeRight = rightOk && (!leftOk || rows.time(right) - centre <= centre - rows.time(left));
      const dist = rows.distance(values, takeRight ? right++ : left--);
      if (dist < best) best = dist;
    }
    return best;
  }
}

/** How far back the recurrence looks: `days` plus the largest tolerance a judged row can have. */
export function recurrenceHorizonMs(days: number): number {
  return days * DAY_MS + MAX_STEP_MS;
}

export function validateRecurrence(o: DailyRecurrenceOptions): void {
  if (!(Number.isInteger(o.days) && o.days >= 1 && o.days <= MAX_RECURRENCE_DAYS)) {
    throw new RangeError(`recurrence days must be an integer in [1, ${MAX_RECURRENCE_DAYS}], got ${o.days}`);
  }
  if (!(Number.isInteger(o.minDays) && o.minDays >= 1 && o.minDays <= o.days)) {
    throw new RangeError(`recurrence min days must be an integer from 1 to the recurrence days (${o.days}), got ${o.minDays}`);
  }
  if (!(o.toleranceMs >= 0 && o.toleranceMs <= MAX_STEP_MS)) throw new RangeError(`recurrence tolerance must be 0 to 360 minutes, got ${o.toleranceMs / 60_000}`);
  if (!(Number.isInteger(o.levelRows) && o.levelRows >= 1 && o.levelRows <= MAX_LEVEL_ROWS)) {
    throw new RangeError(`recurrence level rows must be an integer in [1, ${MAX_LEVEL_ROWS}], got ${o.levelRows}`);
  }
  if (!(o.share > 0)) throw new RangeError(`recurrence share must be > 0, got ${o.share}`);
  if (!(o.power >= 0)) throw new RangeError(`recurrence power must be >= 0, got ${o.power}`);
  if (o.maxCompared !== undefined && !(Number.isInteger(o.maxCompared) && o.maxCompared >= 1)) {
    throw new RangeError(`recurrence maxCompared must be an integer >= 1, got ${o.maxCompared}`);
  }
}
