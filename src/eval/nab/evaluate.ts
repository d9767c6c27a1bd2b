import type { NabCorpus } from './corpus.js';
import { readAnomalyScores, resultPath } from './corpus.js';
import { scoreCorpus, sweepFile, type ProfileResult, type ScoredFile, type SweptFile } from './scorer.js';

/** Sweeping a file does not depend on the scores, so it is done once per corpus. */
export function sweepCorpus(corpus: NabCorpus): SweptFile[] {
  return corpus.files.map((f) => sweepFile(f));
}

/** Score per-file anomaly scores (in the corpus' file order) under every profile. */
export function evaluateScores(
  corpus: NabCorpus,
  scores: readonly ArrayLike<number>[],
  swept: readonly SweptFile[] = sweepCorpus(corpus),
): ProfileResult[] {
  const files: ScoredFile[] = swept.map((s, i) => ({ swept: s, scores: scores[i] as ArrayLike<number> }));
  return corpus.profiles.map((p) => scoreCorpus(files, p));
}

/** Score a detector whose outputs sit in NAB's results layout. */
export function evaluateDetector(corpus: NabCorpus, resultsDir: string, detector: string): ProfileResult[] {
  const scores = corpus.files.map((f) => readAnomalyScores(resultPath(resultsDir, detector, f.name), f.timestamps.length));
  return evaluateScores(corpus, scores);
}
