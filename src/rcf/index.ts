/**
 * Random Cut Forest: streaming anomaly detection on numeric vectors.
 *
 * - {@link RandomCutForest}: the model (score, attribution, update, state).
 * - {@link ThresholdedForest}: forest + adaptive threshold → anomaly, grade, direction, expected values.
 * - {@link KinesisRandomCutForest}: Kinesis Data Analytics RANDOM_CUT_FOREST(_WITH_EXPLANATION) semantics.
 *
 * Knows nothing about flow logs. Single-threaded; deterministic for a given seed.
 */
export { RandomCutForest, type ForestOptions, type ForestConfig } from './forest.js';
export { DiVector } from './divector.js';
export {
  ThresholdedForest,
  type ThresholdedForestOptions,
  type ThresholdOptions,
  type AnomalyDescriptor,
  type Direction,
} from './thresholder.js';
export {
  KinesisRandomCutForest,
  randomCutForest,
  randomCutForestWithExplanation,
  type KinesisRcfOptions,
  type ExplainedScore,
} from './compat.js';
export { RcfStateError } from './errors.js';
