/**
 * The series detector: anomaly scores for any metric series (one or more numeric columns per
 * row, with or without timestamps), row by row, as `flowcut score-series` computes them.
 *
 * - {@link SeriesDetector}: the detector (process a row, save and restore its state).
 * - {@link DEFAULT_SERIES_OPTIONS}: the configuration evaluated on NAB, used for any option not given.
 * - {@link seriesProbation}: NAB's probation period for a series of a known length.
 * - {@link SeriesExplanation}, {@link describeExplanation}: why a reported row was reported.
 *
 * Built on `flowcut/rcf`'s forests; knows nothing about flow logs.
 */
export { SeriesDetector, DEFAULT_SERIES_OPTIONS, type SeriesDetectorOptions, type RowScore, type ColumnRange } from './detector.js';
export { seriesProbation } from './probation.js';
export { type SeriesExplanation, type ExplainedView, describeExplanation } from './explain.js';
export { RcfStateError } from '../../rcf/errors.js';
