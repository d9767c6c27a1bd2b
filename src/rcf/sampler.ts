import type { Random } from './random.js';

/** Result codes of {@link Sampler.offer}. */
export const REJECTED = -2;
export const ACCEPTED_NO_EVICTION = -1;

/**
 * Time-decayed weighted reservoir of point references for one tree.
 *
 * A point arriving at sequence number t gets the key `ln(-ln u) - λ·t`
 * (u uniform in (0,1)); the sampler keeps the `capacity` smallest keys. This
 * is `ln` of an exponential variate with rate e^{λt}, so keeping the smallest
 * keys is weighted sampling without replacement with weight e^{λt}: recent
 * points are favoured and λ = 0 degenerates to a uniform reservoir.
 *
 * Entries form a binary max-heap on the key so the next eviction candidate
 * is always at the root.
 */
export class Sampler {
  readonly capacity: number;
  readonly lambda: number;
  readonly weights: Float64Array;
  readonly points: Uint32Array;
  size = 0;
  /** Key computed by the last offer; kept so `accept` needs no re-draw. */
  private pendingWeight = 0;
  /**
   * exp(weights[0] + λ·boundSequence): a key is rejected when -ln u exceeds it
   * (see offer). Carried from one sequence number to the next by a factor
   * e^λ, recomputed when the heap's root changes and every 4096 steps.
   */
  private bound = 0;
  /** Sequence number `bound` is for (NaN: none, recompute; no sequence number equals it). */
  private boundSequence = Number.NaN;
  private boundSteps = 0;
  private readonly stepFactor: number;

  constructor(capacity: number, lambda: number) {
    this.capacity = capacity;
    this.lambda = lambda;
    this.weights = new Float64Array(capacity);
    this.points = new Uint32Array(capacity);
    this.stepFactor = Math.exp(lambda);
  }

  get isFull(): boolean {
    return this.size === this.capacity;
  }

  /**
   * Draws the key for a point at `sequence`. Returns REJECTED, ACCEPTED_NO_EVICTION,
   * or the point index the caller must evict (delete from the tree and release)
   * before calling {@link accept}.
   */
  offer(sequence: number, rng: Random): number {
    const u = rng.nextOpenDouble();
    const e = -Math.log(u);
    if (this.size === this.capacity) {
      // Most offers of a full sampler are rejected: ln(e) - λ·t >= weights[0]
      // exactly when e >= exp(weights[0] + λ·t). Where e is clearly above that
      // bound the second logarithm is skipped. The margin (1e-6 relative, plus
      // what rounding in λ·t can reach on long streams) is far above the
      // error of the bound, so every offer decided here is one the exact
      // comparison below rejects: results are unchanged.
      let bound: number;
      if (this.boundSequence === sequence - 1 && this.boundSteps < 4096) {
        bound = this.bound * this.stepFactor;
        this.boundSteps++;
      } else {
        bound = Math.exp(this.weights[0]! + this.lambda * sequence);
        this.boundSteps = 0;
      }
      this.bound = bound;
      this.boundSequence = sequence;
      if (e > bound * (1 + 1e-6 + 1e-15 * this.lambda * sequence)) return REJECTED;
    }
    const w = Math.log(e) - this.lambda * sequence;
    this.pendingWeight = w;
    if (this.size < this.capacity) return ACCEPTED_NO_EVICTION;
    if (w >= this.weights[0]!) return REJECTED;
    return this.points[0]!;
  }

  /** Adds the pending entry, replacing the heap root if the sampler is full. */
  accept(pointIndex: number): void {
    const w = this.pendingWeight;
    // The heap's root, and with it the rejection bound, changes.
    this.boundSequence = Number.NaN;
    if (this.size < this.capacity) {
      this.siftUp(this.size++, w, pointIndex);
    } else {
      this.siftDown(0, w, pointIndex);
    }
  }

  private siftUp(start: number, w: number, p: number): void {
    const weights = this.weights;
    const points = this.points;
    let i = start;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const pw = weights[parent]!;
      if (pw >= w) break;
      weights[i] = pw;
      points[i] = points[parent]!;
      i = parent;
    }
    weights[i] = w;
    points[i] = p;
  }

  private siftDown(start: number, w: number, p: number): void {
    const weights = this.weights;
    const points = this.points;
    const n = this.size;
    let i = start;
    for (;;) {
      let child = 2 * i + 1;
      if (child >= n) break;
      if (child + 1 < n && weights[child + 1]! > weights[child]!) child++;
      const cw = weights[child]!;
      if (cw <= w) break;
      weights[i] = cw;
      points[i] = points[child]!;
      i = child;
    }
    weights[i] = w;
    points[i] = p;
  }

  byteLength(): number {
    return this.weights.byteLength + this.points.byteLength;
  }
}
