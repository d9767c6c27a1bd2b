/**
 * Published NAB v1.1 figures of other detectors on this development half, as given in
 * ../shared/data/nab/README.md (computed there with NAB's scorer rules). Constants, not computed.
 */
export interface PublishedFigures {
  readonly detector: string;
  readonly standard: number;
  readonly reward_low_FP_rate: number;
  readonly reward_low_FN_rate: number;
}

export const PUBLISHED: readonly PublishedFigures[] = [
  { detector: 'ARTime', standard: 78.15, reward_low_FP_rate: 70.44, reward_low_FN_rate: 83.1 },
  { detector: 'CAD OSE', standard: 74.05, reward_low_FP_rate: 71.66, reward_low_FN_rate: 76.85 },
  { detector: 'Numenta HTM', standard: 71.21, reward_low_FP_rate: 64.99, reward_low_FN_rate: 75.87 },
  { detector: 'KNN CAD', standard: 64.4, reward_low_FP_rate: 50.44, reward_low_FN_rate: 71.0 },
  { detector: 'Relative Entropy', standard: 56.25, reward_low_FP_rate: 48.85, reward_low_FN_rate: 60.89 },
  { detector: 'Random Cut Forest (Kinesis Analytics)', standard: 52.0, reward_low_FP_rate: 38.28, reward_low_FN_rate: 60.98 },
  { detector: 'Twitter ADVec', standard: 46.39, reward_low_FP_rate: 33.22, reward_low_FN_rate: 52.56 },
  { detector: 'Windowed Gaussian', standard: 36.71, reward_low_FP_rate: 21.4, reward_low_FN_rate: 45.17 },
];
