const DAY_MS = 86_400_000;
/** Rows further apart than this say nothing about the time of day (daily or coarser series). */
const MAX_STEP_MS = DAY_MS / 4;

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
 * `factor` compares the row with every row within the tolerance of the same time on each of the
 * last `days` days (the distance of two rows is the largest over columns) and with the recent
 * level (per-column median of the last `levelRows` rows). Each day's closest row is that day's
 * match; m is the `minDays`-th best of them, so m is small only when at least `minDays` days came
 * close. Against the deviation from the level d it gives min(1, m / (share × d)) ^ power: 1 when
 * too few days at that time of day come close, towards 0 when they repeated the row. Only rows
 * already seen count.
 */
export class DailyRecurrence {
  private readonly columns: number;
  private readonly days: number;
  private readonly minDays: number;
  private readonly dayMatches: Float64Array;
  private readonly toleranceMs: number;
  private readonly share: number;
  private readonly power: number;
  private readonly maxCompared: number;
  /** Rows kept for matching, oldest first from `first`; values flattened by column. */
  private times: number[] = [];
  private values: number[] = [];
  private first = 0;
  private lastTime = Number.NaN;
  private readonly level: Float64Array;
  private readonly levelRows: number;
  private levelCount = 0;
  private readonly scratch: number[] = [];

  constructor(columns: number, o: DailyRecurrenceOptions) {
    if (!Number.isInteger(columns) || columns < 1) throw new RangeError(`columns must be a positive integer, got ${columns}`);
    validateRecurrence(o);
    this.columns = columns;
    this.days = o.days;
    this.minDays = o.minDays;
    this.dayMatches = new Float64Array(o.days);
    this.toleranceMs = o.toleranceMs;
    this.share = o.share;
    this.power = o.power;
    this.maxCompared = o.maxCompared ?? 512;
    this.levelRows = o.levelRows;
    this.level = new Float64Array(o.levelRows * columns);
  }

  /**
   * The discount for a row in (0, 1] (1 = nothing routine about it), judged against earlier rows
   * only; then the row is learnt. `time` is epoch ms; a row without a time, or out of order, is
   * not discounted and not kept for matching.
   */
  factor(values: ArrayLike<number>, time: number): number {
    const step = time - this.lastTime;
    const timed = Number.isFinite(time) && !(step <= 0);
    let out = 1;
    if (timed && step <= MAX_STEP_MS && this.levelCount > 0) {
      const deviation = this.deviation(values);
      if (deviation > 0) {
        const match = this.dayMatch(values, time, Math.max(this.toleranceMs, step));
        if (match < Number.POSITIVE_INFINITY) out = Math.min(1, match / (this.share * deviation)) ** this.power;
      }
    }
    this.learnLevel(values);
    if (timed) this.keep(values, time);
    return out;
  }

  /** Largest over columns of |value - median of the last levelRows rows|. */
  private deviation(values: ArrayLike<number>): number {
    const c = this.columns;
    const n = Math.min(this.levelCount, this.levelRows);
    const s = this.scratch;
    let worst = 0;
    for (let col = 0; col < c; col++) {
      s.length = 0;
      for (let j = 0; j < n; j++) s.push(this.level[j * c + col] as number);
      s.sort((a, b) => a - b);
      const d = Math.abs((values[col] as number) - (s[n >> 1] as number));
      if (d > worst) worst = d;
    }
    return worst;
  }

  /** The `minDays`-th smallest of the days' closest distances; infinite when fewer days have rows there. */
  private dayMatch(values: ArrayLike<number>, time: number, tolerance: number): number {
    const matches = this.dayMatches;
    let found = 0;
    for (let d = 1; d <= this.days; d++) {
      const best = this.closestOnDay(values, time - d * DAY_MS, tolerance);
      if (best < Number.POSITIVE_INFINITY) matches[found++] = best;
    }
    if (found < this.minDays) return Number.POSITIVE_INFINITY;
    return matches.subarray(0, found).sort()[this.minDays - 1] as number;
  }

  private closestOnDay(values: ArrayLike<number>, centre: number, tolerance: number): number {
    let best = Number.POSITIVE_INFINITY;
    // Outward from the same time of day, so a cap on compared rows keeps the nearest ones.
    let right = this.lowerBound(centre);
    let left = right - 1;
    for (let compared = 0; compared < this.maxCompared; compared++) {
      const rightOk = right < this.times.length && (this.times[right] as number) <= centre + tolerance;
      const leftOk = left >= this.first && (this.times[left] as number) >= centre - tolerance;
      if (!rightOk && !leftOk) break;
      const takeRight = rightOk && (!leftOk || (this.times[right] as number) - centre <= centre - (this.times[left] as number));
      const j = takeRight ? right++ : left--;
      const dist = this.distance(values, j);
      if (dist < best) best = dist;
    }
    return best;
  }

  private distance(values: ArrayLike<number>, row: number): number {
    const c = this.columns;
    let worst = 0;
    for (let col = 0; col < c; col++) {
      const d = Math.abs((values[col] as number) - (this.values[row * c + col] as number));
      if (d > worst) worst = d;
    }
    return worst;
  }

  /** First kept row at or after `t`. */
  private lowerBound(t: number): number {
    let lo = this.first;
    let hi = this.times.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.times[mid] as number) < t) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  private learnLevel(values: ArrayLike<number>): void {
    const c = this.columns;
    const slot = (this.levelCount % this.levelRows) * c;
    for (let col = 0; col < c; col++) this.level[slot + col] = values[col] as number;
    this.levelCount++;
  }

  private keep(values: ArrayLike<number>, time: number): void {
    this.lastTime = time;
    this.times.push(time);
    for (let col = 0; col < this.columns; col++) this.values.push(values[col] as number);
    // Matching never reaches further back than days plus the largest tolerance a judged row can have.
    const horizon = time - this.days * DAY_MS - Math.max(this.toleranceMs, MAX_STEP_MS);
    while (this.first < this.times.length && (this.times[this.first] as number) < horizon) this.first++;
    if (this.first > 4096 && this.first * 2 > this.times.length) {
      this.times = this.times.slice(this.first);
      this.values = this.values.slice(this.first * this.columns);
      this.first = 0;
    }
  }
}

export function validateRecurrence(o: DailyRecurrenceOptions): void {
  if (!(Number.isInteger(o.days) && o.days >= 1)) throw new RangeError(`recurrence days must be an integer >= 1, got ${o.days}`);
  if (!(Number.isInteger(o.minDays) && o.minDays >= 1 && o.minDays <= o.days)) {
    throw new RangeError(`recurrence min days must be an integer in [1, days = ${o.days}], got ${o.minDays}`);
  }
  if (!(o.toleranceMs >= 0 && o.toleranceMs <= MAX_STEP_MS)) throw new RangeError(`recurrence tolerance must be in [0, 6 h], got ${o.toleranceMs} ms`);
  if (!(Number.isInteger(o.levelRows) && o.levelRows >= 1)) throw new RangeError(`recurrence level rows must be an integer >= 1, got ${o.levelRows}`);
  if (!(o.share > 0)) throw new RangeError(`recurrence share must be > 0, got ${o.share}`);
  if (!(o.power >= 0)) throw new RangeError(`recurrence power must be >= 0, got ${o.power}`);
  if (o.maxCompared !== undefined && !(Number.isInteger(o.maxCompared) && o.maxCompared >= 1)) {
    throw new RangeError(`recurrence maxCompared must be an integer >= 1, got ${o.maxCompared}`);
  }
}
