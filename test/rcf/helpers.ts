import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { RandomCutForest } from '../../src/rcf/forest.js';
import { Random } from '../../src/rcf/random.js';
import { NIL, type Tree } from '../../src/rcf/tree.js';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));

/** Rows of ../shared/data/rcf/rcf-paper.csv (no header; 3 numeric columns). */
export function loadPaperData(): number[][] {
  const text = readFileSync(`${repoRoot}../shared/data/rcf/rcf-paper.csv`, 'utf8');
  return text
    .trim()
    .split('\n')
    .map((line) => line.split(',').map(Number));
}

/** Seeded random walk + noise, `dims` columns. */
export function randomWalk(n: number, dims: number, seed: number): number[][] {
  const rng = new Random(seed);
  const level = new Array<number>(dims).fill(0);
  const rows: number[][] = [];
  for (let t = 0; t < n; t++) {
    const row: number[] = [];
    for (let d = 0; d < dims; d++) {
      level[d]! += rng.nextDouble() - 0.5;
      row.push(level[d]! + (rng.nextDouble() - 0.5) * 0.3);
    }
    rows.push(row);
  }
  return rows;
}

/**
 * Checks every structural invariant of one tree and returns the problems found:
 * masses add up, cuts separate the subtrees they route, cached boxes are exactly
 * the bounding boxes of their leaves (tight), boxes are cached iff mass reaches
 * the threshold, every leaf point lies inside every ancestor's box, and the
 * leaves hold exactly the sampler's points.
 */
export function treeProblems(f: RandomCutForest, treeIndex: number): string[] {
  const t: Tree = f.trees[treeIndex]!;
  const sampler = f.samplers[treeIndex]!;
  const D = t.dimensions;
  const values = f.store.values;
  const problems: string[] = [];
  let internals = 0;
  let leaves = 0;
  let cached = 0;
  const leafMultiset = new Map<string, number>();
  const pointKey = (idx: number): string => Array.from(values.subarray(f.store.offset(idx), f.store.offset(idx) + D)).join(',');

  // Returns [mass, min[], max[]] of the subtree; `ancestors` are the internal nodes above.
  const visit = (ref: number, ancestors: number[]): { mass: number; min: number[]; max: number[] } => {
    if (ref >= t.leafBase) {
      leaves++;
      const leaf = ref - t.leafBase;
      const m = t.leafMass[leaf]!;
      if (m < 1) problems.push(`leaf ${leaf} has mass ${m}`);
      const p = Array.from(values.subarray(f.store.offset(t.leafPoint[leaf]!), f.store.offset(t.leafPoint[leaf]!) + D));
      leafMultiset.set(p.join(','), (leafMultiset.get(p.join(',')) ?? 0) + m);
      for (const a of ancestors) {
        const slot = t.boxSlotOf(a);
        if (slot === NIL) continue;
        for (let d = 0; d < D; d++) {
          const lo = t.boxLo(slot, d);
          const hi = t.boxHi(slot, d);
          if (p[d]! < lo || p[d]! > hi) problems.push(`leaf ${leaf} outside box of ancestor ${a}`);
        }
      }
      return { mass: m, min: p, max: [...p] };
    }
    internals++;
    const l = visit(t.leftOf(ref), [...ancestors, ref]);
    const r = visit(t.rightOf(ref), [...ancestors, ref]);
    const dim = t.cutDimOf(ref);
    const cut = t.cutValueOf(ref);
    if (!(l.max[dim]! <= cut && r.min[dim]! > cut)) problems.push(`cut of node ${ref} does not separate its children`);
    const mass = l.mass + r.mass;
    if (t.massOf(ref) !== mass) problems.push(`node ${ref} mass ${t.massOf(ref)} != children ${mass}`);
    const min = l.min.map((v, d) => Math.min(v, r.min[d]!));
    const max = l.max.map((v, d) => Math.max(v, r.max[d]!));
    const slot = t.boxSlotOf(ref);
    const shouldCache = mass >= t.boxCacheMinMass;
    if (shouldCache !== (slot !== NIL)) problems.push(`node ${ref} mass ${mass} cached=${slot !== NIL}`);
    if (slot !== NIL) {
      cached++;
      for (let d = 0; d < D; d++) {
        if (t.boxLo(slot, d) !== min[d] || t.boxHi(slot, d) !== max[d]) {
          problems.push(`box of node ${ref} is not tight in dim ${d}`);
        }
      }
    }
    return { mass, min, max };
  };

  if (t.root !== NIL) {
    const total = visit(t.root, []).mass;
    if (total !== sampler.size) problems.push(`tree mass ${total} != sampler size ${sampler.size}`);
  } else if (sampler.size !== 0) problems.push('empty tree with non-empty sampler');
  if (internals !== t.capacity - t.nodeFreeCount) problems.push(`internal nodes ${internals} vs free list`);
  if (leaves !== t.capacity - t.leafFreeCount) problems.push(`leaves ${leaves} vs free list`);
  if (cached !== t.boxHighWater - t.boxFreeCount) problems.push(`cached boxes ${cached} vs box pool`);
  if (internals !== Math.max(0, leaves - 1)) problems.push(`${internals} internal nodes for ${leaves} leaves`);
  const samplerMultiset = new Map<string, number>();
  for (let i = 0; i < sampler.size; i++) {
    const k = pointKey(sampler.points[i]!);
    samplerMultiset.set(k, (samplerMultiset.get(k) ?? 0) + 1);
  }
  if (samplerMultiset.size !== leafMultiset.size || [...samplerMultiset].some(([k, v]) => leafMultiset.get(k) !== v)) {
    problems.push('leaf points differ from sampled points');
  }
  return problems;
}

/**
 * Reference counts in the point store must equal the sampler entries naming each handle, every
 * named point must lie within the used rows, and the live count must match.
 */
export function storeProblems(f: RandomCutForest): string[] {
  const counts = new Map<number, number>();
  for (const s of f.samplers) for (let i = 0; i < s.size; i++) counts.set(s.points[i]!, (counts.get(s.points[i]!) ?? 0) + 1);
  const store = f.store;
  const problems: string[] = [];
  for (let h = 0; h < store.nextRow; h++) {
    const expected = counts.get(h) ?? 0;
    if (store.refCounts[h] !== expected) problems.push(`point ${h}: refCount ${store.refCounts[h]} != ${expected}`);
  }
  for (const h of counts.keys()) if (h + store.shingleSize > store.nextRow) problems.push(`point ${h} lies past the used rows`);
  if (store.size !== counts.size) problems.push(`live count ${store.size} != ${counts.size} referenced points`);
  return problems;
}
