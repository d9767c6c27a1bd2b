/**
 * `npm run eval:nab`: runs flowcut's series scorer over every NAB file, writes the results in
 * NAB's layout, scores them with our reimplementation of NAB's scorer, and prints them beside
 * the published detectors.
 */
import { availableParallelism, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { Command, InvalidArgumentError } from 'commander';
import { DEFAULT_SERIES_OPTIONS, KINESIS_OPTIONS, type SeriesDetectorOptions } from '../../detect/series/detector.js';
import { type NabCorpus, loadCorpus } from './corpus.js';
import { evaluateDetector, evaluateScores, sweepCorpus } from './evaluate.js';
import { PUBLISHED } from './published.js';
import { type DetectorTask, runDetectorTask } from './run-detector.js';
import type { ProfileResult } from './scorer.js';

const here = path.dirname(fileURLToPath(import.meta.url));
// dist/eval/nab or src/eval/nab: three levels below the package root either way.
const packageRoot = path.resolve(here, '..', '..', '..');
const defaultRoot = path.resolve(packageRoot, '..', 'shared', 'data', 'nab');

export interface Candidate {
  /** Results-layout name. */
  readonly detector: string;
  readonly label: string;
  readonly options: SeriesDetectorOptions;
}

export const CANDIDATES: readonly Candidate[] = [
  { detector: 'flowcut', label: 'flowcut (default configuration)', options: DEFAULT_SERIES_OPTIONS },
  { detector: 'flowcutKinesis', label: 'flowcut, Kinesis-Analytics settings', options: KINESIS_OPTIONS },
];

/** Runs every (candidate, file) pair, on worker threads when `jobs` > 1. */
export async function runCandidates(
  corpus: NabCorpus,
  candidates: readonly Candidate[],
  outDir: string,
  jobs: number,
): Promise<Float64Array[][]> {
  const tasks: (DetectorTask & { id: number })[] = [];
  for (const c of candidates) {
    for (const f of corpus.files) {
      tasks.push({ id: tasks.length, detector: c.detector, dataName: f.name, dataPath: f.path, outDir, options: c.options });
    }
  }
  // Longest files first keeps both workers busy to the end.
  const order = [...tasks].sort((a, b) => fileRows(corpus, b.dataName) - fileRows(corpus, a.dataName));
  const results: Float64Array[] = new Array<Float64Array>(tasks.length);
  const workerUrl = new URL('./worker.js', import.meta.url);
  if (jobs <= 1 || !existsSync(fileURLToPath(workerUrl))) {
    for (const t of order) results[t.id] = runDetectorTask(t);
  } else {
    await new Promise<void>((resolve, reject) => {
      let next = 0;
      let done = 0;
      const workers: Worker[] = [];
      const feed = (w: Worker) => {
        const t = order[next++];
        if (t !== undefined) w.postMessage(t);
      };
      const finish = (err?: Error) => {
        for (const w of workers) void w.terminate();
        if (err) reject(err);
        else resolve();
      };
      for (let i = 0; i < Math.min(jobs, order.length); i++) {
        const w = new Worker(workerUrl);
        workers.push(w);
        w.on('message', (m: { id: number; scores?: Float64Array; error?: string }) => {
          if (m.error !== undefined || m.scores === undefined) return finish(new Error(m.error ?? 'worker sent no scores'));
          results[m.id] = m.scores;
          if (++done === tasks.length) return finish();
          feed(w);
        });
        w.on('error', (e) => finish(e));
        feed(w);
      }
    });
  }
  return candidates.map((_, ci) => corpus.files.map((__, fi) => results[ci * corpus.files.length + fi] as Float64Array));
}

function fileRows(corpus: NabCorpus, name: string): number {
  return corpus.files.find((f) => f.name === name)?.timestamps.length ?? 0;
}

function fmt(v: number): string {
  return v.toFixed(2).padStart(8);
}

type TableRow = readonly [label: string, standard: number, lowFp: number, lowFn: number];

function table(rows: readonly TableRow[]): string {
  const width = Math.max(50, ...rows.map((r) => r[0].length));
  return [
    `| ${'detector'.padEnd(width)} | standard | low FP   | low FN   |`,
    `|${'-'.repeat(width + 2)}|----------|----------|----------|`,
    ...rows.map(([label, s, fp, fn]) => `| ${label.padEnd(width)} | ${fmt(s)} | ${fmt(fp)} | ${fmt(fn)} |`),
  ].join('\n');
}

/**
 * Seeds from `1-5`, `1,3,7` or `1-3,10`: a single seed's figures move by about a point between
 * seeds (src/eval/nab/README.md, "Trees"), so a claim needs several.
 */
export function parseSeeds(text: string): number[] {
  const seeds: number[] = [];
  for (const part of text.split(',')) {
    const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(part);
    if (m === null) throw new InvalidArgumentError(`expected seeds such as 1-5 or 1,3,7, got ${JSON.stringify(text)}`);
    const from = Number(m[1]);
    const to = m[2] === undefined ? from : Number(m[2]);
    if (to < from || to > 0xffffffff) throw new InvalidArgumentError(`seed range ${part.trim()} must run upwards, up to 4294967295`);
    if (seeds.length + (to - from + 1) > 1000) throw new InvalidArgumentError('at most 1000 seeds');
    for (let v = from; v <= to; v++) if (!seeds.includes(v)) seeds.push(v);
  }
  return seeds;
}

/** The seeds `eval:nab` reports the mean of when told neither --seed nor --seeds. */
export const DEFAULT_SEEDS: readonly number[] = [1, 2, 3, 4, 5];

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function figures(r: readonly ProfileResult[]): [number, number, number] {
  const get = (p: string) => r.find((x) => x.profile === p)?.normalised ?? Number.NaN;
  return [get('standard'), get('reward_low_FP_rate'), get('reward_low_FN_rate')];
}

export async function main(argv: string[]): Promise<void> {
  const program = new Command()
    .name('eval:nab')
    .description('Numenta Anomaly Benchmark evaluation of flowcut\'s series scorer')
    .option('--root <dir>', 'NAB root (data/, labels/, profiles.json)', defaultRoot)
    .option('--out <dir>', 'where results are written in NAB\'s layout', path.join(tmpdir(), `flowcut-nab-${process.pid}`))
    .option(
      '--jobs <n>',
      'worker threads',
      (t: string) => {
        const v = Number(t);
        if (!Number.isInteger(v) || v < 1) throw new InvalidArgumentError('expected a positive integer');
        return v;
      },
      Math.max(1, Math.min(availableParallelism(), 4)),
    )
    .option('--detail', 'per-file scores (standard profile; with --seeds, of the first seed)', false)
    .option(
      '--seed <n>',
      'one run, with this seed for every candidate, instead of the mean over --seeds',
      (t: string) => {
        const v = Number(t);
        if (!Number.isInteger(v) || v < 0) throw new InvalidArgumentError('expected an integer >= 0');
        return v;
      },
    )
    .option('--seeds <list>', `run every candidate with each of these seeds (1-5, 1,3,7) and report each seed and the mean (default without --seed: ${DEFAULT_SEEDS[0]}-${DEFAULT_SEEDS[DEFAULT_SEEDS.length - 1]})`, parseSeeds)
    .parse(argv);
  const given = program.opts<{ root: string; out: string; jobs: number; detail: boolean; seed?: number; seeds?: number[] }>();
  if (given.seed !== undefined && given.seeds !== undefined) program.error('eval:nab: give --seed or --seeds, not both');
  // One seed's figures move by about a point, so without --seed the figures are a mean over seeds.
  const o = { ...given, seeds: given.seeds ?? (given.seed === undefined ? [...DEFAULT_SEEDS] : undefined) };
  const seeds: (number | undefined)[] = o.seeds ?? [o.seed];
  const seeded = (seed: number | undefined) => (seed === undefined ? CANDIDATES : CANDIDATES.map((c) => ({ ...c, options: { ...c.options, seed } })));

  const started = performance.now();
  const corpus = loadCorpus(o.root);
  mkdirSync(o.out, { recursive: true });
  const swept = sweepCorpus(corpus);
  process.stdout.write(
    `NAB corpus ${o.root}: ${corpus.files.length} files, ${corpus.windowCount} windows; results in ${o.out}; ${o.jobs} job(s)\n`,
  );

  // One run per seed, each in its own results directory when there are several.
  const runs: { seed: number | undefined; evaluated: { c: Candidate; r: ProfileResult[] }[] }[] = [];
  for (const seed of seeds) {
    const candidates = seeded(seed);
    const outDir = o.seeds === undefined ? o.out : path.join(o.out, `seed-${seed}`);
    const scores = await runCandidates(corpus, candidates, outDir, o.jobs);
    runs.push({ seed, evaluated: candidates.map((c, i) => ({ c, r: evaluateScores(corpus, scores[i] as Float64Array[], swept) })) });
  }
  const evaluated = (runs[0] as (typeof runs)[number]).evaluated;

  const lines: TableRow[] = [];
  const perSeed: string[] = [];
  for (const [ci, { c }] of evaluated.entries()) {
    const each = runs.map((run) => figures((run.evaluated[ci] as (typeof evaluated)[number]).r));
    if (o.seeds === undefined) {
      lines.push([`${c.label} [computed]`, ...(each[0] as [number, number, number])]);
      continue;
    }
    const means = [0, 1, 2].map((k) => mean(each.map((f) => f[k] as number))) as [number, number, number];
    lines.push([`${c.label}, mean of ${seeds.length} seed${seeds.length === 1 ? '' : 's'} [computed]`, ...means]);
    const standard = each.map((f) => f[0]);
    perSeed.push(
      `${c.label}, per seed (standard / low FP / low FN): ` +
        runs.map((run, i) => `${run.seed}: ${(each[i] as number[]).map((v) => v.toFixed(2)).join(' / ')}`).join('; ') +
        `; standard from ${Math.min(...standard).toFixed(2)} to ${Math.max(...standard).toFixed(2)}`,
    );
  }
  for (const p of PUBLISHED) lines.push([`${p.detector} [published]`, p.standard, p.reward_low_FP_rate, p.reward_low_FN_rate]);
  process.stdout.write(`\n${table(lines)}\n`);
  if (perSeed.length > 0) process.stdout.write(`\n${perSeed.join('\n')}\n`);

  // Re-scoring the published outputs that ship with the corpus checks the scorer on every run.
  const resultsDir = path.join(o.root, 'results');
  const checks: string[] = [];
  for (const [det, pub] of [
    ['randomCutForest', 'Random Cut Forest (Kinesis Analytics)'],
    ['numenta', 'Numenta HTM'],
  ] as const) {
    if (!existsSync(path.join(resultsDir, det))) continue;
    const [s, fp, fn] = figures(evaluateDetector(corpus, resultsDir, det));
    const p = PUBLISHED.find((x) => x.detector === pub);
    checks.push(
      `scorer check: results/${det} re-scored ${s.toFixed(2)} / ${fp.toFixed(2)} / ${fn.toFixed(2)}` +
        (p ? ` (published ${p.standard.toFixed(2)} / ${p.reward_low_FP_rate.toFixed(2)} / ${p.reward_low_FN_rate.toFixed(2)})` : ''),
    );
  }
  if (checks.length > 0) process.stdout.write(`\n${checks.join('\n')}\n`);

  const summary: Record<string, unknown> = {};
  const profilesOf = (r: readonly ProfileResult[]) =>
    r.map((p) => ({ profile: p.profile, threshold: p.threshold, raw: p.raw, normalised: p.normalised, files: p.files }));
  for (const [ci, { c, r }] of evaluated.entries()) {
    summary[c.detector] =
      o.seeds === undefined
        ? { options: c.options, profiles: profilesOf(r) }
        : { options: { ...c.options, seed: undefined }, seeds: runs.map((run) => ({ seed: run.seed, profiles: profilesOf((run.evaluated[ci] as (typeof evaluated)[number]).r) })) };
    process.stdout.write(
      `\n${c.label}${o.seeds === undefined ? '' : ` (seed ${runs[0]?.seed})`}: thresholds ${r.map((p) => `${p.profile} ${p.threshold.toPrecision(6)}`).join(', ')}\n`,
    );
    if (o.detail) {
      const std = r.find((p) => p.profile === 'standard');
      for (const f of std?.files ?? []) {
        process.stdout.write(
          `  ${f.name.padEnd(58)} ${f.score.toFixed(3).padStart(7)}  windows ${f.windowsDetected}/${f.windows}  FP rows ${f.fp}\n`,
        );
      }
    }
  }
  writeFileSync(path.join(o.out, 'flowcut_scores.json'), `${JSON.stringify(summary, null, 2)}\n`);
  process.stdout.write(`\ndone in ${((performance.now() - started) / 1000).toFixed(1)} s; summary in ${path.join(o.out, 'flowcut_scores.json')}\n`);
}

if (process.argv[1] !== undefined && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main(process.argv).catch((e: unknown) => {
    process.stderr.write(`eval:nab: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
