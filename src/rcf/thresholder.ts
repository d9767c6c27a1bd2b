import { type ByteReader, type ByteWriter, KIND_THRESHOLDED, open, seal } from './bytes.js';
import { DiVector } from './divector.js';
import { RcfStateError } from './errors.js';
import { RandomCutForest, type ForestOptions } from './forest.js';
import { readForest, writeForest } from './state.js';

export interface ThresholdOptions {
  /** Deviations above the running mean score that count as anomalous. Default 3. */
  zFactor?: number;
  /** Scores below this are never anomalous (raw RCF scores of normal data sit around 1 or below). Default 1.0. */
  absoluteThreshold?: number;
  /** Horizon (in scores) of the exponentially discounted score mean/deviation. Default 1000. */
  horizon?: number;
  /** Non-zero scores to observe before anything can be flagged. Default 32. */
  warmupScores?: number;
  /** Also compute attribution for points that are not anomalous (costs ~1.5× a score). Default false. */
  attributeAll?: boolean;
}

export type ThresholdedForestOptions = ForestOptions & ThresholdOptions;

export type Direction = 'high' | 'low';

export interface AnomalyDescriptor {
  /** Raw RCF score of the point under the model before it was added. */
  score: number;
  /** Threshold in force for this point: max(absoluteThreshold, mean + zFactor·deviation). */
  threshold: number;
  /** 0 for normal points; 1 - threshold/score for anomalies, so it rises towards 1 the further above the threshold. */
  grade: number;
  isAnomaly: boolean;
  /** Attribution folded onto the base dimensions (sums to `score`); null for normal points unless `attributeAll`. */
  attribution: DiVector | null;
  /** Base dimensions that carry the anomaly: the fewest, by attribution, that explain at least half of it. */
  anomalousDims: number[];
  /** Per entry of `anomalousDims`: whether the value is above ('high') or below ('low') what was seen. */
  directions: Direction[];
  /** The input with the anomalous dimensions replaced by their expected values; null for normal points. */
  expected: Float64Array | null;
}

interface ResolvedThreshold {
  zFactor: number;
  absoluteThreshold: number;
  horizon: number;
  warmupScores: number;
  attributeAll: boolean;
}

function resolveThreshold(o: ThresholdOptions): ResolvedThreshold {
  const r = {
    zFactor: o.zFactor ?? 3,
    absoluteThreshold: o.absoluteThreshold ?? 1.0,
    horizon: o.horizon ?? 1000,
    warmupScores: o.warmupScores ?? 32,
    attributeAll: o.attributeAll ?? false,
  };
  if (!(r.zFactor >= 0)) throw new RangeError('zFactor must be >= 0');
  if (!(r.absoluteThreshold >= 0)) throw new RangeError('absoluteThreshold must be >= 0');
  if (!(r.horizon >= 1)) throw new RangeError('horizon must be >= 1');
  if (!Number.isInteger(r.warmupScores) || r.warmupScores < 0) throw new RangeError('warmupScores must be a non-negative integer');
  return r;
}

/**
 * A forest plus an adaptive threshold over its score stream: for each point,
 * score it (before updating), decide whether it is anomalous against the
 * discounted statistics of past scores, explain it, then learn from it.
 */
export class ThresholdedForest {
  readonly forest: RandomCutForest;
  readonly options: Readonly<ResolvedThreshold>;
  private mean = 0;
  private variance = 0;
  private count = 0;

  constructor(options: ThresholdedForestOptions) {
    this.forest = new RandomCutForest(options);
    this.options = resolveThreshold(options);
  }

  /** Current threshold: max(absoluteThreshold, mean + zFactor·deviation). */
  get threshold(): number {
    return Math.max(this.options.absoluteThreshold, this.mean + this.options.zFactor * Math.sqrt(this.variance));
  }

  /** Judges `point` (see `assess`), then learns from it (see `learn`). */
  process(point: ArrayLike<number>): AnomalyDescriptor {
    const d = this.assess(point);
    this.learn(point, d.score);
    return d;
  }

  /**
   * Judges `point` under the current model and statistics without learning from it, so a caller
   * can look further (an attribution, an expected value) at the model the point was judged by.
   * `learn(point, score)` must follow, with the same point, before the next point is assessed.
   */
  assess(point: ArrayLike<number>): AnomalyDescriptor {
    const f = this.forest;
    const score = f.score(point);
    const threshold = this.threshold;
    const ready = score > 0 && this.count >= this.options.warmupScores;
    const isAnomaly = ready && score >= threshold;
    let attribution: DiVector | null = null;
    let anomalousDims: number[] = [];
    let directions: Direction[] = [];
    let expected: Float64Array | null = null;
    if (isAnomaly || (this.options.attributeAll && score > 0)) {
      attribution = f.attribution(point).foldShingle(f.dimensions);
    }
    if (isAnomaly && attribution) {
      anomalousDims = dominantDims(attribution);
      directions = anomalousDims.map((d) => (attribution.high[d]! >= attribution.low[d]! ? 'high' : 'low'));
      expected = f.expectedValues(point, anomalousDims);
    }
    return { score, threshold, grade: isAnomaly ? 1 - threshold / score : 0, isAnomaly, attribution, anomalousDims, directions, expected };
  }

  /** Learns from the point `assess` just judged: its score joins the statistics and the point the forest. */
  learn(point: ArrayLike<number>, score: number): void {
    // The statistics would take a NaN or an infinity for good and never flag again.
    if (!(score >= 0 && score < Number.POSITIVE_INFINITY)) throw new RangeError(`learn: score must be the finite, non-negative score assess gave, got ${score}`);
    if (score > 0) this.observe(score);
    this.forest.update(point);
  }

  /** Exponentially discounted mean/variance; early on the discount is 1/n so the estimate is an unbiased average. */
  private observe(score: number): void {
    this.count++;
    const a = Math.max(1 / this.count, 1 / this.options.horizon);
    const delta = score - this.mean;
    this.mean += a * delta;
    this.variance = (1 - a) * (this.variance + a * delta * delta);
  }

  toState(): Uint8Array {
    return seal(KIND_THRESHOLDED, (w: ByteWriter) => {
      writeForest(w, this.forest);
      const o = this.options;
      w.f64(o.zFactor);
      w.f64(o.absoluteThreshold);
      w.f64(o.horizon);
      w.u32(o.warmupScores);
      w.u8(o.attributeAll ? 1 : 0);
      w.f64(this.mean);
      w.f64(this.variance);
      w.f64(this.count);
    });
  }

  static fromState(bytes: Uint8Array): ThresholdedForest {
    const r: ByteReader = open(bytes, KIND_THRESHOLDED);
    const forest = readForest(r);
    let options: ResolvedThreshold;
    try {
      options = resolveThreshold({
        zFactor: r.f64('threshold options'),
        absoluteThreshold: r.f64('threshold options'),
        horizon: r.f64('threshold options'),
        warmupScores: r.u32('threshold options'),
        attributeAll: r.u8('threshold options') === 1,
      });
    } catch (e) {
      if (e instanceof RcfStateError) throw e;
      throw new RcfStateError(`RCF state is corrupt (threshold options: ${(e as Error).message})`);
    }
    const t = Object.create(ThresholdedForest.prototype) as ThresholdedForest;
    const mutable = t as unknown as { forest: RandomCutForest; options: ResolvedThreshold; mean: number; variance: number; count: number };
    mutable.forest = forest;
    mutable.options = options;
    mutable.mean = r.f64('threshold statistics');
    mutable.variance = r.f64('threshold statistics');
    mutable.count = r.f64('threshold statistics');
    if (r.offset !== r.end) throw new RcfStateError('RCF state is corrupt (unexpected bytes after thresholder)');
    return t;
  }
}

/** The fewest base dimensions, by descending attribution, that explain at least half of the total. */
export function dominantDims(a: DiVector): number[] {
  const total = a.total();
  const order = Array.from({ length: a.dimensions }, (_, i) => i).sort((x, y) => a.at(y) - a.at(x) || x - y);
  const out: number[] = [];
  let acc = 0;
  for (const d of order) {
    out.push(d);
    acc += a.at(d);
    if (acc >= 0.5 * total) break;
  }
  return out;
}
