/**
 * The timed rows of the last `horizonMs`, oldest first, for lookups by time (the same time a day
 * or a week ago). Values are flattened by column. Rows without a finite time, or not later than
 * the last kept row, are refused: time lookups need them in order.
 */
export class RecentRows {
  private times: number[] = [];
  private values: number[] = [];
  /** Index of the oldest row still kept; rows before it are waiting to be compacted away. */
  private head = 0;

  constructor(
    readonly columns: number,
    readonly horizonMs: number,
  ) {
    if (!Number.isInteger(columns) || columns < 1) throw new RangeError(`columns must be a positive integer, got ${columns}`);
    if (!(horizonMs > 0)) throw new RangeError(`horizon must be > 0 ms, got ${horizonMs}`);
  }

  /** Time of the last kept row (NaN before any). */
  get lastTime(): number {
    return this.times.length > this.head ? (this.times[this.times.length - 1] as number) : Number.NaN;
  }

  /** Whether a row at `time` would be kept: a finite time after the last kept row. */
  accepts(time: number): boolean {
    return Number.isFinite(time) && !(time <= this.lastTime);
  }

  /** Keeps the row if `accepts(time)`; drops rows older than the horizon. */
  keep(values: ArrayLike<number>, time: number): void {
    if (!this.accepts(time)) return;
    this.times.push(time);
    for (let col = 0; col < this.columns; col++) this.values.push(values[col] as number);
    const oldest = time - this.horizonMs;
    while ((this.times[this.head] as number) < oldest) this.head++;
    if (this.head > 4096 && this.head * 2 > this.times.length) {
      this.times = this.times.slice(this.head);
      this.values = this.values.slice(this.head * this.columns);
      this.head = 0;
    }
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
