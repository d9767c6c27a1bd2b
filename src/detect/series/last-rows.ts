import type { ByteReader, ByteWriter } from '../../rcf/bytes.js';
import { corrupt, readCount, readNumbersInto, writeNumbers } from './state-io.js';

/** Sorts `values` in place and returns its upper median (the element at n/2); NaN when empty. */
export function upperMedian(values: number[]): number {
  values.sort((a, b) => a - b);
  return values.length > 0 ? (values[values.length >> 1] as number) : Number.NaN;
}

/** The last `capacity` rows of a series (every row, timed or not), newest at `back` 0. */
export class LastRows {
  private readonly ring: Float64Array;
  private count = 0;

  constructor(
    readonly columns: number,
    readonly capacity: number,
  ) {
    this.ring = new Float64Array(columns * capacity);
  }

  push(values: ArrayLike<number>): void {
    const slot = (this.count % this.capacity) * this.columns;
    for (let col = 0; col < this.columns; col++) this.ring[slot + col] = values[col] as number;
    this.count++;
  }

  /** Rows held: all seen, up to `capacity`. */
  get size(): number {
    return Math.min(this.count, this.capacity);
  }

  writeState(w: ByteWriter): void {
    w.f64(this.count);
    writeNumbers(w, this.ring);
  }

  /** Restores what `writeState` wrote into rows of the same shape. */
  readState(r: ByteReader, what: string): void {
    this.count = readCount(r, `${what} row count`);
    readNumbersInto(r, this.ring, what);
    if (!this.ring.every(Number.isFinite)) throw corrupt(`${what}: a value that is not finite`);
  }

  /** Column `col` of the row `back` rows before the newest; `back` < `size`. */
  value(back: number, col: number): number {
    return this.ring[((this.count - 1 - back) % this.capacity) * this.columns + col] as number;
  }
}
