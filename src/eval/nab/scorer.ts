/**
 * NAB's scoring method (Lavin & Ahmad 2015, NAB v1.1 `nab/sweeper.py`), reimplemented.
 *
 * The details that move the published numbers, and which this file follows on purpose:
 * - the probation length is `min(floor(0.15 n), 0.15 * 5000)`, and probation rows are dropped
 *   before the sweep, so they neither detect a window nor cost a false positive;
 * - a row inside window [L, R] of width W weighs `A_TP σ(-(R-i+1)/W) / σ(-1)`; only the best
 *   (earliest) detection of a window counts, and an undetected window costs `-A_FN`;
 * - a row after a window weighs `A_FP σ(|i - R_prev| / (W_prev - 1))` (σ ≥ 3 ⇒ -1), one before
 *   any window `-A_FP`; every detected row outside windows counts;
 * - one threshold for the whole corpus per profile: every distinct score is tried (a row is a
 *   detection when `score >= threshold`), plus 1.1 (detect nothing); of equal totals the highest
 *   threshold wins, as Python's stable sort by score does in NAB's `optimizeThreshold`.
 */

import { seriesProbation } from '../../detect/series/probation.js';

export interface CostMatrix {
  readonly tpWeight: number;
  readonly fpWeight: number;
  readonly fnWeight: number;
}

export interface Profile {
  readonly name: string;
  readonly costMatrix: CostMatrix;
}

/** One data file as the scorer sees it: row timestamps (any comparable number) and its windows. */
export interface LabelledSeries {
  readonly name: string;
  readonly timestamps: readonly number[];
  /** Inclusive [start, end] timestamps; each must be a timestamp of the file. */
  readonly windows: readonly (readonly [number, number])[];
}

export function scaledSigmoid(relativePosition: number): number {
  if (relativePosition >= 3) return -1;
  return 2 / (1 + Math.exp(5 * relativePosition)) - 1;
}

const MAX_TP = scaledSigmoid(-1);

/** NAB's probation: `min(floor(0.15 n), 750)` rows; the detector is told the same period. */
export const probationLength = seriesProbation;

/**
 * The profile-independent part of NAB's per-row "sweep score" for a file. Only rows after
 * probation are kept. `window` is the file's window index (or -1 outside windows); `weight` is
 * σ(..)/σ(-1) inside a window (to be multiplied by A_TP) and σ(..) outside (times A_FP).
 */
export interface SweptFile {
  readonly name: string;
  readonly windowCount: number;
  /** Rows in the file, probation included. */
  readonly length: number;
  /** Row index in the file of each kept row. */
  readonly rows: Int32Array;
  readonly window: Int32Array;
  readonly weight: Float64Array;
}

export function sweepFile(series: LabelledSeries): SweptFile {
  const ts = series.timestamps;
  const n = ts.length;
  const indexOf = new Map<number, number>();
  for (let i = 0; i < n; i++) {
    const t = ts[i] as number;
    if (!indexOf.has(t)) indexOf.set(t, i);
  }
  // NAB silently never enters a window whose start is not a row; that hides label errors, so
  // here it is fatal.
  const bounds = series.windows.map(([start, end], k) => {
    const l = indexOf.get(start);
    const r = indexOf.get(end);
    if (l === undefined || r === undefined || r < l) {
      throw new Error(`${series.name}: window ${k} [${start}, ${end}] does not match the file's rows`);
    }
    return [l, r] as const;
  });
  for (let k = 1; k < bounds.length; k++) {
    if ((bounds[k] as readonly [number, number])[0] <= (bounds[k - 1] as readonly [number, number])[1]) {
      throw new Error(`${series.name}: windows ${k - 1} and ${k} overlap or are out of order`);
    }
  }

  const probation = probationLength(n);
  const firstKept = Math.min(n, Math.ceil(probation));
  const kept = n - firstKept;
  const rows = new Int32Array(kept);
  const window = new Int32Array(kept);
  const weight = new Float64Array(kept);

  let next = 0; // next window to enter
  let cur = -1; // window we are in
  let prevRight = -1;
  let prevWidth = 0;
  for (let i = 0; i < n; i++) {
    const nb = bounds[next];
    if (nb !== undefined && nb[0] === i) {
      cur = next;
      next++;
    }
    let w: number;
    if (cur >= 0) {
      const [l, r] = bounds[cur] as readonly [number, number];
      const width = r - l + 1;
      w = scaledSigmoid(-(r - i + 1) / width) / MAX_TP;
    } else if (prevRight < 0) {
      w = -1;
    } else {
      // A one-row window would divide by zero here (NAB's does too); NAB's windows are never that
      // small, so it is treated as "far past the window".
      w = prevWidth > 1 ? scaledSigmoid(Math.abs(prevRight - i) / (prevWidth - 1)) : -1;
    }
    if (i >= firstKept) {
      const k = i - firstKept;
      rows[k] = i;
      window[k] = cur;
      weight[k] = w;
    }
    if (cur >= 0 && (bounds[cur] as readonly [number, number])[1] === i) {
      prevRight = i;
      prevWidth = i - (bounds[cur] as readonly [number, number])[0] + 1;
      cur = -1;
    }
  }
  return { name: series.name, windowCount: bounds.length, length: n, rows, window, weight };
}

export interface ThresholdScore {
  readonly threshold: number;
  readonly score: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly tn: number;
}

export interface ScoredFile {
  readonly swept: SweptFile;
  /** Anomaly score of every row of the file (probation rows included; they are skipped). */
  readonly scores: ArrayLike<number>;
}

/**
 * NAB's `calcScoreByThreshold` over a whole corpus: the score at every distinct threshold, highest
 * threshold first, starting with 1.1 (no detections).
 */
export function scoresByThreshold(files: readonly ScoredFile[], cost: CostMatrix): ThresholdScore[] {
  let total = 0;
  for (const f of files) total += f.swept.rows.length;
  const score = new Float64Array(total);
  const win = new Int32Array(total); // global window id, -1 outside
  const weight = new Float64Array(total);
  let k = 0;
  let windowBase = 0;
  for (const f of files) {
    const s = f.swept;
    if (f.scores.length !== s.length) throw new Error(`${s.name}: ${f.scores.length} scores for ${s.length} rows`);
    for (let j = 0; j < s.rows.length; j++, k++) {
      const sc = f.scores[s.rows[j] as number] as number;
      if (!Number.isFinite(sc)) throw new Error(`${s.name}: anomaly score of row ${s.rows[j]} is not a number`);
      score[k] = sc;
      const w = s.window[j] as number;
      win[k] = w < 0 ? -1 : windowBase + w;
      weight[k] = (s.weight[j] as number) * (w < 0 ? cost.fpWeight : cost.tpWeight);
    }
    windowBase += s.windowCount;
  }

  const order = Array.from({ length: total }, (_, i) => i);
  // Array.prototype.sort is stable, like Python's sorted(), which settles equal scores' order.
  order.sort((a, b) => (score[b] as number) - (score[a] as number));

  // Windows with no row after probation never enter NAB's sweep; keep that.
  const best = new Float64Array(windowBase).fill(Number.NaN);
  const partOrder: number[] = [];
  for (const i of order) {
    const w = win[i] as number;
    if (w >= 0 && Number.isNaN(best[w] as number)) {
      best[w] = -cost.fnWeight;
      partOrder.push(w);
    }
  }
  let fpPart = 0;
  // NAB re-adds its parts at every threshold (fp first, then windows in first-seen order); doing
  // the same keeps the floating-point totals, hence the tie-breaking between thresholds, identical.
  const sumParts = (): number => {
    let s = fpPart;
    for (const w of partOrder) s += best[w] as number;
    return s;
  };

  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let i = 0; i < total; i++) {
    if ((win[i] as number) >= 0) fn++;
    else tn++;
  }
  const out: ThresholdScore[] = [];
  let threshold = 1.1;
  for (const i of order) {
    const sc = score[i] as number;
    if (sc !== threshold) {
      out.push({ threshold, score: sumParts(), tp, fp, fn, tn });
      threshold = sc;
    }
    const w = win[i] as number;
    if (w >= 0) {
      tp++;
      fn--;
      const v = weight[i] as number;
      if (v > (best[w] as number)) best[w] = v;
    } else {
      fp++;
      tn--;
      fpPart += weight[i] as number;
    }
  }
  out.push({ threshold, score: sumParts(), tp, fp, fn, tn });
  return out;
}

/** The corpus-wide best threshold; of equal scores the highest threshold, as NAB picks. */
export function optimiseThreshold(files: readonly ScoredFile[], cost: CostMatrix): ThresholdScore {
  const all = scoresByThreshold(files, cost);
  let best = all[0] as ThresholdScore;
  for (const t of all) if (t.score > best.score) best = t;
  return best;
}

export interface FileResult {
  readonly name: string;
  readonly score: number;
  readonly tp: number;
  readonly fp: number;
  readonly fn: number;
  readonly tn: number;
  readonly windows: number;
  readonly windowsDetected: number;
}

/** One file's NAB score at a fixed threshold (rows with `score >= threshold` are detections). */
export function scoreFileAt(file: ScoredFile, cost: CostMatrix, threshold: number): FileResult {
  const s = file.swept;
  const best = new Float64Array(s.windowCount).fill(-cost.fnWeight);
  const detected = new Uint8Array(s.windowCount);
  const present = new Uint8Array(s.windowCount);
  let fpPart = 0;
  let tp = 0;
  let fp = 0;
  let fn = 0;
  let tn = 0;
  for (let j = 0; j < s.rows.length; j++) {
    const w = s.window[j] as number;
    if (w >= 0) present[w] = 1;
    const hit = (file.scores[s.rows[j] as number] as number) >= threshold;
    if (w >= 0) {
      if (hit) {
        tp++;
        detected[w] = 1;
        const v = (s.weight[j] as number) * cost.tpWeight;
        if (v > (best[w] as number)) best[w] = v;
      } else fn++;
    } else if (hit) {
      fp++;
      fpPart += (s.weight[j] as number) * cost.fpWeight;
    } else tn++;
  }
  let score = fpPart;
  let windowsDetected = 0;
  for (let w = 0; w < s.windowCount; w++) {
    if (present[w]) score += best[w] as number;
    windowsDetected += detected[w] as number;
  }
  return { name: s.name, score, tp, fp, fn, tn, windows: s.windowCount, windowsDetected };
}

export interface ProfileResult {
  readonly profile: string;
  readonly threshold: number;
  /** Raw corpus score: the sum of the files' scores at the threshold. */
  readonly raw: number;
  readonly normalised: number;
  readonly files: readonly FileResult[];
}

/**
 * The published number: `100 (S - S_null) / (S_perfect - S_null)`, where the perfect detector
 * catches every window at its first row (A_TP each) and the null detector never fires (-A_FN each).
 */
export function normalise(raw: number, windows: number, cost: CostMatrix): number {
  const perfect = windows * cost.tpWeight;
  const nullScore = -windows * cost.fnWeight;
  return (100 * (raw - nullScore)) / (perfect - nullScore);
}

export function scoreCorpus(files: readonly ScoredFile[], profile: Profile): ProfileResult {
  const cost = profile.costMatrix;
  const best = optimiseThreshold(files, cost);
  const perFile = files.map((f) => scoreFileAt(f, cost, best.threshold));
  let raw = 0;
  let windows = 0;
  for (const r of perFile) {
    raw += r.score;
    windows += r.windows;
  }
  return { profile: profile.name, threshold: best.threshold, raw, normalised: normalise(raw, windows, cost), files: perFile };
}
