import { DiVector } from './divector.js';
import { imputeLeafPoint } from './impute.js';
import { PointStore } from './point-store.js';
import { Random, deriveSeeds } from './random.js';
import { ACCEPTED_NO_EVICTION, REJECTED, Sampler } from './sampler.js';
import { attributeTree, scoreTree } from './score.js';
import { forestFromState, forestToState } from './state.js';
import { MAX_SAMPLE_SIZE, Tree, Workspace } from './tree.js';

export interface ForestOptions {
  /** Dimensions of one input point (before shingling). */
  dimensions: number;
  /** Number of consecutive inputs concatenated into one tree point; 1 = no shingling. Default 1. */
  shingleSize?: number;
  /** Default 50 (the AWS reference default). */
  numberOfTrees?: number;
  /** Points sampled per tree. Default 256; at most 32767. */
  sampleSize?: number;
  /**
   * Decay horizon in points: the sampler favours recent points with weight
   * e^{t/timeDecay}. 0 or Infinity means no decay (uniform reservoir).
   * Default 10 × sampleSize (λ = 1/(10·sampleSize), the reference default).
   */
  timeDecay?: number;
  /** Scores are 0 until this many (shingled) points were inserted. Default sampleSize/4. */
  outputAfter?: number;
  /** Seed of the forest's random streams: an integer in [-2^31, 2^32 - 1]. Default 1. Same seed + same input = same scores. */
  seed?: number;
  /**
   * Internal nodes cache their bounding box only from this mass on; smaller
   * boxes are rebuilt from their few leaves when needed. Trades memory for
   * speed; 2 caches every box. Results do not depend on it. Default: see
   * {@link defaultBoxCacheMinMass} (3 up to 32 tree dimensions, else 5; 5
   * caches about 40% of internal nodes).
   */
  boxCacheMinMass?: number;
}

/** Fully resolved, validated configuration (what the state format stores). */
export interface ForestConfig {
  dimensions: number;
  shingleSize: number;
  numberOfTrees: number;
  sampleSize: number;
  timeDecay: number;
  outputAfter: number;
  seed: number;
  boxCacheMinMass: number;
}

/**
 * Default `boxCacheMinMass` for points of `treeDims` (shingled) dimensions.
 *
 * Rebuilding the small uncached boxes near the leaves is a large share of
 * the time (scoring walks from the leaf up, inserts and deletes end there),
 * while a box record costs 8 + 8·treeDims bytes. Caching down to mass 3
 * where records are small enough still keeps a forest below the AWS
 * reference footprint on the standard benchmarks (npm run bench:rcf, typed
 * arrays): 6 x shingle 4 = 24 dims, 50 trees: mass 4 2.29 MB, mass 3
 * 2.70 MB (reference 2.9 MB), about 11-14 % faster; 16 dims, 100 trees:
 * mass 3 4.17 MB (reference 4.9 MB), while mass 2 would take about 5.05 MB
 * and measured no faster. Scores are bitwise the same for any value
 * (test/rcf/golden.test.ts).
 */
export function defaultBoxCacheMinMass(treeDims: number): number {
  if (treeDims <= 32) return 3;
  return 5;
}

function positiveInt(name: string, v: number, max = Number.MAX_SAFE_INTEGER): number {
  if (!Number.isInteger(v) || v < 1 || v > max) throw new RangeError(`${name} must be an integer in [1, ${max}], got ${v}`);
  return v;
}

export function resolveConfig(o: ForestOptions): ForestConfig {
  const dimensions = positiveInt('dimensions', o.dimensions);
  const shingleSize = positiveInt('shingleSize', o.shingleSize ?? 1);
  if (dimensions * shingleSize > 0xffff) throw new RangeError('dimensions × shingleSize must be at most 65535');
  const numberOfTrees = positiveInt('numberOfTrees', o.numberOfTrees ?? 50, 0xffff);
  const sampleSize = positiveInt('sampleSize', o.sampleSize ?? 256, MAX_SAMPLE_SIZE);
  const timeDecay = o.timeDecay ?? 10 * sampleSize;
  if (!(timeDecay >= 0)) throw new RangeError(`timeDecay must be >= 0 (0 or Infinity: no decay), got ${timeDecay}`);
  const outputAfter = o.outputAfter ?? Math.floor(sampleSize / 4);
  if (!Number.isInteger(outputAfter) || outputAfter < 0) throw new RangeError(`outputAfter must be a non-negative integer`);
  const seed = o.seed ?? 1;
  // Seeds are 32-bit: a larger one would wrap onto another seed's stream without a word.
  if (!Number.isInteger(seed) || seed < -0x80000000 || seed > 0xffffffff) throw new RangeError(`seed must be an integer in [-2147483648, 4294967295], got ${seed}`);
  const boxCacheMinMass = positiveInt('boxCacheMinMass', o.boxCacheMinMass ?? defaultBoxCacheMinMass(dimensions * shingleSize), MAX_SAMPLE_SIZE + 1);
  return { dimensions, shingleSize, numberOfTrees, sampleSize, timeDecay, outputAfter, seed: seed >>> 0, boxCacheMinMass };
}

/**
 * A streaming Random Cut Forest: `numberOfTrees` random cut trees over a
 * shared point store, each fed by its own time-decayed reservoir sampler.
 * Single-threaded; all hot paths reuse preallocated scratch arrays.
 */
export class RandomCutForest {
  readonly config: ForestConfig;
  /** @internal */ readonly store: PointStore;
  /** @internal */ readonly trees: Tree[];
  /** @internal */ readonly samplers: Sampler[];
  /** @internal */ readonly rngs: Random[];
  /** @internal */ readonly ws: Workspace;
  /** @internal Last `shingleSize` inputs, oldest first, float32-rounded. */
  readonly shingle: Float32Array;
  /** @internal Inputs in the shingle so far (saturates at shingleSize). */
  shingleFill = 0;
  /** @internal */ pointsSeenCount = 0;
  /** @internal */ entriesSeenCount = 0;
  private readonly query: Float32Array;
  private readonly missing: Uint8Array;

  constructor(options: ForestOptions) {
    this.config = resolveConfig(options);
    const c = this.config;
    const dims = c.dimensions * c.shingleSize;
    const lambda = c.timeDecay === 0 || c.timeDecay === Infinity ? 0 : 1 / c.timeDecay;
    // Live points never exceed one per sampler entry (+1 for the point being inserted).
    const maxPoints = c.numberOfTrees * c.sampleSize + 1;
    this.store = new PointStore(c.dimensions, c.shingleSize, maxPoints, 2 * c.sampleSize * c.shingleSize);
    this.store.onCompact = (map) => this.remapPoints(map);
    this.trees = [];
    this.samplers = [];
    this.rngs = [];
    const seeds = deriveSeeds(c.seed, c.numberOfTrees);
    for (let i = 0; i < c.numberOfTrees; i++) {
      this.trees.push(new Tree(this.store, c.sampleSize, c.boxCacheMinMass));
      this.samplers.push(new Sampler(c.sampleSize, lambda));
      this.rngs.push(new Random(seeds[i]!));
    }
    this.ws = new Workspace(c.sampleSize, dims);
    this.shingle = new Float32Array(dims);
    this.query = new Float32Array(dims);
    this.missing = new Uint8Array(dims);
  }

  /** Base (input) dimensions. */
  get dimensions(): number {
    return this.config.dimensions;
  }

  /** Dimensions of the points the trees hold: dimensions × shingleSize. */
  get shingledDimensions(): number {
    return this.config.dimensions * this.config.shingleSize;
  }

  /** Inputs given to `update` so far. */
  get pointsSeen(): number {
    return this.pointsSeenCount;
  }

  /** Shingled points offered to the trees so far (pointsSeen - shingleSize + 1 once the shingle is full). */
  get entriesSeen(): number {
    return this.entriesSeenCount;
  }

  /** Whether the next `score` can be non-zero: warm-up over and the shingle full after the next input. */
  get isReady(): boolean {
    return this.entriesSeenCount >= this.config.outputAfter && this.shingleFill + 1 >= this.config.shingleSize;
  }

  /**
   * Anomaly score of the shingle that appending `point` would produce, under
   * the current model (no update). 0 during warm-up. Normal points score
   * around 1 or below; clear outliers well above 1.
   */
  score(point: ArrayLike<number>): number {
    const q = this.buildQuery(point);
    if (!this.isReady) return 0;
    const trees = this.trees;
    const ws = this.ws;
    const sum = ws.scoreSum;
    sum[0] = 0;
    for (let i = 0; i < trees.length; i++) scoreTree(trees[i]!, q, ws);
    return sum[0]! / trees.length;
  }

  /**
   * Directional attribution of `score(point)` over the shingled dimensions
   * (use `foldShingle` for base dimensions); its total equals the score.
   * Pass `out` to avoid allocating.
   */
  attribution(point: ArrayLike<number>, out?: DiVector): DiVector {
    const q = this.buildQuery(point);
    if (out !== undefined && out.dimensions !== this.shingledDimensions) {
      throw new RangeError(`attribution: out has ${out.dimensions} dimensions; this forest's are shingled: ${this.shingledDimensions} (dimensions × shingleSize)`);
    }
    const result = out ?? new DiVector(this.shingledDimensions);
    result.clear();
    if (!this.isReady) return result;
    const trees = this.trees;
    const scale = 1 / trees.length;
    for (let i = 0; i < trees.length; i++) attributeTree(trees[i]!, q, this.ws, scale, result.high, result.low);
    return result;
  }

  /** Appends `point` to the shingle and, once the shingle is full, offers it to every tree's sampler. */
  update(point: ArrayLike<number>): void {
    const q = this.buildQuery(point);
    this.shingle.set(q);
    this.pointsSeenCount++;
    if (this.shingleFill < this.config.shingleSize) this.shingleFill++;
    if (this.shingleFill < this.config.shingleSize) return;
    const seq = this.entriesSeenCount++;
    const idx = this.store.add(q);
    for (let i = 0; i < this.trees.length; i++) this.updateTree(i, seq, idx);
  }

  /** Offers the stored point `idx` (sequence number `seq`) to tree `i`'s sampler and applies the decision. */
  private updateTree(i: number, seq: number, idx: number): void {
    const sampler = this.samplers[i]!;
    const rng = this.rngs[i]!;
    const decision = sampler.offer(seq, rng);
    if (decision === REJECTED) return;
    const tree = this.trees[i]!;
    const store = this.store;
    if (decision !== ACCEPTED_NO_EVICTION) {
      tree.delete(decision, this.ws);
      store.release(decision);
    }
    const used = tree.insert(idx, rng, this.ws);
    sampler.accept(used);
    store.addRef(used);
  }

  /**
   * Scores `point` under the current model, then updates with it (the streaming pattern).
   *
   * Same result as `score(point)` followed by `update(point)`, computed tree by
   * tree: each tree is updated right after it is scored, while its nodes and
   * boxes along the query's path are still in cache (the insert follows that
   * path). This is exact: a tree's score depends only on that tree, each tree
   * draws only from its own random stream, the trees are updated in the same
   * order, and the point store is written only before any tree is touched:
   * adding the query writes rows no stored point's values depend on (a
   * compaction there moves rows and rewrites every handle, values unchanged).
   */
  scoreThenUpdate(point: ArrayLike<number>): number {
    // During warm-up the score is 0 and nothing can be fused.
    if (!this.isReady) {
      this.update(point);
      return 0;
    }
    const q = this.buildQuery(point);
    this.shingle.set(q);
    this.pointsSeenCount++;
    if (this.shingleFill < this.config.shingleSize) this.shingleFill++;
    // isReady means the shingle is full once this input is appended, so the point goes to the trees.
    const seq = this.entriesSeenCount++;
    const idx = this.store.add(q);
    const trees = this.trees;
    const ws = this.ws;
    const sum = ws.scoreSum;
    sum[0] = 0;
    for (let i = 0; i < trees.length; i++) {
      scoreTree(trees[i]!, q, ws);
      this.updateTree(i, seq, idx);
    }
    return sum[0]! / trees.length;
  }

  /**
   * Expected values of the newest input: `point` with the given base
   * dimensions replaced by a typical value conditioned on everything else in
   * the shingle (per tree: follow the query's cuts, taking the heavier branch
   * at cuts on the replaced dimensions; then the median over trees).
   * Returns a copy of `point` when the forest is empty.
   */
  expectedValues(point: ArrayLike<number>, baseDims: ArrayLike<number>): Float64Array {
    const q = this.buildQuery(point);
    const D = this.config.dimensions;
    for (let j = 0; j < baseDims.length; j++) {
      const d = baseDims[j]!;
      if (!Number.isInteger(d) || d < 0 || d >= D) throw new RangeError(`expectedValues: base dimension ${d} is not an integer in 0..${D - 1}`);
    }
    const offset = (this.config.shingleSize - 1) * D;
    const out = Float64Array.from({ length: D }, (_, i) => Number(point[i]));
    if (baseDims.length === 0 || this.entriesSeenCount === 0) return out;
    const missing = this.missing;
    missing.fill(0);
    for (let j = 0; j < baseDims.length; j++) missing[offset + baseDims[j]!] = 1;
    const values = this.store.values;
    const perTree: Float64Array[] = Array.from({ length: baseDims.length }, () => new Float64Array(this.trees.length));
    let n = 0;
    for (const tree of this.trees) {
      const p = imputeLeafPoint(tree, q, missing, this.ws);
      if (p < 0) continue;
      for (let j = 0; j < baseDims.length; j++) perTree[j]![n] = values[this.store.offset(p) + offset + baseDims[j]!]!;
      n++;
    }
    for (let j = 0; j < baseDims.length; j++) out[baseDims[j]!] = median(perTree[j]!.subarray(0, n));
    return out;
  }

  /** Rewrites every point handle the trees and samplers hold after the store compacted. */
  private remapPoints(map: Int32Array): void {
    for (let i = 0; i < this.trees.length; i++) {
      const tree = this.trees[i]!;
      const leafPoint = tree.leafPoint;
      const leafMass = tree.leafMass;
      for (let l = 0; l < leafPoint.length; l++) if (leafMass[l] !== 0) leafPoint[l] = map[leafPoint[l]!]!;
      const sampler = this.samplers[i]!;
      const points = sampler.points;
      for (let j = 0; j < sampler.size; j++) points[j] = map[points[j]!]!;
    }
  }

  /** Compact, versioned, checksummed binary snapshot (see state.ts for the layout). */
  toState(): Uint8Array {
    return forestToState(this);
  }

  /** Restores a snapshot; later scores equal those of the uninterrupted forest. Throws RcfStateError. */
  static fromState(bytes: Uint8Array): RandomCutForest {
    return forestFromState(bytes);
  }

  /** Bytes held in typed arrays by this forest (the model's real footprint, excluding JS object headers). */
  byteLength(): number {
    let total = this.store.byteLength() + this.shingle.byteLength + this.query.byteLength + this.missing.byteLength;
    total += this.ws.byteLength();
    for (let i = 0; i < this.trees.length; i++) {
      total += this.trees[i]!.byteLength() + this.samplers[i]!.byteLength() + this.rngs[i]!.state.byteLength;
    }
    return total;
  }

  /** Fills the query scratch with the shingle that appending `point` yields (float32-rounded). */
  private buildQuery(point: ArrayLike<number>): Float32Array {
    const D = this.config.dimensions;
    if (point.length !== D) throw new RangeError(`expected a point of ${D} dimensions, got ${point.length}`);
    const q = this.query;
    const total = q.length;
    // Shift the shingle left by one input and append the new one (a plain
    // loop: a subarray view per call would allocate on every score/update).
    const shingle = this.shingle;
    for (let i = D; i < total; i++) q[i - D] = shingle[i]!;
    for (let i = 0; i < D; i++) {
      const v = point[i]!;
      if (!Number.isFinite(v)) throw new RangeError(`point[${i}] is not a finite number: ${v}`);
      q[total - D + i] = v;
      // Points are float32: a finite value beyond its range would be stored as an infinity.
      if (!Number.isFinite(q[total - D + i]!)) throw new RangeError(`point[${i}] is outside the float32 range (|x| <= 3.4e38): ${v}`);
    }
    return q;
  }
}

function median(a: Float64Array): number {
  if (a.length === 0) return NaN;
  const s = Float64Array.from(a).sort();
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
