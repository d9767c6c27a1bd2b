/**
 * Shared, reference-counted store of (shingled) points for all trees of a
 * forest. A point sampled by several trees is stored once; each sampler entry
 * holds one reference. Values are float32 (as in the AWS reference): queries
 * are rounded the same way, so equality of a query and a stored point is exact.
 */
export class PointStore {
  readonly dimensions: number;
  /** Hard upper bound on live points: every sampler entry of every tree. */
  readonly maxCapacity: number;
  values: Float32Array;
  refCounts: Uint32Array;
  /** Slots ever handed out; slots below it are live or on the free list. */
  highWater = 0;
  freeList: Uint32Array;
  freeCount = 0;

  constructor(dimensions: number, maxCapacity: number, initialCapacity: number) {
    this.dimensions = dimensions;
    this.maxCapacity = maxCapacity;
    const cap = Math.max(1, Math.min(maxCapacity, initialCapacity));
    this.values = new Float32Array(cap * dimensions);
    this.refCounts = new Uint32Array(cap);
    this.freeList = new Uint32Array(cap);
  }

  get capacity(): number {
    return this.refCounts.length;
  }

  /** Live points (slots with a reference). */
  get size(): number {
    return this.highWater - this.freeCount;
  }

  /**
   * Stores a copy of `point` with reference count 0; the caller must either
   * add references or `release` it. Reuses freed slots first (LIFO) so the
   * store stays as small as the live set allows.
   */
  add(point: Float32Array): number {
    let index: number;
    if (this.freeCount > 0) {
      index = this.freeList[--this.freeCount]!;
    } else {
      if (this.highWater === this.capacity) this.grow();
      index = this.highWater++;
    }
    this.values.set(point, index * this.dimensions);
    this.refCounts[index] = 0;
    return index;
  }

  addRef(index: number): void {
    this.refCounts[index]!++;
  }

  /** Drops one reference; frees the slot when none remain. */
  release(index: number): void {
    const rc = this.refCounts[index]! - 1;
    this.refCounts[index] = rc;
    if (rc <= 0) {
      this.refCounts[index] = 0;
      this.freeList[this.freeCount++] = index;
    }
  }

  /** Frees a slot from `add` that no tree ended up referencing. */
  discardIfUnused(index: number): void {
    if (this.refCounts[index] === 0) this.freeList[this.freeCount++] = index;
  }

  equals(index: number, point: Float32Array): boolean {
    const v = this.values;
    const base = index * this.dimensions;
    for (let i = 0; i < point.length; i++) {
      if (v[base + i] !== point[i]) return false;
    }
    return true;
  }

  private grow(): void {
    // 1.25x growth bounds the slack to a fifth of the capacity while keeping
    // reallocations logarithmic in the stream length.
    const cap = Math.min(this.maxCapacity, Math.max(this.capacity + 16, Math.ceil(this.capacity * 1.25)));
    if (cap <= this.capacity) throw new Error('PointStore: capacity exhausted (reference leak)');
    this.resize(cap);
  }

  /** Reallocates the arrays to exactly `capacity` slots (also used by state restore). */
  resize(capacity: number): void {
    const values = new Float32Array(capacity * this.dimensions);
    values.set(this.values.subarray(0, Math.min(this.values.length, values.length)));
    const refs = new Uint32Array(capacity);
    refs.set(this.refCounts.subarray(0, Math.min(this.refCounts.length, capacity)));
    const free = new Uint32Array(capacity);
    free.set(this.freeList.subarray(0, Math.min(this.freeCount, capacity)));
    this.values = values;
    this.refCounts = refs;
    this.freeList = free;
  }

  byteLength(): number {
    return this.values.byteLength + this.refCounts.byteLength + this.freeList.byteLength;
  }
}
