import { type ByteReader, type ByteWriter, KIND_FOREST, open, seal } from './bytes.js';
import { RcfStateError } from './errors.js';
import { RandomCutForest, type ForestConfig } from './forest.js';
import type { PointStore } from './point-store.js';
import { NIL, NODE_DIM, NODE_LEFT, NODE_MASS, NODE_RIGHT, NODE_SLOT, type Tree } from './tree.js';

/*
 * Forest state layout (version 2, little-endian), inside the envelope of
 * bytes.ts (magic "FCRF", version, kind, length, ..., CRC-32):
 *   config      dims u32, shingle u32, trees u32, sampleSize u32, timeDecay f64,
 *               outputAfter u32, seed u32, boxCacheMinMass u32
 *   counters    pointsSeen f64, entriesSeen f64, shingleFill u32, shingle f32[dims·shingle]
 *   point store capacity u32 (rows), nextRow u32, lastHandle u32 (0xffffffff: none),
 *               values f32[nextRow·dims], refCounts u32[nextRow] (see point-store.ts: a
 *               point is a window of shingle rows named by its first row)
 *   per tree    rng u32[4]; sampler size u32, weights f64[size], points u32[size];
 *               root u16, nodeFreeCount u32, leafFreeCount u32,
 *               left/right/cutDim/mass/boxSlot u16[cap], cutValue f32[cap], nodeFree u16[nodeFreeCount],
 *               leafPoint u32[cap], leafMass u16[cap], leafFree u16[leafFreeCount],
 *               boxPoolSlots u32, boxHighWater u32, boxFreeCount u32,
 *               boxes f32[boxHighWater·2D], boxFree u16[boxFreeCount]
 * Trees are stored as they are (not rebuilt) so restoring is exact by construction. Version 1
 * (whole points with a free list, float64 cuts) is refused by bytes.ts.
 *
 * Everything read is checked before it is used as an index: a restored forest is walked tree by
 * tree (references, cut dimensions, box slots, masses, leaf points) and the point store's
 * reference counts must equal the samplers' entries, so a corrupt state is an RcfStateError,
 * never a forest that misbehaves later.
 */

export function writeForest(w: ByteWriter, f: RandomCutForest): void {
  const c = f.config;
  w.u32(c.dimensions);
  w.u32(c.shingleSize);
  w.u32(c.numberOfTrees);
  w.u32(c.sampleSize);
  w.f64(c.timeDecay);
  w.u32(c.outputAfter);
  w.u32(c.seed);
  w.u32(c.boxCacheMinMass);
  w.f64(f.pointsSeenCount);
  w.f64(f.entriesSeenCount);
  w.u32(f.shingleFill);
  w.array(f.shingle);
  const s = f.store;
  w.u32(s.capacity);
  w.u32(s.nextRow);
  w.u32(s.lastHandle < 0 ? NO_HANDLE : s.lastHandle);
  w.array(s.values.subarray(0, s.nextRow * s.rowDims));
  w.array(s.refCounts.subarray(0, s.nextRow));
  for (let i = 0; i < c.numberOfTrees; i++) {
    w.array(f.rngs[i]!.state);
    const sp = f.samplers[i]!;
    w.u32(sp.size);
    w.array(sp.weights.subarray(0, sp.size));
    w.array(sp.points.subarray(0, sp.size));
    const t = f.trees[i]!;
    w.u16(t.root);
    w.u32(t.nodeFreeCount);
    w.u32(t.leafFreeCount);
    // In memory a node is one record (Tree.nodes); the state keeps one array per field.
    for (const field of NODE_FIELDS) w.array(nodeField(t, field));
    w.array(Float32Array.from({ length: t.capacity }, (_, n) => t.cutValueOf(n)));
    w.array(t.nodeFree.subarray(0, t.nodeFreeCount));
    w.array(t.leafPoint);
    w.array(t.leafMass);
    w.array(t.leafFree.subarray(0, t.leafFreeCount));
    w.u32(t.boxFree.length);
    w.u32(t.boxHighWater);
    w.u32(t.boxFreeCount);
    w.array(boxesToState(t));
    w.array(t.boxFree.subarray(0, t.boxFreeCount));
  }
}

/*
 * In memory a box slot is one record (inner sum, then min/max interleaved per
 * dimension; see Tree.boxStride); the state keeps all mins then all maxes of
 * each slot, which does not depend on that in-memory choice.
 */
function boxesToState(t: Tree): Float32Array {
  const D = t.dimensions;
  const out = new Float32Array(t.boxHighWater * 2 * D);
  for (let slot = 0; slot < t.boxHighWater; slot++) {
    const b = t.boxBase(slot);
    const o = slot * 2 * D;
    for (let d = 0; d < D; d++) {
      out[o + d] = t.boxes[b + 2 * d]!;
      out[o + D + d] = t.boxes[b + 2 * d + 1]!;
    }
  }
  return out;
}

function boxesFromState(t: Tree, flat: Float32Array): void {
  const D = t.dimensions;
  for (let slot = 0; slot < t.boxHighWater; slot++) {
    const b = t.boxBase(slot);
    const o = slot * 2 * D;
    for (let d = 0; d < D; d++) {
      t.boxes[b + 2 * d] = flat[o + d]!;
      t.boxes[b + 2 * d + 1] = flat[o + D + d]!;
    }
  }
}

/** Node record fields in the state's order (left, right, cutDim, mass, boxSlot arrays). */
const NODE_FIELDS = [NODE_LEFT, NODE_RIGHT, NODE_DIM, NODE_MASS, NODE_SLOT] as const;

function nodeField(t: Tree, offset: number): Uint16Array {
  return Uint16Array.from({ length: t.capacity }, (_, n) => t.nodes[(n << 3) + offset]!);
}

/** The newest-point handle of a store that has none. */
const NO_HANDLE = 0xffffffff;

function check(cond: boolean, what: string): void {
  if (!cond) throw new RcfStateError(`RCF state is corrupt (${what})`);
}

/**
 * The fewest bytes a forest's state can take: each tree stores at least its rng, counts and five
 * u16 node fields, a cut, a leaf point and a leaf mass per slot. Readers hold a claimed
 * configuration against it before allocating the forest.
 */
export function leastForestBytes(numberOfTrees: number, sampleSize: number): number {
  return numberOfTrees * (16 + 4 + 2 + 8 + 12 + 20 * sampleSize);
}

export function readForest(r: ByteReader): RandomCutForest {
  const config: ForestConfig = {
    dimensions: r.u32('config'),
    shingleSize: r.u32('config'),
    numberOfTrees: r.u32('config'),
    sampleSize: r.u32('config'),
    timeDecay: r.f64('config'),
    outputAfter: r.u32('config'),
    seed: r.u32('config'),
    boxCacheMinMass: r.u32('config'),
  };
  // The forest is allocated from the claimed configuration, so the claim is held against the bytes
  // that follow before anything is allocated: a few bytes must not buy gigabytes.
  const least = leastForestBytes(config.numberOfTrees, config.sampleSize);
  if (least > r.remaining) {
    throw new RcfStateError(
      `RCF state is corrupt (its config claims ${config.numberOfTrees} trees of sample size ${config.sampleSize}, which take at least ${least} bytes; ${r.remaining} remain)`,
    );
  }
  let f: RandomCutForest;
  try {
    f = new RandomCutForest(config);
  } catch (e) {
    throw new RcfStateError(`RCF state is corrupt (invalid config: ${(e as Error).message})`);
  }
  check(
    JSON.stringify(f.config) === JSON.stringify({ ...config, seed: config.seed >>> 0 }),
    'config does not round-trip',
  );
  f.pointsSeenCount = r.f64('counters');
  f.entriesSeenCount = r.f64('counters');
  f.shingleFill = r.u32('counters');
  check(f.shingleFill <= config.shingleSize, 'shingle fill');
  r.into(f.shingle, f.shingle.length, 'shingle');
  const s = f.store;
  const S = s.shingleSize;
  const capacity = r.u32('point store');
  const nextRow = r.u32('point store');
  const lastHandle = r.u32('point store');
  check(capacity >= S && capacity <= s.maxRows && nextRow <= capacity, 'point store sizes');
  check(lastHandle === NO_HANDLE || lastHandle + S <= nextRow, 'newest point');
  s.resize(capacity);
  s.nextRow = nextRow;
  s.lastHandle = lastHandle === NO_HANDLE ? -1 : lastHandle;
  r.into(s.values, nextRow * s.rowDims, 'point values');
  r.into(s.refCounts, nextRow, 'reference counts');
  s.liveCount = 0;
  for (let h = 0; h < nextRow; h++) {
    if (s.refCounts[h] === 0) continue;
    check(h + S <= nextRow, 'point handle');
    s.liveCount++;
  }
  const D2 = 2 * f.shingledDimensions;
  const cap = config.sampleSize;
  for (let i = 0; i < config.numberOfTrees; i++) {
    r.into(f.rngs[i]!.state, 4, 'rng state');
    const sp = f.samplers[i]!;
    sp.size = r.u32('sampler');
    check(sp.size <= cap, 'sampler size');
    r.into(sp.weights, sp.size, 'sampler weights');
    r.into(sp.points, sp.size, 'sampler points');
    for (let j = 0; j < sp.size; j++) check(s.refCounts[sp.points[j]!]! > 0 && sp.points[j]! < nextRow, 'sampler point index');
    const t = f.trees[i]!;
    t.root = r.u16('tree');
    t.nodeFreeCount = r.u32('tree');
    t.leafFreeCount = r.u32('tree');
    check(t.nodeFreeCount <= cap && t.leafFreeCount <= cap, 'tree free counts');
    check(t.root === NIL || t.root < 2 * cap, 'tree root');
    const field = new Uint16Array(cap);
    for (const offset of NODE_FIELDS) {
      r.into(field, cap, 'tree');
      for (let n = 0; n < cap; n++) t.nodes[(n << 3) + offset] = field[n]!;
    }
    const cuts = new Float32Array(cap);
    r.into(cuts, cap, 'tree');
    for (let n = 0; n < cap; n++) t.cuts[(n << 2) + 3] = cuts[n]!;
    r.into(t.nodeFree, t.nodeFreeCount, 'tree');
    r.into(t.leafPoint, cap, 'tree');
    r.into(t.leafMass, cap, 'tree');
    r.into(t.leafFree, t.leafFreeCount, 'tree');
    const slots = r.u32('box pool');
    const boxHigh = r.u32('box pool');
    const boxFree = r.u32('box pool');
    check(slots <= cap && boxHigh <= slots && boxFree <= boxHigh, 'box pool sizes');
    t.resizeBoxPool(slots);
    t.boxHighWater = boxHigh;
    t.boxFreeCount = boxFree;
    const flat = new Float32Array(boxHigh * D2);
    r.into(flat, boxHigh * D2, 'boxes');
    boxesFromState(t, flat);
    // Derived data, recomputed exactly as it was computed originally.
    for (let slot = 0; slot < boxHigh; slot++) t.refreshInner(slot);
    r.into(t.boxFree, boxFree, 'box free list');
    checkTree(t, sp.size, s);
  }
  checkReferences(f);
  return f;
}

/**
 * Walks a restored tree from its root: every reference in range and reached once, cut
 * dimensions and box slots valid, masses adding up, leaves naming live points, and the free
 * lists holding exactly the unused nodes and leaves.
 */
function checkTree(t: Tree, samplerSize: number, store: PointStore): void {
  const cap = t.capacity;
  const D = t.dimensions;
  const usedNode = new Uint8Array(cap);
  const usedLeaf = new Uint8Array(cap);
  let nodes = 0;
  let leaves = 0;
  // Iterative: a tree can be deep (sample sizes up to 32767).
  const stack: number[] = t.root === NIL ? [] : [t.root];
  check(t.root === NIL || t.root < 2 * cap, 'tree root');
  while (stack.length > 0) {
    const ref = stack.pop()!;
    if (ref >= t.leafBase) {
      const l = ref - t.leafBase;
      check(usedLeaf[l] === 0, 'leaf reached twice');
      usedLeaf[l] = 1;
      leaves++;
      const h = t.leafPoint[l]!;
      check(h < store.nextRow && store.refCounts[h]! > 0, 'leaf point');
      check(t.leafMass[l]! >= 1, 'leaf mass');
      continue;
    }
    check(usedNode[ref] === 0, 'node reached twice');
    usedNode[ref] = 1;
    nodes++;
    check(t.cutDimOf(ref) < D, 'cut dimension');
    const slot = t.boxSlotOf(ref);
    check(slot === NIL || slot < t.boxHighWater, 'box slot');
    const left = t.leftOf(ref);
    const right = t.rightOf(ref);
    check(left < 2 * cap && right < 2 * cap, 'tree reference');
    stack.push(left, right);
  }
  // Every reached node's children are in range now, so masses can be read.
  for (let n = 0; n < cap; n++) {
    if (usedNode[n] === 1) check(t.massOf(n) === t.massOf(t.leftOf(n)) + t.massOf(t.rightOf(n)), 'node mass');
  }
  check((t.root === NIL ? 0 : t.massOf(t.root)) === samplerSize, 'tree mass differs from its sample');
  check(nodes + t.nodeFreeCount === cap && leaves + t.leafFreeCount === cap, 'tree free counts');
  for (let i = 0; i < t.nodeFreeCount; i++) check(t.nodeFree[i]! < cap && usedNode[t.nodeFree[i]!] === 0, 'node free list');
  for (let i = 0; i < t.leafFreeCount; i++) check(t.leafFree[i]! < cap && usedLeaf[t.leafFree[i]!] === 0, 'leaf free list');
  for (let i = 0; i < t.boxFreeCount; i++) check(t.boxFree[i]! < t.boxHighWater, 'box free list');
}

/** The point store's reference counts must be exactly the samplers' entries. */
function checkReferences(f: RandomCutForest): void {
  const s = f.store;
  const refs = new Uint32Array(s.nextRow);
  for (const sp of f.samplers) for (let j = 0; j < sp.size; j++) refs[sp.points[j]!]!++;
  for (let h = 0; h < s.nextRow; h++) check(refs[h] === s.refCounts[h], 'reference counts');
}

export function forestToState(f: RandomCutForest): Uint8Array {
  return seal(KIND_FOREST, (w) => writeForest(w, f));
}

export function forestFromState(bytes: Uint8Array): RandomCutForest {
  const r = open(bytes, KIND_FOREST);
  const f = readForest(r);
  if (r.offset !== r.end) throw new RcfStateError('RCF state is corrupt (unexpected bytes after forest)');
  return f;
}
