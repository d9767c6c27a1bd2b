import type { ByteReader, ByteWriter } from '../../rcf/bytes.js';
import { readCount, readNumbersInto, writeNumbers } from './state-io.js';
import { LastRows, upperMedian } from './last-rows.js';

/** Values the remembered shapes may hold at most (64 MiB). */
export const MAX_REMEMBERED_VALUES = 8 * 1024 * 1024;

export interface AlarmMemoryOptions {
  /** Earlier alarms that must look alike before a new one is discounted. */
  readonly matches: number;
  /** An earlier alarm looks alike when its shape lies within `share` × the new alarm's height. */
  readonly share: number;
  /** Rows in an alarm's shape: the alarm's row and the rows before it. */
  readonly shapeRows: number;
  /** Rows before the shape whose per-column median is the level shapes and heights are measured from. */
  readonly levelRows: number;
  /** factor = min(1, distance / (share × height)) ^ power. */
  readonly power: number;
  /**
   * Earlier alarms remembered at most (the oldest are forgotten first); 5000 by default, fewer
   * when shapes are so large that 5000 of them would pass `MAX_REMEMBERED_VALUES`.
   */
  readonly capacity?: number;
}

/**
 * What the series' earlier alarms already showed. A forest keeps a sample, not a memory: in a
 * long series a burst of a kind seen ten times before is, in its sample of a few hundred points,
 * as rare as the first one, and every such burst is reported. This remembers the shape of every
 * alarm (the rows that pass the cool-down: the alarm's row and the `shapeRows - 1` before it,
 * less the level before them) and discounts an alarm when `matches` earlier ones came within
 * `share` of its height: min(1, d / (share × h)) ^ power, d being the `matches`-th smallest
 * distance (largest difference over rows and columns) and h the alarm's height over the level
 * (largest over columns). Only rows already seen count.
 */
export class AlarmMemory {
  private readonly columns: number;
  private readonly o: AlarmMemoryOptions;
  private readonly capacity: number;
  /** The last shapeRows + levelRows rows. */
  private readonly recent: LastRows;
  /** Remembered shapes, a ring of `capacity`, each shapeRows × columns. */
  private readonly shapes: Float64Array;
  private stored = 0;
  private readonly shape: Float64Array;
  /** The `matches` smallest distances so far, ascending. */
  private readonly nearest: Float64Array;
  private readonly scratch: number[] = [];

  constructor(columns: number, o: AlarmMemoryOptions) {
    if (!Number.isInteger(columns) || columns < 1) throw new RangeError(`columns must be a positive integer, got ${columns}`);
    validateAlarmMemory(o);
    this.columns = columns;
    this.o = o;
    this.capacity = o.capacity ?? Math.max(o.matches, Math.min(5000, Math.floor(MAX_REMEMBERED_VALUES / (o.shapeRows * columns))));
    this.recent = new LastRows(columns, o.shapeRows + o.levelRows);
    this.shapes = new Float64Array(this.capacity * o.shapeRows * columns);
    this.shape = new Float64Array(o.shapeRows * columns);
    this.nearest = new Float64Array(o.matches);
  }

  writeState(w: ByteWriter): void {
    this.recent.writeState(w);
    w.f64(this.stored);
    const size = this.o.shapeRows * this.columns;
    writeNumbers(w, this.shapes, 0, Math.min(this.stored, this.capacity) * size);
  }

  readState(r: ByteReader): void {
    this.recent.readState(r, 'alarm memory rows');
    this.stored = readCount(r, 'alarms remembered');
    readNumbersInto(r, this.shapes.subarray(0, Math.min(this.stored, this.capacity) * this.o.shapeRows * this.columns), 'alarm shapes');
  }

  /** Every row, in order, before `judge` is asked about it. */
  observe(values: ArrayLike<number>): void {
    this.recent.push(values);
  }

  /** The discount in [0, 1] for the last observed row, an alarm (0: an exact repeat); then it is remembered. */
  judge(): number {
    const { shapeRows, levelRows, matches, share, power } = this.o;
    const c = this.columns;
    const recent = this.recent;
    // The level: median of the rows before the shape (as many as were seen).
    const before = Math.max(0, Math.min(levelRows, recent.size - shapeRows));
    let height = 0;
    for (let col = 0; col < c; col++) {
      const s = this.scratch;
      s.length = 0;
      for (let b = shapeRows; b < shapeRows + before; b++) s.push(recent.value(b, col));
      const current = recent.value(0, col);
      const level = s.length > 0 ? upperMedian(s) : current;
      for (let b = 0; b < shapeRows; b++) {
        // Rows before the series began stand at the level.
        this.shape[b * c + col] = b < recent.size ? recent.value(b, col) - level : 0;
      }
      height = Math.max(height, Math.abs(current - level));
    }
    const n = Math.min(this.stored, this.capacity);
    let out = 1;
    if (n >= matches && height > 0) {
      const size = shapeRows * c;
      const nearest = this.nearest.fill(Number.POSITIVE_INFINITY);
      for (let m = 0; m < n; m++) {
        // A shape further than the matches-th nearest so far cannot change the answer: stop early.
        const bound = nearest[matches - 1] as number;
        let d = 0;
        const base = m * size;
        for (let k = 0; k < size && d < bound; k++) {
          const e = Math.abs((this.shapes[base + k] as number) - (this.shape[k] as number));
          if (e > d) d = e;
        }
        if (d >= bound) continue;
        let at = matches - 1;
        while (at > 0 && (nearest[at - 1] as number) > d) {
          nearest[at] = nearest[at - 1] as number;
          at--;
        }
        nearest[at] = d;
      }
      out = Math.min(1, (nearest[matches - 1] as number) / (share * height)) ** power;
    }
    this.shapes.set(this.shape, (this.stored % this.capacity) * shapeRows * c);
    this.stored++;
    return out;
  }
}

export function validateAlarmMemory(o: AlarmMemoryOptions): void {
  const int = (name: string, v: number, min: number) => {
    if (!(Number.isInteger(v) && v >= min)) throw new RangeError(`alarm memory ${name} must be an integer >= ${min}, got ${v}`);
  };
  int('matches', o.matches, 1);
  int('shape rows', o.shapeRows, 1);
  // Without rows before the shape the level would be the alarm itself, and every height 0.
  int('level rows', o.levelRows, 1);
  // Each alarm is compared with every remembered one: bound the shape and the memory.
  if (o.matches > 1000 || o.shapeRows > 100 || o.levelRows > 10_000) {
    throw new RangeError(`alarm memory matches must be at most 1000, shape rows at most 100 and level rows at most 10000, got ${o.matches}, ${o.shapeRows}, ${o.levelRows}`);
  }
  if (!(o.share > 0)) throw new RangeError(`alarm memory share must be > 0, got ${o.share}`);
  if (!(o.power >= 0)) throw new RangeError(`alarm memory power must be >= 0, got ${o.power}`);
  if (o.capacity !== undefined) int('capacity', o.capacity, o.matches);
}
