import { NIL, NODE_LEFT, NODE_RIGHT, NODE_SLOT, type Tree, type Workspace } from './tree.js';

/*
 * Expected-inverse-depth anomaly score of the AWS reference, per tree.
 *
 * The query falls to a leaf at depth d. If the leaf holds the query itself
 * (a duplicate of mass m) the base score is damp / (d + log2(m+1)) with
 * damp = 1 - m / (2·treeMass); otherwise it is 1 / (d+1). Unwinding towards
 * the root, at each node of depth k with box B, p is the probability that a
 * random cut of B extended by the query separates the query:
 *   p = gap / range(B ∪ q),  gap = Σ_d distance of q outside B in dim d,
 * and the score becomes p / (k+1) + (1-p)·s. The result is normalised by
 * log2(treeMass + 1).
 *
 * Two facts keep the unwinding cheap. Boxes grow towards the root, so once
 * the query is inside a box it is inside every ancestor's (p = 0 from there
 * on: stop), and the query can only be outside an ancestor's box in a
 * dimension where it was outside the child's: the set of "outside"
 * dimensions only shrinks, and only those need reading. range(B ∪ q) is then
 * the cached Σ(max-min) of B plus the gap.
 */

const LN2 = Math.LN2;

/** Walks from the root to the leaf the query falls into; returns the leaf ref and fills ws.path / ws.depth. */
function descend(tree: Tree, q: Float32Array, ws: Workspace): number {
  const path = ws.path;
  const leafBase = tree.leafBase;
  const nodes = tree.nodes;
  const cuts = tree.cuts;
  let node = tree.root;
  let depth = 0;
  if (tree.dimensions === 1) {
    // Every cut is on dimension 0: one dependent load less per level.
    const x = q[0]!;
    while (node < leafBase) {
      path[depth++] = node;
      const b = node << 3;
      node = x <= cuts[(node << 2) + 3]! ? nodes[b + NODE_LEFT]! : nodes[b + NODE_RIGHT]!;
    }
    ws.depth = depth;
    return node;
  }
  while (node < leafBase) {
    path[depth++] = node;
    node = tree.childOf(node, q, 0);
  }
  ws.depth = depth;
  return node;
}

/**
 * Fills ws.outside with the dimensions where q differs from the leaf's point
 * and returns their count (0 means the leaf holds the query: a duplicate).
 */
function leafOutside(tree: Tree, leaf: number, q: Float32Array, ws: Workspace): number {
  const D = tree.dimensions;
  const values = tree.store.values;
  const pb = tree.leafPoint[leaf]! * tree.pointStride;
  const out = ws.outside;
  let n = 0;
  for (let d = 0; d < D; d++) if (values[pb + d] !== q[d]) out[n++] = d;
  return n;
}

/**
 * Makes ws.running the box of internal node `n` (uncached, hence small) given
 * that it already holds the box of `child`.
 *
 * Hot helpers here return no doubles: V8 boxes a double returned from a call
 * that is not inlined into a fresh heap number, an allocation per tree and
 * point that showed up as several percent of the run time in garbage collection.
 */
function runningBox(tree: Tree, n: number, child: number, ws: Workspace, ready: boolean): void {
  const running = ws.running;
  if (!ready) tree.boxOf(child, running);
  tree.extendBox(tree.siblingOf(n, child), running);
}

/** Σ_d (max_d - min_d) of an interleaved scratch box. */
function innerOfRunning(running: Float32Array, D: number): number {
  let inner = 0;
  for (let d = 0; d < D; d++) inner += running[2 * d + 1]! - running[2 * d]!;
  return inner;
}

function seenScore(tree: Tree, leaf: number, depth: number): number {
  const m = tree.leafMass[leaf]!;
  const treeMass = tree.totalMass;
  return (1 - m / (2 * treeMass)) / (depth + Math.log(m + 1) / LN2);
}

/**
 * Adds the normalised score of `q` in one tree (0 for an empty tree) to
 * ws.scoreSum[0] (a typed-array slot, not a returned double: see runningBox).
 *
 * Most of the work of a walk is at its bottom: the query is outside the
 * leaf's parent's box in nearly every dimension, and a few levels up in
 * fewer and fewer. The bottom level therefore tests the parent's box in all
 * dimensions directly (no separate pass comparing the query with the leaf),
 * and uncached boxes with a leaf sibling, the common case for these small
 * nodes, are built, summed and (at the bottom) tested in one fused pass
 * instead of separate ones (copy the leaf, extend by the sibling, sum the
 * ranges, gap loop). The same values are combined in the same order as
 * before, so the score is bitwise the same (test/rcf/golden.test.ts).
 */
export function scoreTree(tree: Tree, q: Float32Array, ws: Workspace): void {
  if (tree.root === NIL) {
    ws.scoreSum[0]! += 0;
    return;
  }
  const D = tree.dimensions;
  const leafRef = descend(tree, q, ws);
  const depth = ws.depth;
  const leafBase = tree.leafBase;
  const leaf = leafRef - leafBase;
  const norm = ws.normOfMass[tree.totalMass]!;
  const path = ws.path;
  const out = ws.outside;
  const nodes = tree.nodes;
  const leafPoint = tree.leafPoint;
  const stride0 = tree.pointStride;
  const values = tree.store.values;
  const boxes = tree.boxes;
  const boxInner = tree.boxInner;
  const stride = tree.boxStride;
  const running = ws.running;
  let s = 1 / (depth + 1);
  let nOut = 0;
  let k = depth - 1;
  let runningReady = false;
  let child = leafRef;
  if (k >= 0) {
    // The leaf's parent. Its box contains the leaf, so a dimension where the
    // query equals the leaf is inside it: testing the parent's box in every
    // dimension gives the same outside set (in the same order) as the leaf
    // test followed by the box test, without a separate pass over the leaf.
    const n = path[k]!;
    const slot = nodes[(n << 3) + NODE_SLOT]!;
    const sib = tree.siblingOf(n, leafRef);
    let inner = 0;
    let gap = 0;
    if (slot === NIL && sib >= leafBase) {
      // Uncached with a leaf sibling: the box is [min, max] of the two
      // points, built, summed and tested in one pass.
      const pb = leafPoint[leaf]! * stride0;
      const ps = leafPoint[sib - leafBase]! * stride0;
      for (let d = 0; d < D; d++) {
        const l = values[pb + d]!;
        const v = values[ps + d]!;
        const x = q[d]!;
        // As boxOf(leaf) then extendBox(sibling): ties keep the leaf's value.
        const lo = v < l ? v : l;
        const hi = v > l ? v : l;
        running[2 * d] = lo;
        running[2 * d + 1] = hi;
        inner += hi - lo;
        const below = +(x < lo);
        const above = +(x > hi);
        gap += (lo - x) * below + (x - hi) * above;
        out[nOut] = d;
        nOut += below + above;
      }
      runningReady = true;
    } else {
      let box: Float32Array;
      let b: number;
      if (slot !== NIL) {
        box = boxes;
        b = slot * stride + 2;
        inner = boxInner[slot * (D + 1)]!;
      } else {
        runningBox(tree, n, leafRef, ws, false);
        inner = innerOfRunning(running, D);
        runningReady = true;
        box = running;
        b = 0;
      }
      for (let d = 0; d < D; d++) {
        const x = q[d]!;
        const lo = box[b + 2 * d]!;
        const hi = box[b + 2 * d + 1]!;
        const below = +(x < lo);
        const above = +(x > hi);
        gap += (lo - x) * below + (x - hi) * above;
        out[nOut] = d;
        nOut += below + above;
      }
    }
    if (nOut === 0) {
      // Inside the parent's box: a duplicate of the leaf, or p = 0 from here up.
      if (leafOutside(tree, leaf, q, ws) === 0) ws.scoreSum[0]! += seenScore(tree, leaf, depth) * norm;
      else ws.scoreSum[0]! += s * norm;
      return;
    }
    const p = gap / (inner + gap);
    s = p / (k + 1) + (1 - p) * s;
    child = n;
    k--;
  } else if (leafOutside(tree, leaf, q, ws) === 0) {
    // The root is a leaf.
    ws.scoreSum[0]! += seenScore(tree, leaf, depth) * norm;
    return;
  } else {
    ws.scoreSum[0]! += s * norm;
    return;
  }
  for (; k >= 0; k--) {
    const n = path[k]!;
    const slot = nodes[(n << 3) + NODE_SLOT]!;
    let box: Float32Array;
    let b: number;
    let inner: number;
    if (slot !== NIL) {
      box = boxes;
      b = slot * stride + 2;
      inner = boxInner[slot * (D + 1)]!;
    } else {
      const sib = tree.siblingOf(n, child);
      if (runningReady && sib >= leafBase) {
        // Extend the running box by a leaf sibling and sum its ranges in one
        // pass (the same comparisons as extendBox, the same order as innerOfRunning).
        const ps = leafPoint[sib - leafBase]! * stride0;
        inner = 0;
        for (let d = 0; d < D; d++) {
          const v = values[ps + d]!;
          let lo = running[2 * d]!;
          let hi = running[2 * d + 1]!;
          if (v < lo) {
            lo = v;
            running[2 * d] = v;
          }
          if (v > hi) {
            hi = v;
            running[2 * d + 1] = v;
          }
          inner += hi - lo;
        }
      } else {
        runningBox(tree, n, child, ws, runningReady);
        inner = innerOfRunning(running, D);
        runningReady = true;
      }
      box = running;
      b = 0;
    }
    let gap = 0;
    let kept = 0;
    for (let j = 0; j < nOut; j++) {
      const d = out[j]!;
      const x = q[d]!;
      const lo = box[b + 2 * d]!;
      const hi = box[b + 2 * d + 1]!;
      const below = +(x < lo);
      const above = +(x > hi);
      gap += (lo - x) * below + (x - hi) * above;
      out[kept] = d;
      kept += below + above;
    }
    nOut = kept;
    if (nOut === 0) break;
    const p = gap / (inner + gap);
    s = p / (k + 1) + (1 - p) * s;
    child = n;
  }
  ws.scoreSum[0]! += s * norm;
}

/**
 * Same traversal as {@link scoreTree}, additionally splitting every p-weighted
 * term over dimensions in proportion to each dimension's gap (high if the
 * query is above the box, low if below). Adds `scale ×` the tree's
 * attribution into `high`/`low`; the attribution of a tree sums to its score.
 * (Nothing is returned: a returned double would be boxed, see runningBox.)
 */
export function attributeTree(
  tree: Tree,
  q: Float32Array,
  ws: Workspace,
  scale: number,
  high: Float64Array,
  low: Float64Array,
): void {
  if (tree.root === NIL) return;
  const D = tree.dimensions;
  const leafRef = descend(tree, q, ws);
  const depth = ws.depth;
  const leaf = leafRef - tree.leafBase;
  const norm = ws.normOfMass[tree.totalMass]!;
  let nOut = leafOutside(tree, leaf, q, ws);
  if (nOut === 0) {
    // A duplicate has no direction: spread its score evenly.
    const s = seenScore(tree, leaf, depth) * norm;
    const share = (s * scale) / (2 * D);
    for (let d = 0; d < D; d++) {
      high[d]! += share;
      low[d]! += share;
    }
    return;
  }
  // At the leaf the "box" is the leaf point and separation is certain.
  const ah = ws.attrHigh;
  const al = ws.attrLow;
  const values = tree.store.values;
  const pb = tree.leafPoint[leaf]! * tree.pointStride;
  const s0 = 1 / (depth + 1);
  let gapSum = 0;
  for (let d = 0; d < D; d++) gapSum += Math.abs(q[d]! - values[pb + d]!);
  for (let d = 0; d < D; d++) {
    const x = q[d]!;
    const v = values[pb + d]!;
    ah[d] = x > v ? (s0 * (x - v)) / gapSum : 0;
    al[d] = x < v ? (s0 * (v - x)) / gapSum : 0;
  }
  const path = ws.path;
  const out = ws.outside;
  const nodes = tree.nodes;
  const boxes = tree.boxes;
  const boxInner = tree.boxInner;
  const stride = tree.boxStride;
  const running = ws.running;
  let runningReady = false;
  let child = leafRef;
  for (let k = depth - 1; k >= 0; k--) {
    const n = path[k]!;
    const slot = nodes[(n << 3) + NODE_SLOT]!;
    let box: Float32Array;
    let b: number;
    let inner: number;
    if (slot !== NIL) {
      box = boxes;
      b = slot * stride + 2;
      inner = boxInner[slot * (D + 1)]!;
    } else {
      runningBox(tree, n, child, ws, runningReady);
      inner = innerOfRunning(running, D);
      runningReady = true;
      box = running;
      b = 0;
    }
    let gap = 0;
    for (let j = 0; j < nOut; j++) {
      const d = out[j]!;
      const x = q[d]!;
      gap += Math.max(box[b + 2 * d]! - x, 0) + Math.max(x - box[b + 2 * d + 1]!, 0);
    }
    if (gap === 0) break;
    const range = inner + gap;
    const p = gap / range;
    const keep = 1 - p;
    const unseen = 1 / (k + 1);
    for (let d = 0; d < D; d++) {
      ah[d]! *= keep;
      al[d]! *= keep;
    }
    let kept = 0;
    for (let j = 0; j < nOut; j++) {
      const d = out[j]!;
      const x = q[d]!;
      const lo = box[b + 2 * d]!;
      const hi = box[b + 2 * d + 1]!;
      if (x < lo) {
        al[d]! += (unseen * (lo - x)) / range;
        out[kept++] = d;
      } else if (x > hi) {
        ah[d]! += (unseen * (x - hi)) / range;
        out[kept++] = d;
      }
    }
    nOut = kept;
    child = n;
  }
  const f = norm * scale;
  for (let d = 0; d < D; d++) {
    high[d]! += ah[d]! * f;
    low[d]! += al[d]! * f;
  }
}
