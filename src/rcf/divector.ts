/**
 * Directional attribution: for each dimension, how much of the score comes
 * from the query being above (`high`) or below (`low`) the data seen.
 * The sum of all entries equals the anomaly score.
 */
export class DiVector {
  readonly high: Float64Array;
  readonly low: Float64Array;

  constructor(dimensions: number) {
    this.high = new Float64Array(dimensions);
    this.low = new Float64Array(dimensions);
  }

  get dimensions(): number {
    return this.high.length;
  }

  /** Sum over all dimensions of high + low; equals the score it explains. */
  total(): number {
    let t = 0;
    for (let i = 0; i < this.high.length; i++) t += this.high[i]! + this.low[i]!;
    return t;
  }

  /** high + low of one dimension. */
  at(dim: number): number {
    return this.high[dim]! + this.low[dim]!;
  }

  clear(): void {
    this.high.fill(0);
    this.low.fill(0);
  }

  /**
   * Folds a shingled attribution (shingleSize blocks of `baseDimensions`) onto
   * the base dimensions, summing over shingle positions.
   */
  foldShingle(baseDimensions: number): DiVector {
    const out = new DiVector(baseDimensions);
    for (let i = 0; i < this.high.length; i++) {
      out.high[i % baseDimensions]! += this.high[i]!;
      out.low[i % baseDimensions]! += this.low[i]!;
    }
    return out;
  }
}
