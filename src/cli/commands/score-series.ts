import { randomBytes } from 'node:crypto';
import { constants, createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { access, appendFile, lstat, readlink, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { once } from 'node:events';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { CliError } from '../errors.js';
import { drainOrError } from '../output.js';
import { removeOnSignal } from '../remove-on-signal.js';
import { StateLock } from '../state-lock.js';
import { type SeriesRow, SeriesFormatError, parseSeriesCsv, quoteCell } from '../../detect/series/csv.js';
import {
  DEFAULT_SERIES_OPTIONS,
  KINESIS_OPTIONS,
  SeriesDetector,
  type SeriesDetectorOptions,
  validateOptions,
} from '../../detect/series/detector.js';
import { type ScoredSeries, detectorForRows, formatScoredSeries, orderByTime, scoreParsedSeries, scoreRowsWith } from '../../detect/series/run.js';
import { type SeriesRun, encodeSeriesRun, nextSeriesRun, readSeriesRun, rowsToScore } from './series-state.js';

const MAX_REPORTED_BAD_ROWS = 10;
/**
 * The whole series is held in memory (its range and probation period come from all of it); past
 * this an input is refused with a clear error rather than exhausting memory. About 9 million
 * `timestamp,value` rows.
 */
export const MAX_SERIES_BYTES = 256 * 1024 * 1024;

/**
 * Reads a file, or standard input for "-", refusing more than `maxBytes` (counted as read, not
 * taken from the file's size). Standard input is consumed and, past the limit, destroyed.
 */
export async function readSeriesInput(file: string, maxBytes = MAX_SERIES_BYTES, stdin: NodeJS.ReadableStream = process.stdin): Promise<string> {
  const name = file === '-' ? 'standard input' : file;
  const source = file === '-' ? stdin : createReadStream(file);
  const chunks: Buffer[] = [];
  let bytes = 0;
  try {
    for await (const chunk of source) {
      const b = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer);
      bytes += b.length;
      if (bytes > maxBytes) {
        throw new CliError(`${name} is larger than ${formatBytes(maxBytes)}; score-series holds a whole series in memory, so split it`);
      }
      chunks.push(b);
    }
  } catch (e) {
    if (e instanceof CliError) throw e;
    throw new CliError(`cannot read ${name}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const whole = Buffer.concat(chunks, bytes);
  chunks.length = 0;
  // UTF-16 (what some Windows tools save as "Unicode") would read as NULs between characters.
  const bom16 = (whole[0] === 0xff && whole[1] === 0xfe) || (whole[0] === 0xfe && whole[1] === 0xff);
  if (bom16 || (whole.length >= 2 && (whole[0] === 0 || whole[1] === 0))) {
    throw new CliError(`${name} is UTF-16 text; score-series reads UTF-8: convert it first (e.g. iconv -f UTF-16 -t UTF-8)`);
  }
  return whole.toString('utf8');
}

function formatBytes(n: number): string {
  return n % (1024 * 1024) === 0 ? `${n / (1024 * 1024)} MiB` : `${n} bytes`;
}

// Plain decimal only: Number() would also take '' (as 0), '0x10' and '0b11'.
const DECIMAL_INTEGER = /^\d+$/;
const DECIMAL = /^(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;

function integer(min: number) {
  return (text: string): number => {
    const v = DECIMAL_INTEGER.test(text.trim()) ? Number(text) : Number.NaN;
    if (!Number.isSafeInteger(v) || v < min) throw new InvalidArgumentError(`expected a whole number >= ${min}, written in decimal`);
    return v;
  };
}

function nonNegative(text: string): number {
  const v = DECIMAL.test(text.trim()) ? Number(text) : Number.NaN;
  if (!Number.isFinite(v) || v < 0) throw new InvalidArgumentError('expected a number >= 0, written in decimal (e.g. 0.5 or 1e5)');
  return v;
}

function shingles(text: string): number[] {
  const sizes = text.split(',').map((s) => (DECIMAL_INTEGER.test(s.trim()) ? Number(s) : Number.NaN));
  if (sizes.length === 0 || sizes.some((s) => !Number.isInteger(s) || s < 1)) {
    throw new InvalidArgumentError('expected positive integers separated by commas, e.g. 1,4');
  }
  return sizes;
}

interface ScoreSeriesFlags {
  out?: string;
  rejects?: string;
  explain?: boolean;
  state?: string;
  kinesis?: boolean;
  trees: number;
  sampleSize: number;
  shingle: number[];
  timeDecay: number;
  seed: number;
  outputAfter?: number;
  normalise: boolean;
  differences: boolean;
  timeOfDay: number;
  mapping: SeriesDetectorOptions['mapping'];
  quantile: number;
  history: number;
  minHistory: number;
  rawScale: number;
  zFactor: number;
  cooldown?: number;
  cooldownShare: number;
  refractory: number;
  refractoryMargin: number;
  eventWindow: number;
  eventPower: number;
  minEvents: number;
  eventHistory: number;
  rangeWeight: number;
  recurrenceDays: number;
  recurrenceMinDays: number;
  recurrenceTolerance: number;
  recurrenceLevelRows: number;
  recurrenceShare: number;
  recurrencePower: number;
  weekly?: boolean;
  weeklyRows: number;
  weeklyRhythm: number;
  alarmMemory: number;
  alarmMemoryShare: number;
  alarmMemoryRows: number;
  alarmMemoryLevelRows: number;
  alarmMemoryPower: number;
}

const d = DEFAULT_SERIES_OPTIONS;

export function registerScoreSeries(program: Command): void {
  program
    .command('score-series')
    .summary('Score a time series (timestamp,value CSV) with Random Cut Forests, without look-ahead.')
    .description(
      'Score a time series with Random Cut Forests, one row at a time and without look-ahead.\n\n' +
        'Input: a CSV with a header, `timestamp,value[,more numeric columns]`, in UTF-8; extra columns make the points ' +
        'multi-dimensional. Rows that do not parse are reported with their line and skipped. Timestamps are ISO 8601 ' +
        '(2024-01-05T13:00:00Z; no zone means UTC) or epoch seconds, milliseconds, microseconds or nanoseconds; rows ' +
        'are scored and written in time order (sorted when the file is not, e.g. a newest-first export), and timestamps ' +
        'that cannot be read are reported.\n\n' +
        'Output: `timestamp,<value columns>,anomaly_score,raw_score,grade`. anomaly_score is in [0,1] and is ' +
        'what an alert threshold goes on; raw_score is the forest score (about 1 or less for normal points); ' +
        'grade is the thresholded forest grade (0 normal, towards 1 far over its adaptive threshold). With --explain, a ' +
        '`reason` column says in a sentence why each row with an anomaly_score above 0 stands out, e.g. "value 654 is high; ' +
        'about 11 was expected; beyond every earlier value of value by 1.006 times its range seen before".\n\n' +
        'Each column is scaled by its min and max over the file, and the cool-down is a share of the file\'s ' +
        'probation period (15% of its good rows, at most 750, as the Numenta Anomaly Benchmark defines it): those ' +
        'are the only things known about the future. Timestamps let a departure that recurs at the same time of day ' +
        'count as routine, and a weekly series be compared with the week before (--recurrence-*, --weekly-*); an alarm ' +
        'whose shape earlier alarms already had is discounted (--alarm-memory-*). ' +
        'The defaults are the configuration evaluated on the Numenta Anomaly Benchmark (npm run eval:nab).\n\n' +
        'The whole file is read before scoring (at most 256 MiB) and held in memory: with the defaults, about 830 MB and 170 s of one core per million rows. --out is written ' +
        'under a temporary name beside it and renamed when complete, so a failure leaves any earlier file there as it was.\n\n' +
        'A series that grows (a metric exported every hour, say) is scored run after run with --state FILE: the first run ' +
        'scores the whole file and saves the detector in FILE; each later run restores it, scores and writes only the rows ' +
        'no earlier run scored (an export may repeat rows: the times scored over the last 7 days are kept, and older rows ' +
        'are taken as scored; a missed row more than 6 hours older than the latest row the detector kept is too late, and ' +
        'is reported and kept with --rejects), and ' +
        'saves it again once the scores are out. The scaling and probation period stay those of the first run\'s rows (so ' +
        'give it history enough: a week shows the daily and weekly patterns), and so do the detector\'s settings: detector ' +
        'flags are refused while FILE exists (delete it to start again). One run at a time per FILE: a run holds FILE.lock ' +
        'while it works, and another run on FILE is refused meanwhile (a lock left by a run that was killed on this host is ' +
        'taken over).',
    )
    .argument('<file>', 'input CSV; "-" for standard input')
    .option('-o, --out <file>', 'output CSV; "-" or absent: standard output')
    .option('--rejects <file>', 'append rows that could not be parsed (and, with --state, rows too late to score) to FILE (JSON lines: location, line, reason, text); created even when there are none')
    .option(
      '--state <file>',
      'carry the detector across runs: restore it from FILE when FILE exists and score only the rows no earlier run scored; save it to FILE afterwards (a regular file; every timestamp must be readable)',
    )
    .option('--explain', 'add a `reason` column: on each row with anomaly_score above 0, which view found it unusual (its value, its shape over the last rows, or its change from a week earlier), in which column, which way, what was expected, and how far it lies beyond every earlier value')
    .option('--kinesis', 'Kinesis Analytics RANDOM_CUT_FOREST settings (100 trees, sample 256, time decay 100000, shingle 1, raw values, anomaly_score = score/8 clipped); other flags given explicitly still apply')
    .option('--trees <n>', 'trees per forest', integer(1), d.numberOfTrees)
    .option('--sample-size <n>', 'points sampled per tree', integer(2), d.sampleSize)
    .option('--shingle <sizes>', 'shingle sizes, one forest each (e.g. 1,4); the largest mapped score wins', shingles, [...d.shingleSizes])
    .option('--time-decay <rows>', 'sampler decay horizon in rows (0 = keep a uniform sample of all history)', nonNegative, d.timeDecay)
    .option('--seed <n>', 'random seed (same seed + same input = same output)', integer(0), d.seed)
    .option('--output-after <n>', 'rows a forest learns before it scores (default sample size / 4)', integer(0))
    .option('--no-normalise', 'do not scale columns by their min/max')
    .option('--differences', 'add each column\'s first difference as a dimension', false)
    .option('--time-of-day <weight>', 'add the UTC time of day as a dimension pair of this weight (0 = off)', nonNegative, d.timeOfDayWeight)
    .addOption(
      new Option('--mapping <kind>', 'raw score → anomaly_score: quantile (raw / past quantile), scaled (raw / raw-scale), grade')
        .choices(['quantile', 'scaled', 'grade'])
        .default(d.mapping),
    )
    .option('--quantile <q>', 'quantile of past raw scores the quantile mapping divides by', nonNegative, d.quantile)
    .option('--history <n>', 'past raw scores the quantile (and the thresholder) look at', integer(1), d.history)
    .option('--min-history <n>', 'raw scores seen before the quantile mapping reports', integer(0), d.minHistory)
    .option('--raw-scale <x>', 'divisor of the scaled mapping', nonNegative, d.rawScale)
    .option('--z-factor <z>', 'thresholded forest: deviations above the mean score for a grade', nonNegative, d.zFactor)
    .option(
      '--cooldown-share <s>',
      'report a row only if it beats every score of the previous s × probation rows (probation: 15% of the file\'s good rows, at most 750; 0 = no cool-down)',
      nonNegative,
      d.cooldownShare,
    )
    .option('--cooldown <rows>', 'instead of --cooldown-share: a fixed number of previous rows a reported row must beat (0 = off)', integer(0))
    .option(
      '--refractory <rows>',
      'after a reported row, report another within this many rows only if it beats it by the refractory margin: a score rising through one event is one alarm (0 = off)',
      integer(0),
      d.refractoryRows,
    )
    .option('--refractory-margin <m>', 'factor 1 + m a row must beat the last reported one by, within the refractory rows', nonNegative, d.refractoryMargin)
    .option(
      '--event-window <rows>',
      'quantile mapping: a row beating every score of this many previous rows is an event, and scores are divided by a power of the median past event (0 = off)',
      integer(0),
      d.eventWindow,
    )
    .option('--event-power <p>', 'power of the median past event the scores are divided by', nonNegative, d.eventPower)
    .option('--min-events <n>', 'past events seen before anything is reported', integer(1), d.minEvents)
    .option('--event-history <n>', 'past events the median is taken over', integer(1), d.eventHistory)
    .option('--range-weight <w>', 'quantile mapping: multiply by 1 + w × how far the value lies beyond every earlier value, in earlier ranges (0 = off)', nonNegative, d.rangeWeight)
    .option(
      '--recurrence-days <n>',
      'quantile mapping: discount a departure from the recent level that rows at the same time of day on enough of the last n days already matched, e.g. a nightly job\'s spike (needs timestamps; 0 = off)',
      integer(0),
      d.recurrenceDays,
    )
    .option('--recurrence-min-days <k>', 'how many of those days must have matched', integer(1), d.recurrenceMinDays)
    .option('--recurrence-tolerance <minutes>', 'how far from the same time of day a matching row may lie (at least one row step; at most the 512 rows nearest that time are compared)', nonNegative, d.recurrenceToleranceMinutes)
    .option('--recurrence-level-rows <n>', 'rows whose median is the recent level a departure is measured from', integer(1), d.recurrenceLevelRows)
    .option('--recurrence-share <s>', 'a match closer than s × the departure starts the discount', nonNegative, d.recurrenceShare)
    .option('--recurrence-power <p>', 'the score is multiplied by min(1, match / (share × departure)) ^ p', nonNegative, d.recurrencePower)
    .option('--weekly', 'quantile mapping: the weekly forest (on by default; for use with --kinesis --mapping quantile)')
    .option(
      '--no-weekly',
      'quantile mapping: no forest on the departure from the same time a week earlier (by default it counts once the series shows a weekly rhythm; needs timestamps)',
    )
    .option('--weekly-rows <n>', 'rows on each side of the row a week earlier whose median is the weekly baseline', integer(0), d.weeklyRows)
    .option(
      '--weekly-rhythm <r>',
      'the weekly forest counts from a week after the first row compared with both a day and a week before, while week-over-week changes stay under r × the day-over-day ones',
      nonNegative,
      d.weeklyRhythm,
    )
    .option(
      '--alarm-memory <k>',
      'quantile mapping: discount a row passing the cool-down when k earlier ones had its shape (the series\' habit, not news; 0 = off)',
      integer(0),
      d.alarmMemory,
    )
    .option('--alarm-memory-share <s>', 'an earlier alarm has the shape when it lies within s × the new one\'s height over its level', nonNegative, d.alarmMemoryShare)
    .option('--alarm-memory-rows <n>', 'rows in an alarm\'s shape: its row and the ones before', integer(1), d.alarmMemoryRows)
    .option('--alarm-memory-level-rows <n>', 'rows before the shape whose median is its level', integer(1), d.alarmMemoryLevelRows)
    .option('--alarm-memory-power <p>', 'the score is multiplied by min(1, distance / (share × height)) ^ p', nonNegative, d.alarmMemoryPower)
    .action(async (file: string, flags: ScoreSeriesFlags, command: Command) => {
      const given = (name: string) => command.getOptionValueSource(name) === 'cli';
      const options = resolveOptions(flags, given);
      // The detector's settings: every flag but these.
      const notDetector = new Set(['out', 'rejects', 'explain', 'state']);
      const typed = new Set(command.options.map((o) => o.attributeName()).filter((a) => !notDetector.has(a) && given(a)));
      // As typed: --no-weekly rather than --weekly when the value is off.
      const kebab = (a: string) => a.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
      const detectorFlags = [...typed].map((a) => ((flags as unknown as Record<string, unknown>)[a] === false ? `--no-${kebab(a)}` : `--${kebab(a)}`));
      const state = flags.state === undefined ? undefined : { path: flags.state, detectorFlags };
      await scoreSeriesCommand(file, flags.out, options, flags.rejects, flags.explain === true, state);
    });
}

/** With --kinesis, the preset replaces the defaults but not what the user typed. */
function resolveOptions(f: ScoreSeriesFlags, given: (name: string) => boolean): SeriesDetectorOptions {
  const base = f.kinesis ? KINESIS_OPTIONS : DEFAULT_SERIES_OPTIONS;
  const pick = <T>(name: string, value: T, fallback: T): T => (!f.kinesis || given(name) ? value : fallback);
  const options: SeriesDetectorOptions = {
    numberOfTrees: pick('trees', f.trees, base.numberOfTrees),
    sampleSize: pick('sampleSize', f.sampleSize, base.sampleSize),
    shingleSizes: pick('shingle', f.shingle, base.shingleSizes),
    timeDecay: pick('timeDecay', f.timeDecay, base.timeDecay),
    seed: pick('seed', f.seed, base.seed),
    ...(f.outputAfter === undefined ? {} : { outputAfter: f.outputAfter }),
    normalise: pick('normalise', f.normalise, base.normalise),
    differences: pick('differences', f.differences, base.differences),
    timeOfDayWeight: pick('timeOfDay', f.timeOfDay, base.timeOfDayWeight),
    mapping: pick('mapping', f.mapping, base.mapping),
    rawScale: pick('rawScale', f.rawScale, base.rawScale),
    quantile: pick('quantile', f.quantile, base.quantile),
    history: pick('history', f.history, base.history),
    minHistory: pick('minHistory', f.minHistory, base.minHistory),
    zFactor: pick('zFactor', f.zFactor, base.zFactor),
    // A fixed --cooldown replaces the share, whichever preset is in use; --cooldown-share 0 means
    // no cool-down, not the preset's fixed rows.
    cooldown: f.cooldown ?? (given('cooldownShare') && f.cooldownShare === 0 ? 0 : base.cooldown),
    cooldownShare: f.cooldown !== undefined ? 0 : pick('cooldownShare', f.cooldownShare, base.cooldownShare),
    refractoryRows: pick('refractory', f.refractory, base.refractoryRows),
    refractoryMargin: pick('refractoryMargin', f.refractoryMargin, base.refractoryMargin),
    eventWindow: pick('eventWindow', f.eventWindow, base.eventWindow),
    eventPower: pick('eventPower', f.eventPower, base.eventPower),
    minEvents: pick('minEvents', f.minEvents, base.minEvents),
    eventHistory: pick('eventHistory', f.eventHistory, base.eventHistory),
    rangeWeight: pick('rangeWeight', f.rangeWeight, base.rangeWeight),
    recurrenceDays: pick('recurrenceDays', f.recurrenceDays, base.recurrenceDays),
    recurrenceMinDays: pick('recurrenceMinDays', f.recurrenceMinDays, base.recurrenceMinDays),
    recurrenceToleranceMinutes: pick('recurrenceTolerance', f.recurrenceTolerance, base.recurrenceToleranceMinutes),
    recurrenceLevelRows: pick('recurrenceLevelRows', f.recurrenceLevelRows, base.recurrenceLevelRows),
    recurrenceShare: pick('recurrenceShare', f.recurrenceShare, base.recurrenceShare),
    recurrencePower: pick('recurrencePower', f.recurrencePower, base.recurrencePower),
    // --weekly and --no-weekly both exist, so commander leaves the value unset when neither is given.
    weekly: pick('weekly', f.weekly ?? base.weekly, base.weekly),
    weeklyRows: pick('weeklyRows', f.weeklyRows, base.weeklyRows),
    weeklyRhythm: pick('weeklyRhythm', f.weeklyRhythm, base.weeklyRhythm),
    alarmMemory: pick('alarmMemory', f.alarmMemory, base.alarmMemory),
    alarmMemoryShare: pick('alarmMemoryShare', f.alarmMemoryShare, base.alarmMemoryShare),
    alarmMemoryRows: pick('alarmMemoryRows', f.alarmMemoryRows, base.alarmMemoryRows),
    alarmMemoryLevelRows: pick('alarmMemoryLevelRows', f.alarmMemoryLevelRows, base.alarmMemoryLevelRows),
    alarmMemoryPower: pick('alarmMemoryPower', f.alarmMemoryPower, base.alarmMemoryPower),
    // Explanations cost time on every reported row: only when they are written.
    explain: f.explain === true,
  };
  if (f.rejects === '-') throw new CliError('score-series: --rejects needs a file name (standard output carries the scores)');
  // Settings only the quantile mapping reads: with another mapping they would be ignored, so
  // refuse them, except those that turn their part off.
  const turnsOff: Record<string, boolean> = {
    weekly: !options.weekly,
    eventWindow: options.eventWindow === 0,
    rangeWeight: options.rangeWeight === 0,
    recurrenceDays: options.recurrenceDays === 0,
    alarmMemory: options.alarmMemory === 0,
  };
  const quantileOnly = [
    'quantile', 'minHistory', 'eventWindow', 'eventPower', 'minEvents', 'eventHistory', 'rangeWeight',
    'recurrenceDays', 'recurrenceMinDays', 'recurrenceTolerance', 'recurrenceLevelRows', 'recurrenceShare', 'recurrencePower',
    'weekly', 'weeklyRows', 'weeklyRhythm',
    'alarmMemory', 'alarmMemoryShare', 'alarmMemoryRows', 'alarmMemoryLevelRows', 'alarmMemoryPower',
  ].filter((name) => given(name) && turnsOff[name] !== true);
  if (options.mapping !== 'quantile' && quantileOnly.length > 0) {
    const flag = (name: string) => `--${name.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    const verb = quantileOnly.length === 1 ? 'applies' : 'apply';
    throw new CliError(`score-series: ${quantileOnly.map(flag).join(', ')} ${verb} only with --mapping quantile (the mapping is ${options.mapping})`);
  }
  if (f.cooldown !== undefined && given('cooldownShare')) {
    throw new CliError('score-series: --cooldown and --cooldown-share are alternatives; give one');
  }
  try {
    validateOptions(options);
  } catch (e) {
    throw new CliError(`score-series: ${(e as Error).message}`);
  }
  return options;
}

/** `--state`: where the detector is kept between runs, and the detector flags given on this one. */
export interface SeriesStateOption {
  readonly path: string;
  readonly detectorFlags: readonly string[];
}

export async function scoreSeriesCommand(
  file: string,
  out: string | undefined,
  options: SeriesDetectorOptions,
  rejects?: string,
  explain = false,
  state?: SeriesStateOption,
): Promise<void> {
  const toStdout = out === undefined || out === '-';
  if (state !== undefined) await checkStatePath(state.path, toStdout ? undefined : out, rejects);
  const lock = state === undefined ? undefined : await StateLock.acquire(state.path);
  try {
    await scoreSeriesLocked(file, toStdout ? undefined : out, options, rejects, explain, state);
  } finally {
    await lock?.release();
  }
}

/** `out` undefined: standard output. */
async function scoreSeriesLocked(
  file: string,
  out: string | undefined,
  options: SeriesDetectorOptions,
  rejects: string | undefined,
  explain: boolean,
  state: SeriesStateOption | undefined,
): Promise<void> {
  // Opened before the input is read and scored, so a mistyped --out costs nothing; written under
  // a temporary name and renamed at the end, so a failure never leaves a cut-off file that looks
  // whole, and --out may name the input itself.
  const toStdout = out === undefined;
  const output = out === undefined ? undefined : await OutputFile.open(out);
  let stateFile: OutputFile | undefined;
  let quietState = false;
  try {
    // The state is read before its replacement is opened, and saved only once the scores are out:
    // a failure before then leaves it as it was, so the next run scores the same rows again.
    const previous = state === undefined ? undefined : await readSeriesRun(state.path);
    if (previous !== undefined && state !== undefined && state.detectorFlags.length > 0) {
      const verb = state.detectorFlags.length === 1 ? 'is a detector setting' : 'are detector settings';
      throw new CliError(`score-series: ${state.detectorFlags.join(', ')} ${verb}, and the detector in ${state.path} keeps the settings it was built with; drop ${state.detectorFlags.length === 1 ? 'it' : 'them'}, or delete ${state.path} to start again`);
    }
    if (state !== undefined) stateFile = await OutputFile.open(state.path);
    const { run, complete } = await scoreInto(file, output, options, rejects, explain, state === undefined ? undefined : { path: state.path, previous });
    await output?.commit();
    if (state === undefined || stateFile === undefined) return;
    quietState = true;
    if (run === undefined) {
      process.stderr.write(`flowcut: no rows to score after those scored before; ${state.path} is unchanged\n`);
      return;
    }
    if (!complete) {
      process.stderr.write(`flowcut: standard output closed before every score was written; ${state.path} is unchanged, so the next run scores these rows again\n`);
      return;
    }
    try {
      await writeAll(stateFile.stream, [encodeSeriesRun(run)], false, state.path);
      await stateFile.commit();
    } catch (e) {
      quietState = false;
      const where = toStdout ? 'standard output' : out;
      process.stderr.write(`flowcut: the scores are in ${where}, but ${state.path} could not be saved; the next run scores these rows again\n`);
      throw e;
    }
    process.stderr.write(`flowcut: the detector is saved in ${state.path}: ${run.rows} rows in all, the latest at ${run.lastTimestamp}\n`);
  } finally {
    await output?.discard();
    await stateFile?.discard(quietState);
  }
}

/**
 * The state is replaced by renaming a new file over it: it must be a regular file (or not exist
 * yet), and neither the output nor the rejects file, which would overwrite or append to it.
 */
async function checkStatePath(path: string, out: string | undefined, rejects: string | undefined): Promise<void> {
  if (path === '-') throw new CliError('score-series: --state needs a file name (standard output carries the scores)');
  const found = await lstat(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw new CliError(`cannot read ${path}: ${e.code ?? e.message}`);
  });
  if (found !== undefined && !found.isFile()) {
    throw new CliError(`score-series: --state ${path} is not a regular file${found.isSymbolicLink() ? ' (a symbolic link: name the file it points to)' : ''}`);
  }
  for (const [flag, other] of [['--out', out], ['--rejects', rejects]] as const) {
    if (other !== undefined && (await sameFile(path, other))) throw new CliError(`score-series: --state and ${flag} name the same file`);
  }
}

async function sameFile(a: string, b: string): Promise<boolean> {
  if (resolve(a) === resolve(b)) return true;
  // A symbolic link, even one whose target does not exist yet, names its target.
  const target = async (p: string) => ((await lstat(p).catch(() => undefined))?.isSymbolicLink() ? resolve(dirname(p), await readlink(p)) : resolve(p));
  if ((await target(a)) === (await target(b))) return true;
  const [sa, sb] = await Promise.all([stat(a).catch(() => undefined), stat(b).catch(() => undefined)]);
  return sa !== undefined && sb !== undefined && sa.dev === sb.dev && sa.ino === sb.ino;
}

async function scoreInto(
  file: string,
  output: OutputFile | undefined,
  options: SeriesDetectorOptions,
  rejects: string | undefined,
  explain: boolean,
  state: { readonly path: string; readonly previous: SeriesRun | undefined } | undefined,
): Promise<{ run: SeriesRun | undefined; complete: boolean }> {
  const text = await readSeriesInput(file);
  // Bad rows are reported as name:line.
  const name = file === '-' ? 'stdin' : file;
  let parsed;
  try {
    parsed = parseSeriesCsv(text, name);
  } catch (e) {
    if (e instanceof SeriesFormatError) throw new CliError(e.message);
    throw e;
  }
  // Kept before anything is scored, so a failure later cannot lose them.
  if (rejects !== undefined) await appendRejects(rejects, name, parsed.bad);
  for (const b of parsed.bad.slice(0, MAX_REPORTED_BAD_ROWS)) process.stderr.write(`flowcut: skipped ${b.message}\n`);
  if (parsed.bad.length > MAX_REPORTED_BAD_ROWS) {
    process.stderr.write(`flowcut: ... and ${parsed.bad.length - MAX_REPORTED_BAD_ROWS} more bad rows\n`);
  }
  if (parsed.rows.length === 0) throw new CliError(`${name}: no valid data rows (${parsed.bad.length} bad)`);

  let scored: ScoredSeries;
  let run: SeriesRun | undefined;
  if (state === undefined) scored = scoreParsedSeries(parsed, options);
  else {
    let late: readonly SeriesRow[];
    ({ scored, run, late } = scoreWithState(parsed, options, name, state.path, state.previous));
    if (late.length > 0) await keepLateRows(late, name, rejects, state.previous);
  }
  if (scored.refused.length > 0) await keepRefusedRows(scored.refused, name, rejects, state !== undefined);
  for (const line of timeNotes(scored, name)) process.stderr.write(`flowcut: ${name}: ${line}\n`);
  const complete = await writeAll(output?.stream ?? process.stdout, formatScoredSeries(scored, { explain }), output === undefined);
  if (parsed.bad.length > 0) {
    const kept = rejects !== undefined ? ` (kept in ${rejects})` : ' (use --rejects FILE to keep them)';
    process.stderr.write(`flowcut: scored ${scored.scores.length} rows of ${name}, skipped ${parsed.bad.length} bad rows${kept}\n`);
  }
  return { run, complete };
}

/** Appends rows to the --rejects file as JSON lines (location, line, reason, text); creates it even for none. */
async function appendRejects(rejects: string, name: string, rows: readonly { line: number; reason: string; text: string }[]): Promise<void> {
  const lines = rows.map((r) => `${JSON.stringify({ location: name, line: r.line, reason: r.reason, text: r.text })}\n`);
  await appendFile(rejects, lines.join('')).catch((e: unknown) => {
    throw cannotWrite(rejects, e);
  });
}

/** A parsed row as a CSV line again (its values as numbers), for the rejects file. */
function rowText(row: SeriesRow): string {
  return [row.timestamp, ...row.values].join(',');
}

/** Rows the detector refused: reported with their lines and reasons, and kept with the rejects. */
async function keepRefusedRows(refused: ScoredSeries['refused'], name: string, rejects: string | undefined, withState: boolean): Promise<void> {
  const hint = withState ? ' (the scaling is the first run\'s: delete the state to start again with this range)' : '';
  if (rejects !== undefined) await appendRejects(rejects, name, refused.map((r) => ({ line: r.row.line, reason: r.reason, text: rowText(r.row) })));
  for (const r of refused.slice(0, MAX_REPORTED_BAD_ROWS)) process.stderr.write(`flowcut: not scored ${name}:${r.row.line}: ${r.reason}${hint}\n`);
  const kept = rejects !== undefined ? `kept in ${rejects}` : 'use --rejects FILE to keep them';
  process.stderr.write(`flowcut: ${name}: ${refused.length} row(s) not scored (${kept})\n`);
}

/** Rows that came too late to be scored in time order: reported with their lines, and kept with the rejects. */
async function keepLateRows(late: readonly SeriesRow[], name: string, rejects: string | undefined, previous: SeriesRun | undefined): Promise<void> {
  const reference = previous === undefined ? '' : new Date(previous.reference).toISOString();
  const reason = `not scored before, and more than 6 hours before the rows already scored (up to ${reference}): too late to score in time order`;
  if (rejects !== undefined) await appendRejects(rejects, name, late.map((r) => ({ line: r.line, reason, text: rowText(r) })));
  const lines = late.slice(0, MAX_REPORTED_BAD_ROWS).map((r) => `${name}:${r.line}`);
  const more = late.length > MAX_REPORTED_BAD_ROWS ? ` and ${late.length - MAX_REPORTED_BAD_ROWS} more` : '';
  const kept = rejects !== undefined ? `kept in ${rejects}` : 'use --rejects FILE to keep them';
  process.stderr.write(`flowcut: ${name}: ${late.length} row(s) ${reason}, left out (${lines.join(', ')}${more}; ${kept})\n`);
}

/**
 * `--state`: a new detector over the whole file (its ranges, its probation period), or the
 * restored one over the rows earlier runs did not score (see `rowsToScore`). Returns the run to
 * save (undefined when there was nothing to score) and the rows too late to score.
 */
function scoreWithState(
  parsed: ReturnType<typeof parseSeriesCsv>,
  options: SeriesDetectorOptions,
  name: string,
  statePath: string,
  previous: SeriesRun | undefined,
): { scored: ScoredSeries; run: SeriesRun | undefined; late: readonly SeriesRow[] } {
  const ordered = orderByTime(parsed.rows);
  const { order } = ordered;
  if (order.unreadable > 0) {
    const first = order.firstUnreadable!;
    throw new CliError(
      `${name}: with --state every timestamp must be readable, to tell the rows scored before from the new ones; ${order.unreadable} cannot be read (the first at ${name}:${first.line}: ${quoteCell(first.timestamp)})`,
    );
  }
  let detector: SeriesDetector;
  if (previous === undefined) {
    // Explanations are always kept possible: a later run may ask for them.
    detector = detectorForRows(parsed.columns.length, ordered.rows, { ...options, explain: true });
  } else {
    if (previous.columns.length !== parsed.columns.length || previous.columns.some((c, i) => c !== parsed.columns[i])) {
      throw new CliError(`${name}: its columns (${parsed.columns.join(', ')}) are not those of the series in ${statePath} (${previous.columns.join(', ')})`);
    }
    detector = previous.detector;
  }
  const split = rowsToScore(ordered.times, previous);
  if (split.scoredBefore > 0) process.stderr.write(`flowcut: ${name}: ${split.scoredBefore} row(s) were scored (or rejected as too late) in an earlier run and are left out\n`);
  if (split.beyondMemory > 0) {
    process.stderr.write(`flowcut: ${name}: ${split.beyondMemory} row(s) more than 7 days before the rows scored last are taken as scored in an earlier run and left out\n`);
  }
  const rows = split.fresh.map((i) => ordered.rows[i] as SeriesRow);
  const times = Float64Array.from(split.fresh, (i) => ordered.times[i] as number);
  const scored = scoreRowsWith(detector, parsed, { rows, times, order });
  // Rows refused or too late are remembered like scored ones, so that a later export does not report them again.
  const refused = new Set(scored.refused.map((r) => r.row));
  const done = rows.flatMap((r, i) => (refused.has(r) ? [] : [i]));
  const handled = [...split.tooLate.map((i) => ordered.times[i] as number), ...scored.refused.map((r) => r.time)];
  const run = nextSeriesRun(detector, parsed.columns, done.map((i) => rows[i] as SeriesRow), done.map((i) => times[i] as number), previous, handled);
  return { scored, run, late: split.tooLate.map((i) => ordered.rows[i] as SeriesRow) };
}

/** What the user should know about the rows' timestamps: order, unreadable ones, repeats. */
function timeNotes(scored: ScoredSeries, name: string): string[] {
  const { order } = scored;
  const rows = scored.scores.length;
  const notes: string[] = [];
  if (order.unreadable > 0) {
    const first = order.firstUnreadable!;
    const uses = scored.timeUsed ? '; the daily recurrence, weekly view and time of day pass over those rows' : '';
    notes.push(
      `${order.unreadable} of ${rows} timestamps could not be read as times (the first at ${name}:${first.line}: ${quoteCell(first.timestamp)}), ` +
        `so the rows were kept in the file's order${uses}. Times are read as ISO 8601 (2024-01-05T13:00:00Z; no zone means UTC) or epoch seconds, milliseconds, microseconds or nanoseconds`,
    );
  } else if (order.outOfOrder > 0) {
    notes.push(`the rows were not in time order (${order.outOfOrder} came earlier than the row before them); they were scored, and are written, in time order`);
  }
  if (scored.timeRestarts > 0) {
    notes.push(`${scored.timeRestarts} row(s) had a timestamp more than 6 hours earlier than a row before them; the day- and week-ago lookups (daily recurrence, weekly view) started again from each`);
  }
  if (scored.lateRows > 0) {
    notes.push(`${scored.lateRows} row(s) had a timestamp up to 6 hours earlier than a row before them; each was scored, but not kept for the day- and week-ago lookups`);
  }
  if (scored.aheadRows > 0) {
    notes.push(`${scored.aheadRows} row(s) had a timestamp more than 6 hours later than the rows before them and the row after them; each was scored, but not kept for the day- and week-ago lookups`);
  }
  if (order.repeated > 0) notes.push(`${order.repeated} row(s) have the same time as the row before them; each is scored as a step of its own`);
  return notes;
}

/**
 * The --out file. A new or regular file is written under a temporary name beside it and renamed
 * over it once complete; anything else (a device such as /dev/null, a FIFO, a process
 * substitution, a symbolic link) is written in place, as it always was, since renaming over it
 * would replace it.
 */
class OutputFile {
  private done = false;
  /** Ctrl-C or a kill mid-write must not leave a hidden partial file behind. */
  private readonly detach: () => void;

  private constructor(
    readonly path: string,
    private readonly temporary: string | undefined,
    readonly stream: WriteStream,
  ) {
    this.detach = temporary === undefined ? () => {} : removeOnSignal(temporary);
  }

  static async open(path: string): Promise<OutputFile> {
    const fail = (e: unknown): never => {
      throw cannotWrite(path, e);
    };
    const existing = await lstat(path).catch(() => undefined);
    if (existing?.isDirectory()) throw new CliError(`cannot write ${path}: EISDIR`);
    // Renaming would bypass the target's own permissions: refuse what could not be written in place.
    if (existing?.isFile()) await access(path, constants.W_OK).catch(fail);
    const replaceable = existing === undefined || existing.isFile();
    const temporary = replaceable ? join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.partial`) : undefined;
    // flush: the data reaches the disk before the file is closed, so the rename publishes it whole.
    const stream = createWriteStream(temporary ?? path, temporary === undefined ? {} : { flags: 'wx', flush: true });
    // events.once('open') would reject with the raw error itself: wait for either by hand.
    await new Promise<void>((resolve, reject) => {
      stream.once('open', () => resolve());
      stream.once('error', reject);
    }).catch(fail);
    return new OutputFile(path, temporary, stream);
  }

  /** Flushes, closes and (for a regular file) renames the file into place. */
  async commit(): Promise<void> {
    try {
      const closed = once(this.stream, 'close');
      this.stream.end();
      await closed;
      if (this.temporary !== undefined) await rename(this.temporary, this.path);
      this.done = true;
    } catch (e) {
      throw cannotWrite(this.path, e);
    } finally {
      this.detach();
    }
  }

  /** After a failure: removes the partial file, leaving whatever was at the path untouched. */
  async discard(quiet = false): Promise<void> {
    if (this.done) return;
    this.done = true;
    this.detach();
    if (!this.stream.closed) {
      const closed = once(this.stream, 'close').catch(() => {});
      this.stream.destroy();
      await closed;
    }
    if (this.temporary !== undefined) {
      await unlink(this.temporary).catch(() => {});
      if (!quiet) process.stderr.write(`flowcut: ${this.path} was not written (nothing there has changed)\n`);
    }
  }
}

function cannotWrite(path: string, e: unknown): CliError {
  return new CliError(`cannot write ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
}

/**
 * Writes with back-pressure. A closed standard output (`| head`) ends the output quietly, as other
 * command-line tools do; any other write failure is reported.
 */
async function writeAll(sink: NodeJS.WritableStream, lines: Iterable<string | Uint8Array>, stdout: boolean, name = 'output'): Promise<boolean> {
  let failure: NodeJS.ErrnoException | undefined;
  // Stays attached: an EPIPE can surface after the last write returned.
  sink.on('error', (e: NodeJS.ErrnoException) => {
    failure ??= e;
  });
  for (const line of lines) {
    if (failure !== undefined) break;
    if (!sink.write(line)) await drainOrError(sink);
  }
  const f = failure as NodeJS.ErrnoException | undefined;
  if (f !== undefined && !(stdout && f.code === 'EPIPE')) {
    throw new CliError(`cannot write ${name}: ${f.code ?? f.message}`);
  }
  return f === undefined;
}
