/**
 * Shared, reference-counted store of the forest's (shingled) points.
 *
 * A point sampled by several trees is stored once; each sampler entry holds
 * one reference. Values are float32 (as in the AWS reference): queries are
 * rounded the same way, so equality of a query and a stored point is exact.
 *
 * Shingle-aware: a point of `shingleSize` rows (one row = one input of
 * `rowDims` values) is a window of consecutive rows of `values`, and a point
 * is named by its first row, its *handle*: its values are
 * `values[handle * rowDims ... + dimensions)`. A point that continues the
 * previous one by a single input (what a forest's rolling shingle produces)
 * shares all rows but the newest with it, so the store grows by one input,
 * not one whole shingle, per point. With shingle 4 it holds 0.4 to 0.7 of the
 * values a store of whole points would (less with decay, which keeps runs of
 * recent points; sampled points with gaps between them share fewer rows).
 *
 * Rows are appended; released points are not freed one by one. When the
 * appended rows reach the capacity, the store is compacted: the rows that live
 * points (and the newest point) cover are moved down in order, and `onCompact`
 * receives the old-to-new handle map so the holders of handles (trees,
 * samplers) can rewrite theirs. The capacity grows only when compaction leaves
 * less than an eighth free, so compactions stay rare (about every capacity/8
 * points) and the slack stays small.
 */
export class PointStore {
  /** Values per point: rowDims × shingleSize. */
  readonly dimensions: number;
  /** Values per row (one input of the forest). */
  readonly rowDims: number;
  /** Rows per point. */
  readonly shingleSize: number;
  /** Hard upper bound on rows: every live point (plus the newest) stored without overlap, plus slack. */
  readonly maxRows: number;
  values: Float32Array;
  /** Bit view of `values` (exact comparison of overlapping rows, signed zeros included). */
  private bits: Uint32Array;
  /** Reference count of the point whose handle is the index (0 elsewhere). */
  refCounts: Uint32Array;
  /** Rows in use (live, or released and awaiting compaction): rows below it. */
  nextRow = 0;
  /** Handle of the newest point (-1: none); kept through compaction so the next point can overlap it. */
  lastHandle = -1;
  /** Points with at least one reference. */
  liveCount = 0;
  private lastPoint: Float32Array | null = null;
  private lastPointBits: Uint32Array<ArrayBufferLike> = new Uint32Array(0);
  /** Called with the old-to-new handle map (-1: dropped) after every compaction. */
  onCompact: (map: Int32Array) => void = () => {};

  constructor(rowDims: number, shingleSize: number, maxPoints: number, initialRows: number) {
    this.rowDims = rowDims;
    this.shingleSize = shingleSize;
    this.dimensions = rowDims * shingleSize;
    // Live points plus the newest, stored without overlap, plus an eighth: a compaction always
    // leaves that much free, so compactions stay rare even when the live points fill the bound.
    const live = (maxPoints + 1) * shingleSize;
    this.maxRows = live + Math.max(16, live >> 3);
    const rows = Math.max(shingleSize, Math.min(this.maxRows, initialRows));
    this.values = new Float32Array(rows * rowDims);
    this.bits = new Uint32Array(this.values.buffer);
    this.refCounts = new Uint32Array(rows);
  }

  /** Rows the arrays hold. */
  get capacity(): number {
    return this.refCounts.length;
  }

  /** Live points (with a reference). */
  get size(): number {
    return this.liveCount;
  }

  /** Index in `values` of a point's first value. */
  offset(handle: number): number {
    return handle * this.rowDims;
  }

  /**
   * Stores a copy of `point` (of `dimensions` values) with reference count 0
   * and returns its handle; the caller must add references or leave it
   * unreferenced (it is then dropped at the next compaction). If `point`
   * continues the newest point by one row, only its last row is written.
   */
  add(point: Float32Array): number {
    const S = this.shingleSize;
    const R = this.rowDims;
    // Compaction keeps the newest point last, so it cannot change this answer.
    const overlaps = this.continuesLast(point);
    const need = overlaps ? 1 : S;
    if (this.nextRow + need > this.capacity) this.makeRoom(need);
    let handle: number;
    if (overlaps) {
      handle = this.lastHandle + 1;
      // The newest row only (a loop: a subarray view would be an allocation per point).
      const values = this.values;
      const to = this.nextRow * R;
      const from = (S - 1) * R;
      for (let i = 0; i < R; i++) values[to + i] = point[from + i]!;
      this.nextRow++;
    } else {
      handle = this.nextRow;
      this.values.set(point, handle * R);
      this.nextRow += S;
    }
    this.refCounts[handle] = 0;
    this.lastHandle = handle;
    return handle;
  }

  addRef(handle: number): void {
    if (this.refCounts[handle]!++ === 0) this.liveCount++;
  }

  /** Drops one reference; the point's rows are reclaimed at the next compaction once none remain. */
  release(handle: number): void {
    const rc = this.refCounts[handle]! - 1;
    this.refCounts[handle] = rc;
    if (rc === 0) this.liveCount--;
  }

  /** Whether `point`'s first shingleSize - 1 rows are bitwise the newest point's last ones, which end the used rows. */
  private continuesLast(point: Float32Array): boolean {
    const S = this.shingleSize;
    if (S === 1 || this.lastHandle < 0 || this.lastHandle + S !== this.nextRow) return false;
    const R = this.rowDims;
    const bits = this.bits;
    if (point !== this.lastPoint) {
      // Forests pass the same query array every time: one view, not one per point.
      this.lastPoint = point;
      this.lastPointBits = new Uint32Array(point.buffer, point.byteOffset, point.length);
    }
    const pointBits = this.lastPointBits;
    const base = (this.lastHandle + 1) * R;
    const n = (S - 1) * R;
    for (let i = 0; i < n; i++) if (bits[base + i] !== pointBits[i]) return false;
    return true;
  }

  /** Compacts, and grows if that leaves less than `need` rows or an eighth of the used rows free. */
  private makeRoom(need: number): void {
    this.compact();
    const wanted = this.nextRow + Math.max(need, this.nextRow >> 3, 16);
    if (wanted > this.capacity) {
      const rows = Math.min(this.maxRows, wanted);
      if (rows < this.nextRow + need) throw new Error('PointStore: capacity exhausted (reference leak)');
      this.resize(rows);
    }
  }

  /**
   * Moves the rows of live points and of the newest point down, in handle
   * order, sharing rows between overlapping points as before, and reports
   * the handle map through `onCompact`.
   */
  compact(): void {
    const S = this.shingleSize;
    const R = this.rowDims;
    const values = this.values;
    const refCounts = this.refCounts;
    const used = this.nextRow;
    const map = new Int32Array(used).fill(-1);
    const counts = new Uint32Array(used);
    let write = 0;
    let prevOld = -1;
    let prevNew = -1;
    for (let h = 0; h < used; h++) {
      if (refCounts[h] === 0 && h !== this.lastHandle) continue;
      let newHandle: number;
      if (prevOld >= 0 && h < prevOld + S) {
        // Shares rows with the previous kept point: only its rows past that point's end move.
        newHandle = prevNew + (h - prevOld);
        values.copyWithin(write * R, (prevOld + S) * R, (h + S) * R);
      } else {
        newHandle = write;
        values.copyWithin(write * R, h * R, (h + S) * R);
      }
      write = newHandle + S;
      map[h] = newHandle;
      counts[newHandle] = refCounts[h]!;
      prevOld = h;
      prevNew = newHandle;
    }
    refCounts.fill(0, 0, used);
    refCounts.set(counts.subarray(0, write));
    this.nextRow = write;
    if (this.lastHandle >= 0) this.lastHandle = map[this.lastHandle]!;
    this.onCompact(map);
  }

  /** Reallocates the arrays to exactly `rows` rows (also used by state restore). */
  resize(rows: number): void {
    const values = new Float32Array(rows * this.rowDims);
    values.set(this.values.subarray(0, Math.min(this.values.length, values.length)));
    const refs = new Uint32Array(rows);
    refs.set(this.refCounts.subarray(0, Math.min(this.refCounts.length, rows)));
    this.values = values;
    this.bits = new Uint32Array(values.buffer);
    this.refCounts = refs;
  }

  byteLength(): number {
    return this.values.byteLength + this.refCounts.byteLength;
  }
}
