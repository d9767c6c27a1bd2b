import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { SeriesDetectorOptions } from '../../detect/series/detector.js';
import { formatScoredSeries, scoreParsedSeries } from '../../detect/series/run.js';
import { parseSeriesCsv } from '../../detect/series/csv.js';

export interface DetectorTask {
  /** Results-layout name, e.g. `flowcut`. */
  readonly detector: string;
  /** `category/file.csv` under the corpus' data directory. */
  readonly dataName: string;
  readonly dataPath: string;
  readonly outDir: string;
  readonly options: SeriesDetectorOptions;
}

/**
 * Runs the series scorer on one NAB file exactly as `flowcut score-series` would and writes the
 * result where NAB expects it (`<out>/<detector>/<category>/<detector>_<file>`). Returns the
 * anomaly scores, one per row.
 */
export function runDetectorTask(task: DetectorTask): Float64Array {
  const parsed = parseSeriesCsv(readFileSync(task.dataPath, 'utf8'), task.dataPath);
  if (parsed.bad.length > 0) throw new Error(`${task.dataPath}: ${parsed.bad.length} bad rows, first: ${parsed.bad[0]?.message}`);
  // As score-series without --explain: the results hold no reasons, so none are worked out.
  const scored = scoreParsedSeries(parsed, { ...task.options, explain: false });
  const [category, base] = task.dataName.split('/') as [string, string];
  const dir = path.join(task.outDir, task.detector, category);
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, `${task.detector}_${base}`), [...formatScoredSeries(scored)].join(''));
  return Float64Array.from(scored.scores, (s) => s.anomalyScore);
}
