import type { PointStore } from './point-store.js';
import type { Random } from './random.js';

/** Null node reference. */
export const NIL = 0xffff;

/** Offsets of an internal node's fields in its record (Tree.nodes[8n + offset]). */
export const NODE_LEFT = 0;
export const NODE_RIGHT = 1;
export const NODE_DIM = 2;
export const NODE_SLOT = 3;
export const NODE_MASS = 4;

const f32 = new Float32Array(1);
const f32Bits = new Uint32Array(f32.buffer);

/**
 * The largest float32 not above `c`. For any float32 x, `x <= c` exactly when
 * `x <= floorToFloat32(c)`, which is what lets trees store cuts as float32.
 */
export function floorToFloat32(c: number): number {
  f32[0] = c;
  if (f32[0]! <= c) return f32[0]!;
  // Rounded up: step one float32 towards -Infinity.
  if (f32[0] === 0) f32Bits[0] = 0x80000001;
  else if (f32[0]! > 0) f32Bits[0]!--;
  else f32Bits[0]!++;
  return f32[0]!;
}

/** Largest sample size whose node references fit in 16 bits (internal + leaf ids). */
export const MAX_SAMPLE_SIZE = 32767;

/**
 * One random cut tree as flat typed arrays (no node objects).
 *
 * Node references are uint16: values below `leafBase` (= capacity) are internal
 * nodes, values from `leafBase` up are leaves (`ref - leafBase` indexes the leaf
 * arrays). There are no parent pointers: every operation walks down from the
 * root and records its path in a shared scratch array.
 *
 * Bounding boxes are float32 (they only ever hold stored float32 point values,
 * so they are exact) and are cached only for internal nodes with mass >=
 * `boxCacheMinMass`. Most nodes of a random tree are small (about 2n/(k(k+1))
 * subtrees of size k), so skipping small ones saves most of the box memory,
 * while their boxes are cheap to rebuild from a handful of leaves. Because
 * mass only grows towards the root, every ancestor of a cached node is cached.
 */
export class Tree {
  readonly dimensions: number;
  readonly capacity: number;
  readonly leafBase: number;
  readonly boxCacheMinMass: number;
  readonly store: PointStore;
  /** Values between consecutive point handles in store.values (point p starts at p × pointStride). */
  readonly pointStride: number;

  root = NIL;

  /**
   * Internal nodes as 16-byte records, so that a descent touches one cache
   * line per level instead of one per field: uint16 left, right, cut
   * dimension, box slot and mass at nodes[8n + NODE_*], and the cut value as
   * float32 at cuts[4n + 3] (same buffer).
   *
   * The cut is stored rounded down to float32 (see floorToFloat32). Every
   * value compared with it is a float32 (stored points, queries), and for a
   * float32 x, x <= c exactly when x <= floorToFloat32(c), so each point is
   * routed as by the float64 cut: results are unchanged.
   */
  readonly nodes: Uint16Array;
  readonly cuts: Float32Array;
  readonly nodeFree: Uint16Array;
  nodeFreeCount: number;

  readonly leafPoint: Uint32Array;
  readonly leafMass: Uint16Array;
  readonly leafFree: Uint16Array;
  leafFreeCount: number;

  /**
   * Floats per box record: each slot is one contiguous record of 8 + 8D
   * bytes, a float64 `inner` followed by min and max interleaved per
   * dimension (the same bytes as separate min, max and inner arrays).
   * Scoring reads a record's inner plus (min, max) of a few dimensions, so
   * keeping them together touches fewer cache lines; the forest's boxes do
   * not fit in L2. Measured gain: small (1-2 % on the 16- and 24-d benches).
   */
  readonly boxStride: number;
  /**
   * Box pool as float32: slot s has min_d at [boxBase(s) + 2d] and max_d at
   * [boxBase(s) + 2d + 1]. Scratch boxes (Workspace.box/running) use the same
   * interleaved layout from offset 0.
   */
  boxes: Float32Array;
  /**
   * The same buffer as float64: boxInner[s * (D + 1)] is Σ_d (max_d - min_d)
   * of slot s. With it, scoring needs only the dimensions where the query lies
   * outside a box: range(B ∪ q) = inner + gap.
   */
  boxInner: Float64Array;
  boxFree: Uint16Array;
  boxFreeCount = 0;
  boxHighWater = 0;

  constructor(store: PointStore, capacity: number, boxCacheMinMass: number) {
    if (capacity < 1 || capacity > MAX_SAMPLE_SIZE) throw new RangeError(`sample size must be in [1, ${MAX_SAMPLE_SIZE}]`);
    this.store = store;
    this.dimensions = store.dimensions;
    this.pointStride = store.rowDims;
    this.capacity = capacity;
    this.leafBase = capacity;
    this.boxCacheMinMass = Math.max(2, boxCacheMinMass);
    const nodeBuffer = new ArrayBuffer(capacity * 16);
    this.nodes = new Uint16Array(nodeBuffer);
    this.cuts = new Float32Array(nodeBuffer);
    for (let n = 0; n < capacity; n++) this.nodes[(n << 3) + NODE_SLOT] = NIL;
    this.nodeFree = new Uint16Array(capacity);
    this.leafPoint = new Uint32Array(capacity);
    this.leafMass = new Uint16Array(capacity);
    this.leafFree = new Uint16Array(capacity);
    // Free stacks pop the lowest index first, which keeps used slots dense.
    for (let i = 0; i < capacity; i++) {
      this.nodeFree[i] = capacity - 1 - i;
      this.leafFree[i] = capacity - 1 - i;
    }
    this.nodeFreeCount = capacity;
    this.leafFreeCount = capacity;
    // The pool starts small and grows in small steps: it never shrinks, so
    // its size is the high-water mark of cached boxes plus at most one step
    // (large initial guesses or 1.25x steps left about a fifth of the box
    // memory unused).
    const initialSlots = Math.min(capacity, 16);
    this.boxStride = 2 * this.dimensions + 2;
    const buffer = new ArrayBuffer(initialSlots * this.boxStride * 4);
    this.boxes = new Float32Array(buffer);
    this.boxInner = new Float64Array(buffer);
    this.boxFree = new Uint16Array(initialSlots);
  }

  /** Index in `boxes` of slot's first float (min of dimension 0). */
  boxBase(slot: number): number {
    return slot * this.boxStride + 2;
  }

  /** Min of dimension d of a cached box (for inspection and tests). */
  boxLo(slot: number, d: number): number {
    return this.boxes[this.boxBase(slot) + 2 * d]!;
  }

  /** Max of dimension d of a cached box (for inspection and tests). */
  boxHi(slot: number, d: number): number {
    return this.boxes[this.boxBase(slot) + 2 * d + 1]!;
  }

  /** Total mass (number of sampled points, duplicates counted). */
  get totalMass(): number {
    const r = this.root;
    if (r === NIL) return 0;
    return r >= this.leafBase ? this.leafMass[r - this.leafBase]! : this.nodes[(r << 3) + NODE_MASS]!;
  }

  /**
   * The child of internal node `n` that the point whose values start at
   * `point[base]` belongs to. (It takes the array, not the value: a double
   * passed to a call that is not inlined is boxed, an allocation per level.)
   */
  childOf(n: number, point: Float32Array, base: number): number {
    const b = n << 3;
    return point[base + this.nodes[b + NODE_DIM]!]! <= this.cuts[(n << 2) + 3]! ? this.nodes[b + NODE_LEFT]! : this.nodes[b + NODE_RIGHT]!;
  }

  /** The other child of internal node `n`, `child` being one of its two. */
  siblingOf(n: number, child: number): number {
    const b = n << 3;
    return this.nodes[b + NODE_LEFT] === child ? this.nodes[b + NODE_RIGHT]! : this.nodes[b + NODE_LEFT]!;
  }

  leftOf(n: number): number {
    return this.nodes[(n << 3) + NODE_LEFT]!;
  }

  rightOf(n: number): number {
    return this.nodes[(n << 3) + NODE_RIGHT]!;
  }

  cutDimOf(n: number): number {
    return this.nodes[(n << 3) + NODE_DIM]!;
  }

  /** The stored (float32) cut value of internal node `n`. */
  cutValueOf(n: number): number {
    return this.cuts[(n << 2) + 3]!;
  }

  /** Box slot of internal node `n` (NIL when its box is not cached). */
  boxSlotOf(n: number): number {
    return this.nodes[(n << 3) + NODE_SLOT]!;
  }

  massOf(ref: number): number {
    return ref >= this.leafBase ? this.leafMass[ref - this.leafBase]! : this.nodes[(ref << 3) + NODE_MASS]!;
  }

  /**
   * Inserts the point stored at `pointIndex` with the standard RCF insertion:
   * descending from the root, draw a cut on the node's box extended by the
   * point; if that cut separates the point from the box, the point becomes a
   * new sibling of the node right there, otherwise follow the existing cut.
   * This keeps the tree distributed as a random cut tree built on the sample.
   * Returns the index of the point actually referenced by the tree (an equal,
   * already stored point's index when the point is a duplicate).
   */
  insert(pointIndex: number, rng: Random, ws: Workspace): number {
    const D = this.dimensions;
    const values = this.store.values;
    const pBase = pointIndex * this.pointStride;
    if (this.root === NIL) {
      this.root = this.newLeaf(pointIndex);
      return pointIndex;
    }
    const path = ws.path;
    const box = ws.box;
    const ranges = ws.ranges;
    let depth = 0;
    let node = this.root;
    for (;;) {
      // Cached boxes are read in place; others are gathered into the scratch box.
      const slot = node < this.leafBase ? this.nodes[(node << 3) + NODE_SLOT]! : NIL;
      let src: Float32Array = box;
      let b = 0;
      if (slot !== NIL) {
        src = this.boxes;
        b = slot * this.boxStride + 2;
      } else {
        this.boxOf(node, box);
      }
      // Per-dimension ranges of the extended box are kept for the cut draw
      // below (the same values it would recompute as max(hi,x) - min(lo,x)).
      let inside = true;
      let rangeSum = 0;
      for (let d = 0; d < D; d++) {
        const x = values[pBase + d]!;
        const lo = src[b + 2 * d]!;
        const hi = src[b + 2 * d + 1]!;
        let range: number;
        if (x < lo) {
          inside = false;
          range = hi - x;
        } else if (x > hi) {
          inside = false;
          range = x - lo;
        } else {
          range = hi - lo;
        }
        ranges[d] = range;
        rangeSum += range;
      }
      if (inside && node >= this.leafBase) {
        // Inside a leaf's degenerate box means equal: a duplicate.
        this.leafMass[node - this.leafBase]!++;
        this.afterInsert(path, depth, pBase, false);
        return this.leafPoint[node - this.leafBase]!;
      }
      if (!inside) {
        // Draw a cut on the extended box; dimension chosen in proportion to its range.
        let r = rng.nextDouble() * rangeSum;
        let dim = -1;
        let lastPositive = 0;
        for (let d = 0; d < D; d++) {
          const range = ranges[d]!;
          if (range > 0) {
            lastPositive = d;
            if (r < range) {
              dim = d;
              break;
            }
            r -= range;
          }
        }
        const cd = dim < 0 ? lastPositive : dim;
        const x = values[pBase + cd]!;
        const boxLo = src[b + 2 * cd]!;
        const boxHi = src[b + 2 * cd + 1]!;
        // r can exceed the last range only through rounding; clamp to its top.
        if (dim < 0) {
          dim = lastPositive;
          r = Math.max(boxHi, x) - Math.min(boxLo, x);
        }
        let cut = Math.min(boxLo, x) + r;
        let separates = false;
        if (x < boxLo && cut < boxLo) separates = true;
        else if (x > boxHi && cut >= boxHi) separates = true;
        if (node >= this.leafBase && !separates) separates = true; // rounding only: any gap cut is valid
        // Keep the cut strictly between point and box despite rounding.
        if (separates) {
          if (x < boxLo) {
            if (!(cut >= x && cut < boxLo)) cut = x;
          } else if (!(cut >= boxHi && cut < x)) {
            cut = boxHi;
          }
        }
        if (separates) {
          if (src !== box) for (let i = 0; i < 2 * D; i++) box[i] = src[b + i]!;
          this.splitAbove(node, path, depth, pointIndex, dim, cut, x <= cut, box);
          this.afterInsert(path, depth, pBase, true);
          return pointIndex;
        }
      }
      path[depth++] = node;
      node = this.childOf(node, values, pBase);
    }
  }

  /**
   * Removes one unit of mass of the point at `pointIndex` (equal coordinates
   * suffice). Boxes of ancestors are recomputed only while the removed point
   * was on their boundary; deeper than that they cannot change.
   */
  delete(pointIndex: number, ws: Workspace): void {
    const D = this.dimensions;
    const values = this.store.values;
    const pBase = pointIndex * this.pointStride;
    const path = ws.path;
    let depth = 0;
    let node = this.root;
    if (node === NIL) throw new Error('Tree.delete: empty tree');
    while (node < this.leafBase) {
      path[depth++] = node;
      node = this.childOf(node, values, pBase);
    }
    const leaf = node - this.leafBase;
    // Compared in place: a subarray view per delete is a measurable share of GC time.
    const lb = this.leafPoint[leaf]! * this.pointStride;
    for (let d = 0; d < D; d++) {
      if (values[lb + d] !== values[pBase + d]) throw new Error('Tree.delete: point not found in tree');
    }
    const lm = this.leafMass[leaf]!;
    if (lm > 1) {
      this.leafMass[leaf] = lm - 1;
      for (let i = depth - 1; i >= 0; i--) this.decrementMass(path[i]!);
      return;
    }
    this.freeLeaf(leaf);
    if (depth === 0) {
      this.root = NIL;
      return;
    }
    const parent = path[depth - 1]!;
    const sibling = this.siblingOf(parent, node);
    if (depth === 1) {
      this.root = sibling;
    } else {
      const gp = path[depth - 2]!;
      if (this.nodes[(gp << 3) + NODE_LEFT] === parent) this.nodes[(gp << 3) + NODE_LEFT] = sibling;
      else this.nodes[(gp << 3) + NODE_RIGHT] = sibling;
    }
    this.freeNode(parent);
    // Every dimension is a candidate until a cached box has been tested.
    const dims = ws.dims;
    for (let d = 0; d < D; d++) dims[d] = d;
    let nDims = D;
    for (let i = depth - 2; i >= 0; i--) {
      const n = path[i]!;
      this.decrementMass(n);
      const slot = this.nodes[(n << 3) + NODE_SLOT]!;
      if (slot === NIL) continue;
      // The box can only shrink in dimensions where the removed point was on
      // its boundary; elsewhere the extreme belongs to a remaining leaf. A box
      // contains its children's boxes as they were, so the point can only be
      // on its boundary where it was on the boundary of the box below: the
      // candidates only shrink. Once the point is strictly inside, it is
      // inside every ancestor's box too.
      nDims = this.boundaryDims(slot, pBase, dims, nDims);
      if (nDims === 0) {
        for (let j = i - 1; j >= 0; j--) this.decrementMass(path[j]!);
        return;
      }
      this.recomputeDims(n, slot, dims, nDims);
    }
  }

  /**
   * Keeps, of the first `nDims` candidate dimensions in `dims`, those in which
   * the point at `pBase` is on the boundary of cached box `slot`, and returns
   * their count (0: strictly inside).
   *
   * Bounds that are zeros are not rebuilt unless the point is on them: a
   * rebuild could then store -0 where +0 was or the reverse, which no score
   * can tell apart (every use of a bound compares it or subtracts it from a
   * non-zero range) and only the state bytes would show.
   */
  private boundaryDims(slot: number, pBase: number, dims: Uint16Array, nDims: number): number {
    const boxes = this.boxes;
    const values = this.store.values;
    const b = slot * this.boxStride + 2;
    let n = 0;
    for (let j = 0; j < nDims; j++) {
      const d = dims[j]!;
      const x = values[pBase + d]!;
      dims[n] = d;
      n += +(x === boxes[b + 2 * d]!) | +(x === boxes[b + 2 * d + 1]!);
    }
    return n;
  }

  /**
   * Rebuilds the listed dimensions of cached box `slot` of node `n` from its
   * children, in the same order as a full rebuild (left subtree, then right),
   * so every value is bitwise what recomputeBox would store.
   */
  private recomputeDims(n: number, slot: number, dims: Uint16Array, nDims: number): void {
    const boxes = this.boxes;
    const b = slot * this.boxStride + 2;
    for (let j = 0; j < nDims; j++) {
      const d = dims[j]!;
      boxes[b + 2 * d] = Infinity;
      boxes[b + 2 * d + 1] = -Infinity;
    }
    this.extendDims(this.nodes[(n << 3) + NODE_LEFT]!, boxes, b, dims, nDims);
    this.extendDims(this.nodes[(n << 3) + NODE_RIGHT]!, boxes, b, dims, nDims);
    this.refreshInner(slot);
  }

  /** extendAt restricted to the listed dimensions. */
  private extendDims(ref: number, out: Float32Array, o: number, dims: Uint16Array, nDims: number): void {
    if (ref >= this.leafBase) {
      const values = this.store.values;
      const pb = this.leafPoint[ref - this.leafBase]! * this.pointStride;
      for (let j = 0; j < nDims; j++) {
        const d = dims[j]!;
        const v = values[pb + d]!;
        if (v < out[o + 2 * d]!) out[o + 2 * d] = v;
        if (v > out[o + 2 * d + 1]!) out[o + 2 * d + 1] = v;
      }
      return;
    }
    const slot = this.nodes[(ref << 3) + NODE_SLOT]!;
    if (slot === NIL) {
      this.extendDims(this.nodes[(ref << 3) + NODE_LEFT]!, out, o, dims, nDims);
      this.extendDims(this.nodes[(ref << 3) + NODE_RIGHT]!, out, o, dims, nDims);
      return;
    }
    const boxes = this.boxes;
    const b = slot * this.boxStride + 2;
    for (let j = 0; j < nDims; j++) {
      const d = dims[j]!;
      const lo = boxes[b + 2 * d]!;
      const hi = boxes[b + 2 * d + 1]!;
      if (lo < out[o + 2 * d]!) out[o + 2 * d] = lo;
      if (hi > out[o + 2 * d + 1]!) out[o + 2 * d + 1] = hi;
    }
  }

  /**
   * Writes the bounding box of `ref` into `out` (min_d at [2d], max_d at [2d+1]).
   * Cached boxes are copied; otherwise the subtree's leaves are gathered.
   */
  boxOf(ref: number, out: Float32Array): void {
    const D = this.dimensions;
    if (ref < this.leafBase) {
      const slot = this.nodes[(ref << 3) + NODE_SLOT]!;
      if (slot !== NIL) {
        const boxes = this.boxes;
        const b = slot * this.boxStride + 2;
        for (let i = 0; i < 2 * D; i++) out[i] = boxes[b + i]!;
        return;
      }
      for (let d = 0; d < D; d++) {
        out[2 * d] = Infinity;
        out[2 * d + 1] = -Infinity;
      }
      this.extendAt(ref, out, 0);
      return;
    }
    const values = this.store.values;
    const pb = this.leafPoint[ref - this.leafBase]! * this.pointStride;
    for (let d = 0; d < D; d++) {
      const v = values[pb + d]!;
      out[2 * d] = v;
      out[2 * d + 1] = v;
    }
  }

  /** Extends `out` (interleaved layout as in boxOf) by the box of subtree `ref`. */
  extendBox(ref: number, out: Float32Array): void {
    this.extendAt(ref, out, 0);
  }

  /** extendBox on the box stored from offset `o` of `out` (min_d at [o+2d], max_d at [o+2d+1]). */
  private extendAt(ref: number, out: Float32Array, o: number): void {
    const D = this.dimensions;
    if (ref >= this.leafBase) {
      const values = this.store.values;
      const pb = this.leafPoint[ref - this.leafBase]! * this.pointStride;
      for (let d = 0; d < D; d++) {
        const v = values[pb + d]!;
        if (v < out[o + 2 * d]!) out[o + 2 * d] = v;
        if (v > out[o + 2 * d + 1]!) out[o + 2 * d + 1] = v;
      }
      return;
    }
    const slot = this.nodes[(ref << 3) + NODE_SLOT]!;
    if (slot !== NIL) {
      const boxes = this.boxes;
      const b = slot * this.boxStride + 2;
      for (let d = 0; d < D; d++) {
        const lo = boxes[b + 2 * d]!;
        const hi = boxes[b + 2 * d + 1]!;
        if (lo < out[o + 2 * d]!) out[o + 2 * d] = lo;
        if (hi > out[o + 2 * d + 1]!) out[o + 2 * d + 1] = hi;
      }
      return;
    }
    this.extendAt(this.nodes[(ref << 3) + NODE_LEFT]!, out, o);
    this.extendAt(this.nodes[(ref << 3) + NODE_RIGHT]!, out, o);
  }

  /** Creates an internal node above `node` with the given cut; the new leaf is its other child. */
  private splitAbove(
    node: number,
    path: Uint16Array,
    depth: number,
    pointIndex: number,
    dim: number,
    cut: number,
    pointGoesLeft: boolean,
    nodeBox: Float32Array,
  ): void {
    const leaf = this.newLeaf(pointIndex);
    const n = this.nodeFree[--this.nodeFreeCount]!;
    this.nodes[(n << 3) + NODE_DIM] = dim;
    this.cuts[(n << 2) + 3] = floorToFloat32(cut);
    this.nodes[(n << 3) + NODE_LEFT] = pointGoesLeft ? leaf : node;
    this.nodes[(n << 3) + NODE_RIGHT] = pointGoesLeft ? node : leaf;
    const m = this.massOf(node) + 1;
    this.nodes[(n << 3) + NODE_MASS] = m;
    this.nodes[(n << 3) + NODE_SLOT] = NIL;
    if (m >= this.boxCacheMinMass) {
      const slot = this.allocBoxSlot();
      this.nodes[(n << 3) + NODE_SLOT] = slot;
      const D = this.dimensions;
      const b = slot * this.boxStride + 2;
      const boxes = this.boxes;
      const values = this.store.values;
      const pb = pointIndex * this.pointStride;
      for (let d = 0; d < D; d++) {
        const x = values[pb + d]!;
        boxes[b + 2 * d] = Math.min(nodeBox[2 * d]!, x);
        boxes[b + 2 * d + 1] = Math.max(nodeBox[2 * d + 1]!, x);
      }
      this.refreshInner(slot);
    }
    if (depth === 0) {
      this.root = n;
    } else {
      const parent = path[depth - 1]!;
      if (this.nodes[(parent << 3) + NODE_LEFT] === node) this.nodes[(parent << 3) + NODE_LEFT] = n;
      else this.nodes[(parent << 3) + NODE_RIGHT] = n;
    }
  }

  /**
   * Bumps the masses of the recorded ancestors and extends their cached boxes,
   * caching boxes of nodes that just reached `boxCacheMinMass`.
   */
  private afterInsert(path: Uint16Array, depth: number, pBase: number, extend: boolean): void {
    const D = this.dimensions;
    const values = this.store.values;
    const minMass = this.boxCacheMinMass;
    let mayExtend = extend;
    for (let i = depth - 1; i >= 0; i--) {
      const n = path[i]!;
      const m = this.nodes[(n << 3) + NODE_MASS]! + 1;
      this.nodes[(n << 3) + NODE_MASS] = m;
      let slot = this.nodes[(n << 3) + NODE_SLOT]!;
      if (slot === NIL) {
        if (m >= minMass) {
          slot = this.allocBoxSlot();
          this.nodes[(n << 3) + NODE_SLOT] = slot;
          this.recomputeBox(n, slot);
        }
        continue;
      }
      if (!mayExtend) continue;
      const boxes = this.boxes;
      const b = slot * this.boxStride + 2;
      let changed = false;
      // The inner sum is accumulated in the same pass, in refreshInner's order (so bitwise its value).
      let sum = 0;
      for (let d = 0; d < D; d++) {
        const x = values[pBase + d]!;
        let lo = boxes[b + 2 * d]!;
        let hi = boxes[b + 2 * d + 1]!;
        if (x < lo) {
          boxes[b + 2 * d] = x;
          lo = x;
          changed = true;
        }
        if (x > hi) {
          boxes[b + 2 * d + 1] = x;
          hi = x;
          changed = true;
        }
        sum += hi - lo;
      }
      // A box that already contained the point means every ancestor does too.
      if (changed) this.boxInner[slot * (D + 1)] = sum;
      else mayExtend = false;
    }
  }

  private decrementMass(n: number): void {
    const m = this.nodes[(n << 3) + NODE_MASS]! - 1;
    this.nodes[(n << 3) + NODE_MASS] = m;
    if (m < this.boxCacheMinMass) {
      const slot = this.nodes[(n << 3) + NODE_SLOT]!;
      if (slot !== NIL) {
        this.boxFree[this.boxFreeCount++] = slot;
        this.nodes[(n << 3) + NODE_SLOT] = NIL;
      }
    }
  }

  private recomputeBox(n: number, slot: number): void {
    const D = this.dimensions;
    const boxes = this.boxes;
    const b = slot * this.boxStride + 2;
    // Written in place (no subarray view: this runs on hot update paths).
    for (let d = 0; d < D; d++) {
      boxes[b + 2 * d] = Infinity;
      boxes[b + 2 * d + 1] = -Infinity;
    }
    this.extendAt(this.nodes[(n << 3) + NODE_LEFT]!, boxes, b);
    this.extendAt(this.nodes[(n << 3) + NODE_RIGHT]!, boxes, b);
    this.refreshInner(slot);
  }

  /** Recomputes the inner sum of one slot (a fixed summation order keeps it reproducible). */
  refreshInner(slot: number): void {
    const D = this.dimensions;
    const boxes = this.boxes;
    const b = slot * this.boxStride + 2;
    let sum = 0;
    for (let d = 0; d < D; d++) sum += boxes[b + 2 * d + 1]! - boxes[b + 2 * d]!;
    this.boxInner[slot * (D + 1)] = sum;
  }

  private allocBoxSlot(): number {
    if (this.boxFreeCount > 0) return this.boxFree[--this.boxFreeCount]!;
    const slots = this.boxFree.length;
    if (this.boxHighWater === slots) this.resizeBoxPool(Math.min(this.capacity, slots + Math.max(8, slots >> 4)));
    return this.boxHighWater++;
  }

  /** Reallocates the box pool to `slots` slots (growth and state restore). */
  resizeBoxPool(slots: number): void {
    const buffer = new ArrayBuffer(slots * this.boxStride * 4);
    const boxes = new Float32Array(buffer);
    // Whole records (inner included) are copied as raw floats.
    boxes.set(this.boxes.subarray(0, Math.min(this.boxes.length, boxes.length)));
    const free = new Uint16Array(slots);
    free.set(this.boxFree.subarray(0, Math.min(this.boxFreeCount, slots)));
    this.boxes = boxes;
    this.boxInner = new Float64Array(buffer);
    this.boxFree = free;
  }

  private newLeaf(pointIndex: number): number {
    const l = this.leafFree[--this.leafFreeCount]!;
    this.leafPoint[l] = pointIndex;
    this.leafMass[l] = 1;
    return l + this.leafBase;
  }

  private freeLeaf(leaf: number): void {
    this.leafMass[leaf] = 0;
    this.leafFree[this.leafFreeCount++] = leaf;
  }

  private freeNode(n: number): void {
    const slot = this.nodes[(n << 3) + NODE_SLOT]!;
    if (slot !== NIL) {
      this.boxFree[this.boxFreeCount++] = slot;
      this.nodes[(n << 3) + NODE_SLOT] = NIL;
    }
    this.nodes[(n << 3) + NODE_MASS] = 0;
    this.nodeFree[this.nodeFreeCount++] = n;
  }

  byteLength(): number {
    return (
      this.nodes.byteLength + // shares its buffer with cuts
      this.nodeFree.byteLength +
      this.leafPoint.byteLength +
      this.leafMass.byteLength +
      this.leafFree.byteLength +
      this.boxes.byteLength + // shares its buffer with boxInner
      this.boxFree.byteLength
    );
  }
}

/** Scratch arrays shared by all trees of a forest (single-threaded use). */
export class Workspace {
  readonly path: Uint16Array;
  /** Scratch box of the insert descent (interleaved: min_d at [2d], max_d at [2d+1]). */
  readonly box: Float32Array;
  /** Running box while unwinding a score path (same layout). */
  readonly running: Float32Array;
  /** Per-tree attribution accumulators for the tree being unwound. */
  readonly attrHigh: Float64Array;
  readonly attrLow: Float64Array;
  /** Dimensions in which the query is still outside the box being unwound. */
  readonly outside: Uint16Array;
  /** Per-dimension ranges of the extended box at the current insert level. */
  readonly ranges: Float64Array;
  /** Box dimensions a deletion may change (see Tree.changingDims). */
  readonly dims: Uint16Array;
  /**
   * log2(m + 1) for every tree mass m, the score normaliser: a table lookup
   * instead of a Math.log per tree and point, computed with the very same
   * expression so the values are bitwise those of the direct call.
   */
  readonly normOfMass: Float64Array;
  /** Running sum of the tree scores of one query (see scoreTree). */
  readonly scoreSum: Float64Array;
  /** Depth reached by the last descent (length of the recorded path). */
  depth = 0;
  constructor(capacity: number, dimensions: number) {
    this.path = new Uint16Array(capacity + 1);
    this.box = new Float32Array(2 * dimensions);
    this.running = new Float32Array(2 * dimensions);
    this.outside = new Uint16Array(dimensions);
    this.dims = new Uint16Array(dimensions);
    this.ranges = new Float64Array(dimensions);
    this.attrHigh = new Float64Array(dimensions);
    this.attrLow = new Float64Array(dimensions);
    this.normOfMass = new Float64Array(capacity + 1);
    this.scoreSum = new Float64Array(1);
    for (let m = 0; m <= capacity; m++) this.normOfMass[m] = Math.log(m + 1) / Math.LN2;
  }

  byteLength(): number {
    return (
      this.path.byteLength +
      this.box.byteLength +
      this.running.byteLength +
      this.attrHigh.byteLength +
      this.attrLow.byteLength +
      this.outside.byteLength +
      this.dims.byteLength +
      this.ranges.byteLength +
      this.normOfMass.byteLength +
      this.scoreSum.byteLength
    );
  }
}

