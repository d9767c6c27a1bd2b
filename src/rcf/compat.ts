import { DiVector } from './divector.js';
import { RandomCutForest } from './forest.js';

/**
 * Kinesis Data Analytics (SQL) RANDOM_CUT_FOREST / RANDOM_CUT_FOREST_WITH_EXPLANATION
 * semantics on top of our forest: same parameters and defaults, one score per
 * row computed before the row updates the model.
 */
export interface KinesisRcfOptions {
  /** Default 100. */
  numberOfTrees?: number;
  /** Default 256. */
  subSampleSize?: number;
  /** Default 100000 (λ = 1/timeDecay). */
  timeDecay?: number;
  /** Default 1. */
  shingleSize?: number;
  /** Include DIRECTION and STRENGTH in explanations (KDA's withDirectionality). Default true. */
  withDirectionality?: boolean;
  /** Our addition: KDA is not reproducible, we are. Default 1. */
  seed?: number;
}

export interface ExplainedScore {
  /** ANOMALY_SCORE */
  score: number;
  /** ANOMALY_EXPLANATION: {"col":{"DIRECTION":"HIGH","STRENGTH":"0.8567","ATTRIBUTION_SCORE":"1.7447"},...} */
  explanation: string;
}

export class KinesisRandomCutForest {
  readonly columns: readonly string[];
  readonly forest: RandomCutForest;
  private readonly withDirectionality: boolean;
  private readonly row: Float64Array;
  private readonly attr: DiVector;

  constructor(columns: readonly string[], options: KinesisRcfOptions = {}) {
    if (columns.length === 0) throw new RangeError('at least one numeric column is required');
    if (new Set(columns).size !== columns.length) throw new RangeError('column names must be unique');
    this.columns = [...columns];
    this.forest = new RandomCutForest({
      dimensions: columns.length,
      numberOfTrees: options.numberOfTrees ?? 100,
      sampleSize: options.subSampleSize ?? 256,
      timeDecay: options.timeDecay ?? 100000,
      shingleSize: options.shingleSize ?? 1,
      seed: options.seed ?? 1,
    });
    this.withDirectionality = options.withDirectionality ?? true;
    this.row = new Float64Array(columns.length);
    this.attr = new DiVector(this.forest.shingledDimensions);
  }

  /** RANDOM_CUT_FOREST: the row's ANOMALY_SCORE (scored, then learned). */
  score(row: ArrayLike<number> | Readonly<Record<string, number>>): number {
    return this.forest.scoreThenUpdate(this.toPoint(row));
  }

  /** RANDOM_CUT_FOREST_WITH_EXPLANATION: score and per-column explanation, then learn. */
  scoreWithExplanation(row: ArrayLike<number> | Readonly<Record<string, number>>): ExplainedScore {
    const p = this.toPoint(row);
    const a = this.forest.attribution(p, this.attr);
    this.forest.update(p);
    const D = this.columns.length;
    // Columns are base dimensions: fold the attribution over shingle positions.
    const parts: string[] = [];
    let score = 0;
    for (let c = 0; c < D; c++) {
      let high = 0;
      let low = 0;
      for (let i = c; i < a.dimensions; i += D) {
        high += a.high[i]!;
        low += a.low[i]!;
      }
      const total = high + low;
      score += total;
      const fields: string[] = [];
      if (this.withDirectionality) {
        // STRENGTH: how one-sided the column's attribution is, |high-low|/(high+low) in [0,1].
        const strength = total > 0 ? Math.abs(high - low) / total : 0;
        fields.push(`"DIRECTION":"${high >= low ? 'HIGH' : 'LOW'}"`, `"STRENGTH":"${strength.toFixed(4)}"`);
      }
      fields.push(`"ATTRIBUTION_SCORE":"${total.toFixed(4)}"`);
      parts.push(`${JSON.stringify(this.columns[c])}:{${fields.join(',')}}`);
    }
    return { score, explanation: `{${parts.join(',')}}` };
  }

  private toPoint(row: ArrayLike<number> | Readonly<Record<string, number>>): Float64Array {
    const out = this.row;
    if (isArrayLike(row)) {
      if (row.length !== this.columns.length) throw new RangeError(`expected ${this.columns.length} values, got ${row.length}`);
      for (let i = 0; i < out.length; i++) out[i] = row[i]!;
    } else {
      for (let i = 0; i < out.length; i++) {
        const v = row[this.columns[i]!];
        if (typeof v !== 'number') throw new RangeError(`column ${this.columns[i]} is missing or not a number`);
        out[i] = v;
      }
    }
    return out;
  }
}

function isArrayLike(v: unknown): v is ArrayLike<number> {
  return Array.isArray(v) || ArrayBuffer.isView(v);
}

/** RANDOM_CUT_FOREST over a whole (finite) stream of rows: one score per row. */
export function randomCutForest(rows: Iterable<ArrayLike<number>>, columnCount: number, options: KinesisRcfOptions = {}): number[] {
  const f = new KinesisRandomCutForest(
    Array.from({ length: columnCount }, (_, i) => `COL${i}`),
    options,
  );
  const out: number[] = [];
  for (const r of rows) out.push(f.score(r));
  return out;
}

/** RANDOM_CUT_FOREST_WITH_EXPLANATION over a whole stream of rows. */
export function randomCutForestWithExplanation(
  rows: Iterable<ArrayLike<number> | Readonly<Record<string, number>>>,
  columns: readonly string[],
  options: KinesisRcfOptions = {},
): ExplainedScore[] {
  const f = new KinesisRandomCutForest(columns, options);
  const out: ExplainedScore[] = [];
  for (const r of rows) out.push(f.scoreWithExplanation(r));
  return out;
}
