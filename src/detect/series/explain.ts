import type { RandomCutForest } from '../../rcf/index.js';

/**
 * Which of the detector's views found a row most unusual:
 * - `value`: its values, in themselves;
 * - `shape`: its values together with the rows just before (each value may be common);
 * - `week`: its change from the same time a week earlier (a series with a weekly rhythm).
 */
export type ExplainedView = 'value' | 'shape' | 'week';

/** Why a reported row was reported: given on every row whose `anomalyScore` is above 0. */
export interface SeriesExplanation {
  readonly view: ExplainedView;
  /** Rows the view looks at together: 1 for `value` and `week`, the shingle size for `shape`. */
  readonly rows: number;
  /** The column (0-based) that carries most of that view's attribution. */
  readonly column: number;
  /**
   * Whether that column lies above or below what the view expected (`expected`); when it is what
   * was expected, the side the view's attribution leans to.
   */
  readonly direction: 'high' | 'low';
  /** What the view expected for that column on this row, in the input's units. */
  readonly expected: number;
  /**
   * How far that column's value lies beyond every earlier value of the column, in units of the
   * column's range seen before it; 0 when it lies within that range.
   */
  readonly beyondRange: number;
}

/** What one forest makes of a point it has not yet learned, in the forest's own units. */
export interface PointExplanation {
  readonly column: number;
  readonly direction: 'high' | 'low';
  readonly expected: number;
}

/**
 * The column that carries most of `forest`'s attribution of `p`, the forest's expected value for
 * it given the rest of the point and of the shingle, and which side of it the value lies on. A forest's point holds each
 * column's value first; with `differences`, each column's first difference follows and counts
 * for its column (and is left out when the value is imputed, or it would give the value away);
 * further dimensions (the time of day) explain no column.
 */
export function explainPoint(forest: RandomCutForest, p: Float64Array, columns: number, differences: boolean): PointExplanation {
  const a = forest.attribution(p).foldShingle(forest.dimensions);
  let column = 0;
  let best = -1;
  let high = 0;
  let low = 0;
  for (let c = 0; c < columns; c++) {
    let h = a.high[c] as number;
    let l = a.low[c] as number;
    if (differences) {
      h += a.high[columns + c] as number;
      l += a.low[columns + c] as number;
    }
    if (h + l > best) {
      best = h + l;
      column = c;
      high = h;
      low = l;
    }
  }
  const missing = differences ? [column, columns + column] : [column];
  const expected = forest.expectedValues(p, missing)[column] as number;
  // Against the expected value, so that "high" and "expected" never contradict each other; the
  // attribution's side can (a value between two common levels is cut off from either).
  const value = p[column] as number;
  const direction = value > expected ? 'high' : value < expected ? 'low' : high >= low ? 'high' : 'low';
  return { column, direction, expected };
}

/** A number as people read it in a sentence: four significant digits, no trailing zeros. */
function readable(v: number): string {
  if (!Number.isFinite(v)) return String(v);
  const abs = Math.abs(v);
  if (abs !== 0 && (abs >= 1e9 || abs < 1e-4)) return v.toExponential(3).replace(/\.?0+e/, 'e');
  return String(Number(v.toPrecision(4)));
}

/**
 * One line on why a row was reported, for people: `score-series --explain` writes it as the
 * `reason` column. `columnName` names `e.column`; `value` is that column's value on the row.
 */
export function describeExplanation(e: SeriesExplanation, columnName: string, value: number): string {
  const side = e.direction === 'high' ? 'high' : 'low';
  // A value the view expected (the detector asks the other views first): what sets the row apart
  // lies elsewhere (another column, the change from the row before), or the row is only mildly
  // unusual, so the sentence must not call the value high or low.
  const asExpected = readable(value) === readable(e.expected);
  let text: string;
  switch (e.view) {
    case 'value':
      text = asExpected
        ? `${columnName} ${readable(value)} is about what was expected; no single value stands out`
        : `${columnName} ${readable(value)} is ${side}; about ${readable(e.expected)} was expected`;
      break;
    case 'shape':
      text = `the last ${e.rows} rows of ${columnName} form an unusual shape`;
      // When the row's own value is what the rows before lead to, the surprise lies in those rows.
      if (!asExpected) text += `; ${readable(value)} is ${side} where about ${readable(e.expected)} was expected after the rows before`;
      break;
    case 'week':
      text = asExpected
        ? `${columnName} ${readable(value)} is about what the same time a week earlier led to expect; no single value stands out`
        : `${columnName} ${readable(value)} is ${side} for the time of week; about ${readable(e.expected)} was expected from the same time a week earlier`;
      break;
  }
  if (e.beyondRange > 0) text += `; beyond every earlier value of ${columnName} by ${readable(e.beyondRange)} times its range seen before`;
  return text;
}
