import { type ByteReader, type ByteWriter, KIND_SERIES_DETECTOR, open, seal } from '../../rcf/bytes.js';
import { RcfStateError, ThresholdedForest } from '../../rcf/index.js';
import { leastForestBytes } from '../../rcf/state.js';
import { MAX_SAMPLE_SIZE } from '../../rcf/tree.js';
import { AlarmMemory, validateAlarmMemory } from './alarm-memory.js';
import { RecentRows } from './recent-rows.js';
import { DailyRecurrence, recurrenceHorizonMs, validateRecurrence } from './recurrence.js';
import { MAX_POINT_VALUE } from './limits.js';
import { corrupt, readBytes, readCount, readFlag, readNumbers, readNumbersInto, writeBytes, writeNumbers } from './state-io.js';
import { type PointExplanation, type SeriesExplanation, explainPoint } from './explain.js';
import { WeeklyResidual, validateWeekly, weeklyHorizonMs } from './weekly.js';

export { seriesProbation } from './probation.js';

/**
 * How a series becomes forest points, and how forest scores become `anomaly_score`.
 * Everything uses only rows already seen, plus each column's min and max when given (NAB allows
 * those; a live stream would take them from configuration).
 */
export interface SeriesDetectorOptions {
  readonly numberOfTrees: number;
  readonly sampleSize: number;
  /**
   * One forest per entry, each over that many consecutive rows; the row's score is the largest
   * of their mapped scores. Shingle 1 sees values that are rare in themselves, longer shingles
   * see shapes that are rare (a flat stretch, a missing daily peak) though each value is common.
   */
  readonly shingleSizes: readonly number[];
  /** Sampler decay horizon in rows (0 = none). */
  readonly timeDecay: number;
  readonly seed: number;
  /** Rows before a forest scores at all; default sampleSize/4. */
  readonly outputAfter?: number;
  /** Scale each column to [0,1] by its known range, so no column dominates by its units. */
  readonly normalise: boolean;
  /** Add each column's first difference as a dimension. */
  readonly differences: boolean;
  /** Weight of a time-of-day dimension pair (sin, cos of the UTC hour angle); 0 = none. */
  readonly timeOfDayWeight: number;
  /**
   * `quantile`: raw score over a high quantile of the forest's own past raw scores, squashed
   * to [0,1): a series whose normal scores are noisy must do more to stand out, which a single
   * threshold over many series needs. `scaled`: raw / rawScale clipped to [0,1] (Kinesis
   * Analytics' convention). `grade`: the thresholded forest's grade.
   */
  readonly mapping: 'quantile' | 'scaled' | 'grade';
  readonly rawScale: number;
  /** Quantile (0..1] of past raw scores the `quantile` mapping divides by. */
  readonly quantile: number;
  /** Past raw scores the quantile is taken over (and the thresholder's horizon). */
  readonly history: number;
  /** Past raw scores needed before the `quantile` mapping reports anything. */
  readonly minHistory: number;
  /** Thresholded forest: deviations above the mean score for a non-zero grade. */
  readonly zFactor: number;
  /**
   * A row is reported only if its score exceeds every score of the previous `cooldown` rows:
   * one alarm per event instead of one per row, whatever threshold is later put on the scores.
   * Used as given when `cooldownShare` is 0 or the series' probation period is not known.
   */
  readonly cooldown: number;
  /**
   * The cool-down as a share of the series' probation period (`seriesProbation`: 15% of its
   * rows, at most 750), when the detector is told that period; 0 = `cooldown` rows always. A
   * series' events last about as long as its time unit, and NAB hands every detector the
   * probation period as that unit, so a fixed row count is too long for short series and
   * suppresses their next event.
   */
  readonly cooldownShare: number;
  /**
   * After a reported row, a row within `refractoryRows` rows is reported only if its score beats
   * the last reported one by the factor 1 + `refractoryMargin` (0 rows = off). The cool-down lets
   * a score that keeps rising through one event through on every row; this makes such a ramp one
   * alarm, while a much stronger row still gets through.
   */
  readonly refractoryRows: number;
  readonly refractoryMargin: number;
  /**
   * Event yardstick (0 = off): a row whose ratio (raw / quantile, the larger over the forests)
   * beats every ratio of the previous `eventWindow` rows is an "event"; the ratio is then divided by
   * `median(past event ratios) ^ eventPower` before squashing. Rows are normalised against the
   * series' own row scores by the quantile; this normalises against the series' own past *events*,
   * so a series full of spikes (tweet volumes) must do more to stand out than a quiet one.
   * Only with the `quantile` mapping (ignored by the others).
   */
  readonly eventWindow: number;
  readonly eventPower: number;
  /** Past events needed before anything is reported (and past events kept). */
  readonly minEvents: number;
  readonly eventHistory: number;
  /**
   * Weight of the range excess (0 = off): the score is multiplied by `1 + rangeWeight × e`, e being
   * how far the value lies beyond every value seen so far, in units of the range seen so far (the
   * largest over the columns). A forest's score saturates once a point is outside its sample; this
   * keeps "much further out" ranked above "just out". Only with the `quantile` mapping.
   */
  readonly rangeWeight: number;
  /**
   * Daily recurrence (0 = off): a row's departure from its recent level (median of the last
   * `recurrenceLevelRows` rows) is discounted when, on at least `recurrenceMinDays` of the last
   * `recurrenceDays` days, a row within `recurrenceToleranceMinutes` of the same time of day
   * already came close to it: the score is multiplied by min(1, match / (`recurrenceShare` ×
   * departure)) ^ `recurrencePower`, the match being the `recurrenceMinDays`-th best of the days'
   * closest rows and distances the largest over columns. A nightly job's spike is routine however
   * sharp; a forest's sample holds only a point or two of a once-a-day shape and keeps finding it
   * rare. Needs timestamps (rows without one are not discounted); only with the `quantile` mapping.
   */
  readonly recurrenceDays: number;
  readonly recurrenceMinDays: number;
  readonly recurrenceToleranceMinutes: number;
  readonly recurrenceLevelRows: number;
  readonly recurrenceShare: number;
  readonly recurrencePower: number;
  /**
   * Weekly view: one more forest (shingle 1) on each row's departure from the same time a week
   * earlier (value minus the median of the row nearest that time and `weeklyRows` rows on each
   * side). Its ratio joins the others only while the series is weekly: after a week of
   * comparisons, with week-over-week changes under `weeklyRhythm` × the day-over-day ones. A
   * holiday in a series driven by people's week brings ordinary values at the wrong time, which
   * neither the values nor their short shapes show. Needs timestamps; only with the `quantile` mapping.
   */
  readonly weekly: boolean;
  readonly weeklyRows: number;
  readonly weeklyRhythm: number;
  /**
   * Alarm memory (0 = off): a row that passes the cool-down is discounted when at least
   * `alarmMemory` earlier ones had its shape, within `alarmMemoryShare` of its height: the shape
   * being its `alarmMemoryRows` rows up to it less the level (median of the `alarmMemoryLevelRows`
   * rows before them), and the score multiplied by min(1, distance / (share × height)) ^
   * `alarmMemoryPower`, distance being the `alarmMemory`-th smallest. A forest keeps a sample,
   * not a memory: in a long series a burst of a kind seen often is as rare in its sample as the
   * first. Only with the `quantile` mapping.
   */
  readonly alarmMemory: number;
  readonly alarmMemoryShare: number;
  readonly alarmMemoryRows: number;
  readonly alarmMemoryLevelRows: number;
  readonly alarmMemoryPower: number;
  /**
   * Give every reported row (`anomalyScore` above 0) an `explanation`. Costs an attribution and an
   * expected value per reported row, nothing on the others; with a mapping that reports nearly
   * every row (`scaled` without a cool-down, as in the Kinesis settings), that adds half to all of the time again.
   */
  readonly explain: boolean;
}

/**
 * The configuration evaluated on NAB (one for every series). Why these values: 100 trees per
 * forest, because with 50 the result hinged on the seed (on 15 seeds no choice was made on, 50
 * trees scored 75.7 to 78.9, 100 trees 77.3 to 78.8); a larger sample (512) makes a rare value
 * less often "seen before" by chance; shingles 1 and 4 cover values and
 * short shapes (longer shingles added nothing); the quantile over all of a series' past scores
 * (20000 rows covers every NAB file) is the most stable yardstick for rows, the median of past
 * events (20-row local records) the yardstick for events, under a square root so it corrects
 * the spread between series without flattening it; the range excess breaks the forests'
 * saturation on values far outside everything seen; the cool-down is 0.55 of the series'
 * probation period (332 rows on a 4032-row file, 413 from 5000 rows on; 500 rows when the period
 * is not known), so a short series' next event is not suppressed; the refractory margin
 * (100 rows, 10%) makes a score that keeps rising through one event one alarm instead of one per
 * row; the daily recurrence (3 of the last 7 days, ±30 minutes) takes the routine out of
 * series with a daily job, whose spikes the forests keep finding rare; and the weekly view (a
 * forest on the change from a week earlier, heard only in series that prove weekly) finds the
 * holidays of a series driven by people's week; and the alarm memory (3 earlier alarms within a
 * quarter of the height) stops a long series' habitual bursts from being reported again and
 * again. Figures and their spread over seeds are in src/eval/nab/README.md.
 */
export const DEFAULT_SERIES_OPTIONS: SeriesDetectorOptions = Object.freeze({
  numberOfTrees: 100,
  sampleSize: 512,
  shingleSizes: Object.freeze([1, 4]),
  timeDecay: 100_000,
  seed: 1,
  normalise: true,
  differences: false,
  timeOfDayWeight: 0,
  mapping: 'quantile',
  rawScale: 8,
  quantile: 0.99,
  history: 20_000,
  minHistory: 100,
  zFactor: 3,
  cooldown: 500,
  cooldownShare: 0.55,
  refractoryRows: 100,
  refractoryMargin: 0.1,
  eventWindow: 20,
  eventPower: 0.5,
  minEvents: 5,
  eventHistory: 5000,
  rangeWeight: 10,
  recurrenceDays: 7,
  recurrenceMinDays: 3,
  recurrenceToleranceMinutes: 30,
  recurrenceLevelRows: 6,
  recurrenceShare: 0.5,
  recurrencePower: 2,
  weekly: true,
  weeklyRows: 3,
  weeklyRhythm: 0.75,
  alarmMemory: 3,
  alarmMemoryShare: 0.25,
  alarmMemoryRows: 4,
  alarmMemoryLevelRows: 6,
  alarmMemoryPower: 2,
  explain: true,
});

/** Kinesis Data Analytics' RANDOM_CUT_FOREST as NAB ran it (the published 52.00 baseline). */
export const KINESIS_OPTIONS: SeriesDetectorOptions = Object.freeze({
  numberOfTrees: 100,
  sampleSize: 256,
  shingleSizes: Object.freeze([1]),
  timeDecay: 100_000,
  seed: 1,
  normalise: false,
  differences: false,
  timeOfDayWeight: 0,
  mapping: 'scaled',
  rawScale: 8,
  quantile: 0.99,
  history: 1000,
  minHistory: 0,
  zFactor: 3,
  cooldown: 0,
  cooldownShare: 0,
  refractoryRows: 0,
  refractoryMargin: 0.1,
  eventWindow: 0,
  eventPower: 0.5,
  minEvents: 5,
  eventHistory: 5000,
  rangeWeight: 0,
  recurrenceDays: 0,
  recurrenceMinDays: 3,
  recurrenceToleranceMinutes: 30,
  recurrenceLevelRows: 6,
  recurrenceShare: 0.5,
  recurrencePower: 2,
  weekly: false,
  weeklyRows: 3,
  weeklyRhythm: 0.75,
  alarmMemory: 0,
  alarmMemoryShare: 0.25,
  alarmMemoryRows: 4,
  alarmMemoryLevelRows: 6,
  alarmMemoryPower: 2,
  explain: true,
});

/** The cool-down in rows: a share of the probation period when both are known, else `cooldown`. */
export function cooldownRows(o: Pick<SeriesDetectorOptions, 'cooldown' | 'cooldownShare'>, probationRows?: number): number {
  if (o.cooldownShare > 0 && probationRows !== undefined) return Math.max(1, Math.round(o.cooldownShare * probationRows));
  return o.cooldown;
}

export interface ColumnRange {
  readonly min: number;
  readonly max: number;
}

export interface RowScore {
  /** In [0,1]; the value to put a threshold on. */
  readonly anomalyScore: number;
  /** Why the row was reported: on every row whose `anomalyScore` is above 0 (and only on those), unless the `explain` option is off. */
  readonly explanation?: SeriesExplanation;
  /** The forest score (the largest over the ensemble's forests). */
  readonly rawScore: number;
  /** The thresholded forest's grade in [0,1] (the largest over the ensemble). */
  readonly grade: number;
}

const MAPPINGS: readonly SeriesDetectorOptions['mapping'][] = ['quantile', 'scaled', 'grade'];
/** Rows the cool-down and the event window look back at most: each row is compared with every one of them. */
export const MAX_LOOKBACK_ROWS = 75_000;
/** Powers above this only turn a discount into 0 or 1, and 0 ** Infinity into NaN. */
const MAX_POWER = 16;

export function validateOptions(o: SeriesDetectorOptions): void {
  // Every number must be finite (a state keeps the options as JSON, where Infinity is lost) and
  // every flag a boolean ('false' would be true). Upper bounds keep each setting to what memory
  // and time allow, so a typo is refused before any input is read.
  for (const [name, given] of Object.entries(o)) {
    const expected = name === 'outputAfter' ? 'number' : typeof DEFAULT_SERIES_OPTIONS[name as keyof SeriesDetectorOptions];
    if (expected === 'object') continue;
    if (typeof given !== expected || (expected === 'number' && !Number.isFinite(given))) {
      throw new RangeError(`${name} must be ${expected === 'number' ? 'a finite number' : `a ${expected}`}, got ${String(given)}`);
    }
  }
  const int = (name: string, v: number, min: number, max = 10_000_000) => {
    if (!Number.isInteger(v) || v < min || v > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${v}`);
  };
  const num = (name: string, v: number, min: number, max: number, above = false) => {
    if (!(above ? v > min : v >= min) || !(v <= max)) throw new RangeError(`${name} must be in ${above ? '(' : '['}${min}, ${max}], got ${v}`);
  };
  if (!MAPPINGS.includes(o.mapping)) throw new RangeError(`mapping must be one of ${MAPPINGS.join(', ')}, got ${String(o.mapping)}`);
  int('numberOfTrees', o.numberOfTrees, 1, 1000);
  int('sampleSize', o.sampleSize, 2, MAX_SAMPLE_SIZE);
  if (!Array.isArray(o.shingleSizes) || o.shingleSizes.length === 0) throw new RangeError('shingleSizes must be a list of at least one shingle size');
  if (o.shingleSizes.length > 16) throw new RangeError(`at most 16 shingle sizes (one forest each), got ${o.shingleSizes.length}`);
  for (const s of o.shingleSizes) int('shingle size', s, 1, 1024);
  num('timeDecay', o.timeDecay, 0, 1e12);
  int('seed', o.seed, 0, 0xffffffff);
  if (o.outputAfter !== undefined) int('outputAfter', o.outputAfter, 0);
  num('timeOfDayWeight', o.timeOfDayWeight, 0, 1e6);
  num('rawScale', o.rawScale, 0, 1e12, true);
  num('quantile', o.quantile, 0, 1, true);
  int('history', o.history, 1);
  int('minHistory', o.minHistory, 0);
  num('zFactor', o.zFactor, 0, 1e6);
  int('cooldown', o.cooldown, 0, MAX_LOOKBACK_ROWS);
  // A share of probation periods of at most 750 rows (NAB's): 100 of them are MAX_LOOKBACK_ROWS.
  num('cooldownShare', o.cooldownShare, 0, 100);
  int('refractoryRows', o.refractoryRows, 0);
  num('refractoryMargin', o.refractoryMargin, 0, 1e6);
  int('eventWindow', o.eventWindow, 0, MAX_LOOKBACK_ROWS);
  num('eventPower', o.eventPower, 0, MAX_POWER);
  int('minEvents', o.minEvents, 1);
  int('eventHistory', o.eventHistory, 1);
  // Otherwise the yardsticks never have enough and every score stays 0.
  if (o.minHistory > o.history) throw new RangeError(`minHistory (${o.minHistory}) must be at most history (${o.history})`);
  if (o.minEvents > o.eventHistory) throw new RangeError(`minEvents (${o.minEvents}) must be at most eventHistory (${o.eventHistory})`);
  num('rangeWeight', o.rangeWeight, 0, 1e6);
  int('recurrenceDays', o.recurrenceDays, 0);
  num('recurrencePower', o.recurrencePower, 0, MAX_POWER);
  if (o.recurrenceDays > 0) validateRecurrence(recurrenceOptions(o));
  if (o.weekly) validateWeekly(weeklyOptions(o));
  int('alarmMemory', o.alarmMemory, 0);
  num('alarmMemoryPower', o.alarmMemoryPower, 0, MAX_POWER);
  if (o.alarmMemory > 0) validateAlarmMemory(alarmMemoryOptions(o));
}

function alarmMemoryOptions(o: SeriesDetectorOptions) {
  return {
    matches: o.alarmMemory,
    share: o.alarmMemoryShare,
    shapeRows: o.alarmMemoryRows,
    levelRows: o.alarmMemoryLevelRows,
    power: o.alarmMemoryPower,
  };
}

function weeklyOptions(o: SeriesDetectorOptions) {
  return { rows: o.weeklyRows, rhythm: o.weeklyRhythm };
}

function recurrenceOptions(o: SeriesDetectorOptions) {
  return {
    days: o.recurrenceDays,
    minDays: o.recurrenceMinDays,
    toleranceMs: o.recurrenceToleranceMinutes * 60_000,
    levelRows: o.recurrenceLevelRows,
    share: o.recurrenceShare,
    power: o.recurrencePower,
  };
}

/**
 * The layout of a series detector's state, inside the forests' container (whose own version
 * covers the forests). Any change to what the detector keeps changes it.
 */
const SERIES_STATE_VERSION = 3;
/**
 * Layouts this flowcut still reads: 1 is 2's bytes with options that predate `explain` (which
 * then takes its default), so an older flowcut's state still loads, while an older flowcut
 * meets version 2 with the version message rather than an unknown option; 2 is 3's bytes without
 * the recent rows' held row and count of rows stamped ahead (none held, none counted).
 */
const READABLE_SERIES_STATE_VERSIONS: readonly number[] = [1, 2, 3];

const OPTION_NAMES: ReadonlySet<string> = new Set([...Object.keys(DEFAULT_SERIES_OPTIONS), 'outputAfter']);

/**
 * `DEFAULT_SERIES_OPTIONS` with `options` over it; a name that is not an option is refused (a
 * misspelt option would otherwise leave its default in place without a word).
 */
export function resolveSeriesOptions(options: Partial<SeriesDetectorOptions>): SeriesDetectorOptions {
  if (options === null || typeof options !== 'object' || Array.isArray(options)) throw new TypeError('series detector options must be an object');
  const resolved: Record<string, unknown> = { ...DEFAULT_SERIES_OPTIONS };
  for (const [name, value] of Object.entries(options)) {
    if (!OPTION_NAMES.has(name)) throw new RangeError(`unknown series detector option '${name}'`);
    // `{ seed: config.seed }` with no seed configured means the default, as leaving it out does.
    if (value !== undefined) resolved[name] = value;
  }
  const shingles = resolved['shingleSizes'];
  // A copy, frozen: the caller's array changing later must not change a running detector.
  if (Array.isArray(shingles)) resolved['shingleSizes'] = Object.freeze([...(shingles as number[])]);
  validateOptions(resolved as unknown as SeriesDetectorOptions);
  return Object.freeze(resolved) as unknown as SeriesDetectorOptions;
}

/** A part of the detector that saves and restores its own state. */
interface StatePart {
  writeState(w: ByteWriter): void;
  /** `layout`: the series state layout version the bytes were written in. */
  readState(r: ByteReader, layout: number): void;
}

/** A part whose reader names what it reads, in messages about a corrupt state. */
function named(part: { writeState(w: ByteWriter): void; readState(r: ByteReader, what: string): void }, what: string): StatePart {
  return { writeState: (w) => part.writeState(w), readState: (r) => part.readState(r, what) };
}

/** Which of the detector's optional parts the options turn on: all but the forests need the quantile mapping. */
function partsOn(o: SeriesDetectorOptions) {
  const quantile = o.mapping === 'quantile';
  return {
    events: o.eventWindow > 0 && quantile,
    recurrence: o.recurrenceDays > 0 && quantile,
    weekly: o.weekly && quantile,
    alarms: o.alarmMemory > 0 && quantile,
  };
}

/** The forests the options build: one per shingle size, and the weekly view's. */
function forestCount(o: SeriesDetectorOptions): number {
  return o.shingleSizes.length + (partsOn(o).weekly ? 1 : 0);
}

/**
 * The fewest bytes each column adds to a state: its previous, smallest and largest value, its
 * share of each forest's shingle (float32), and of the rows kept for the recurrence's level and
 * the alarm memory's shapes, which are written whole.
 */
function leastBytesPerColumn(o: SeriesDetectorOptions): number {
  const on = partsOn(o);
  const perRow = o.differences ? 2 : 1;
  let bytes = 24;
  for (const shingle of o.shingleSizes) bytes += 4 * shingle * perRow;
  if (on.weekly) bytes += 4;
  if (on.recurrence) bytes += 8 * o.recurrenceLevelRows;
  if (on.alarms) bytes += 8 * (o.alarmMemoryRows + o.alarmMemoryLevelRows);
  return bytes;
}

/**
 * The seed of the detector's k-th forest: each its own, so the ensemble is not the same
 * randomness seen twice; kept to 32 bits, as the forest requires.
 */
function memberSeed(seed: number, k: number): number {
  return (seed + 7919 * k) >>> 0;
}

/**
 * Scores a series one row at a time, as `flowcut score-series` does; every forest scores a row
 * before learning it (no look-ahead). `toState` and `fromState` carry it across restarts: with
 * the same rows after the restore, every later score is what an uninterrupted run gives.
 */
export class SeriesDetector {
  /** Every option, the defaults filled in. */
  readonly options: SeriesDetectorOptions;
  private readonly members: EnsembleMember[];
  readonly columns: number;
  readonly ranges: readonly ColumnRange[] | undefined;
  readonly probationRows: number | undefined;
  private readonly point: Float64Array;
  private readonly previous: Float64Array;
  private hasPrevious = false;
  private readonly coolDown: CoolDown;
  private readonly refractory: Refractory;
  private readonly events: EventYardstick | undefined;
  private readonly recurrence: DailyRecurrence | undefined;
  /** The weekly view: the residual, the forest that scores it, and the point it is written into. */
  private readonly weekly: { readonly view: WeeklyResidual; readonly forest: EnsembleMember; readonly point: Float64Array } | undefined;
  private readonly alarms: AlarmMemory | undefined;
  /** Timed rows for the recurrence's and the weekly view's lookups. */
  private readonly recent: RecentRows | undefined;
  private readonly seenMin: Float64Array;
  private readonly seenMax: Float64Array;
  private rows = 0;
  /** How far the last row lay beyond each column's earlier values (scratch, not state). */
  private readonly columnExcess: Float64Array;
  /** How unusual each view found the last row: each member, then the weekly view (scratch, not state). */
  private readonly viewStrengths: Float64Array;
  /** The views from the simplest: members by shingle size, then the weekly view. */
  private readonly viewOrder: readonly number[];

  /**
   * `columns`: values per row. `options`: any of `SeriesDetectorOptions`, over
   * `DEFAULT_SERIES_OPTIONS` (the configuration evaluated on NAB). `ranges`: each column's min and
   * max, when known; columns are then scaled to [0,1], so that none dominates by its units.
   * `probationRows`: the rows the series takes to show its normal behaviour (`seriesProbation` of
   * its length, when that is known); the cool-down is `cooldownShare` of it, else `cooldown` rows.
   */
  constructor(columns: number, given: Partial<SeriesDetectorOptions> = {}, ranges?: readonly ColumnRange[], probationRows?: number) {
    if (!Number.isInteger(columns) || columns < 1) throw new RangeError(`columns must be a positive integer, got ${columns}`);
    if (ranges !== undefined && ranges.length !== columns) throw new RangeError(`${ranges.length} ranges for ${columns} columns`);
    ranges?.forEach((r, i) => {
      if (!(Number.isFinite(r.min) && Number.isFinite(r.max) && r.min <= r.max && Number.isFinite(r.max - r.min))) {
        throw new RangeError(`range ${i + 1} must have finite min <= max, got ${String(r.min)} to ${String(r.max)}`);
      }
    });
    if (probationRows !== undefined && !(Number.isInteger(probationRows) && probationRows >= 0 && probationRows <= 0xffffffff)) {
      throw new RangeError(`probationRows must be an integer in [0, 4294967295], got ${probationRows}`);
    }
    const options = resolveSeriesOptions(given);
    this.options = options;
    const lookback = cooldownRows(options, probationRows);
    if (lookback > MAX_LOOKBACK_ROWS) {
      throw new RangeError(`the cool-down (cooldownShare ${options.cooldownShare} of ${probationRows} probation rows) must be at most ${MAX_LOOKBACK_ROWS} rows, got ${lookback}`);
    }
    this.columns = columns;
    this.ranges = ranges === undefined ? undefined : ranges.map((r) => ({ min: r.min, max: r.max }));
    this.probationRows = probationRows;
    const dims = columns * (options.differences ? 2 : 1) + (options.timeOfDayWeight > 0 ? 2 : 0);
    this.point = new Float64Array(dims);
    this.previous = new Float64Array(columns);
    this.members = options.shingleSizes.map((shingleSize, k) => new EnsembleMember(dims, shingleSize, options, memberSeed(options.seed, k)));
    this.coolDown = new CoolDown(lookback);
    this.refractory = new Refractory(options.refractoryRows, options.refractoryMargin);
    const on = partsOn(options);
    this.events = on.events ? new EventYardstick(options) : undefined;
    const horizon = Math.max(on.recurrence ? recurrenceHorizonMs(options.recurrenceDays) : 0, on.weekly ? weeklyHorizonMs(options.weeklyRows) : 0);
    this.recent = horizon > 0 ? new RecentRows(columns, horizon) : undefined;
    this.recurrence = on.recurrence && this.recent ? new DailyRecurrence(this.recent, recurrenceOptions(options)) : undefined;
    this.weekly =
      on.weekly && this.recent
        ? {
            view: new WeeklyResidual(this.recent, weeklyOptions(options)),
            forest: new EnsembleMember(columns, 1, options, memberSeed(options.seed, options.shingleSizes.length)),
            point: new Float64Array(columns),
          }
        : undefined;
    this.alarms = on.alarms ? new AlarmMemory(columns, alarmMemoryOptions(options)) : undefined;
    this.seenMin = new Float64Array(columns).fill(Number.POSITIVE_INFINITY);
    this.seenMax = new Float64Array(columns).fill(Number.NEGATIVE_INFINITY);
    this.columnExcess = new Float64Array(columns);
    this.viewStrengths = new Float64Array(this.members.length + 1);
    const shingles = options.shingleSizes;
    this.viewOrder = [...shingles.keys()].sort((a, b) => (shingles[a] as number) - (shingles[b] as number) || a - b).concat(this.members.length);
  }

  /** Rows processed so far. */
  get rowsSeen(): number {
    return this.rows;
  }

  /**
   * The whole detector as bytes: its options, columns, ranges and probation period, every
   * forest (with its random generator) and every yardstick's memory. `fromState` gives a detector
   * whose later scores are those of this one; the bytes grow with the forests and with the rows of
   * the last week kept for the daily and weekly lookups.
   */
  toState(): Uint8Array {
    return seal(KIND_SERIES_DETECTOR, (w) => {
      w.u16(SERIES_STATE_VERSION);
      writeBytes(w, new TextEncoder().encode(JSON.stringify(this.options)));
      w.u32(this.columns);
      w.u8(this.ranges === undefined ? 0 : 1);
      for (const r of this.ranges ?? []) {
        w.f64(r.min);
        w.f64(r.max);
      }
      w.u8(this.probationRows === undefined ? 0 : 1);
      w.u32(this.probationRows ?? 0);
      w.f64(this.rows);
      w.u8(this.hasPrevious ? 1 : 0);
      w.array(this.previous);
      w.array(this.seenMin);
      w.array(this.seenMax);
      for (const part of this.stateParts()) part.writeState(w);
    });
  }

  /**
   * A detector from `toState`'s bytes, with the options, columns, ranges and probation period it
   * was saved with. Bytes that are not a series detector's state, or are truncated or corrupt, are
   * an `RcfStateError`.
   */
  static fromState(bytes: Uint8Array): SeriesDetector {
    const r = open(bytes, KIND_SERIES_DETECTOR);
    const version = r.u16('version');
    if (!READABLE_SERIES_STATE_VERSIONS.includes(version)) {
      throw new RcfStateError(
        `series detector state version ${version} is not this flowcut's (${SERIES_STATE_VERSION}); a detector's state is read only by the flowcut that wrote it, so rebuild the detector from its rows`,
      );
    }
    const text = readBytes(r, 'options');
    let options: SeriesDetectorOptions;
    try {
      options = resolveSeriesOptions(JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(text)) as Partial<SeriesDetectorOptions>);
    } catch (e) {
      throw corrupt(e instanceof SyntaxError ? `options: ${e.message}` : (e as Error).message);
    }
    // The forests are allocated when the detector is built, before their bytes are read: hold the
    // options' claim against the bytes first, so that a few bytes cannot buy gigabytes.
    const forests = forestCount(options);
    const least = forests * leastForestBytes(options.numberOfTrees, options.sampleSize);
    if (least > r.remaining) {
      throw corrupt(`its options claim ${forests} forests of ${options.numberOfTrees} trees of sample size ${options.sampleSize}, which take at least ${least} bytes; ${r.remaining} remain`);
    }
    const columns = r.u32('columns');
    // Refuse a column count the bytes cannot back, before anything sized by it is allocated.
    const leastPerColumn = leastBytesPerColumn(options);
    if (columns * leastPerColumn > r.remaining) throw corrupt(`${columns} columns in ${r.remaining} bytes`);
    let ranges: ColumnRange[] | undefined;
    if (readFlag(r, 'ranges')) {
      ranges = [];
      for (let c = 0; c < columns; c++) ranges.push({ min: r.f64('ranges'), max: r.f64('ranges') });
    }
    const hasProbation = readFlag(r, 'probation');
    const probation = r.u32('probation');
    let d: SeriesDetector;
    try {
      d = new SeriesDetector(columns, options, ranges, hasProbation ? probation : undefined);
    } catch (e) {
      throw corrupt((e as Error).message);
    }
    d.readState(r, version);
    if (r.offset !== r.end) throw corrupt('unexpected bytes after the detector');
    return d;
  }

  private readState(r: ByteReader, layout: number): void {
    this.rows = readCount(r, 'rows');
    this.hasPrevious = readFlag(r, 'previous row');
    r.into(this.previous, this.columns, 'previous row');
    r.into(this.seenMin, this.columns, 'smallest values');
    r.into(this.seenMax, this.columns, 'largest values');
    // Before the first row the extremes are infinite; after it every kept number is finite.
    if (!this.previous.every(Number.isFinite) || (this.rows > 0 && !(this.seenMin.every(Number.isFinite) && this.seenMax.every(Number.isFinite)))) {
      throw corrupt('a kept value that is not finite');
    }
    for (const part of this.stateParts()) part.readState(r, layout);
  }

  /** The parts with a state of their own, in the one order `toState` writes and `readState` reads them. */
  private stateParts(): StatePart[] {
    const recent = this.recent;
    const parts: (StatePart | undefined)[] = [
      ...this.members.map((m, k) => named(m, `forest ${k + 1}`)),
      named(this.coolDown, 'cool-down'),
      this.refractory,
      this.events,
      recent && { writeState: (w) => recent.writeState(w), readState: (r, layout) => recent.readState(r, layout >= 3) },
      this.recurrence,
      this.weekly?.view,
      this.weekly && named(this.weekly.forest, 'weekly forest'),
      this.alarms,
    ];
    return parts.filter((p): p is StatePart => p !== undefined);
  }

  /**
   * Rows whose time was more than 6 hours earlier than an earlier row's: the clock went back, and
   * the daily and weekly lookups started again from each (0 when they are off).
   */
  get timeRestarts(): number {
    return this.recent?.restarts ?? 0;
  }

  /** Rows that came up to 6 hours late (earlier than an earlier row): scored, but not kept for the daily and weekly lookups. */
  get lateRows(): number {
    return this.recent?.late ?? 0;
  }

  /**
   * Time (epoch ms) of the latest row kept for the daily and weekly lookups: the time later rows
   * are judged against (a row more than 6 hours earlier restarts the lookups). NaN when the
   * lookups are off or no timed row was kept.
   */
  get lastKeptTime(): number {
    return this.recent?.lastTime ?? Number.NaN;
  }

  /** Whether rows are kept for the daily and weekly lookups, so that their time order matters beyond the forests'. */
  get keepsTimedRows(): boolean {
    return this.recent !== undefined;
  }

  /**
   * Rows stamped ahead: more than 6 hours after the last row kept for the daily and weekly
   * lookups, and followed by a row more than 6 hours before them (but not more than 6 hours before
   * the rows kept). Scored, but not kept for those lookups (kept, such a row would have cost them
   * the week of rows before it).
   */
  get aheadRows(): number {
    return this.recent?.ahead ?? 0;
  }

  /**
   * Scores a row, then learns it. `values`: one finite number per column. `time`: epoch
   * milliseconds (not seconds), or NaN when unknown (the daily and weekly lookups then skip the
   * row); rows should come in time order (see `lateRows`, `aheadRows` and `timeRestarts`). A row that is
   * refused (an error) changes nothing. Scores are 0 during the warm-up (with the defaults, some
   * 230 to 300 rows), and after an alarm a row is reported only if it beats every score of
   * the cool-down's rows. A reported row comes with its `explanation` (see `SeriesExplanation`).
   */
  process(values: ArrayLike<number>, time = Number.NaN): RowScore {
    this.admit(values, time);
    // Before the day and week lookups: a held row that this row shows to be a gap is kept by then.
    this.recent?.settle(time);
    const p = this.featurise(time);
    const byRatio = this.options.mapping === 'quantile';
    let mapped = 0;
    let ratio = 0;
    let raw = 0;
    let grade = 0;
    // How unusual each view found the row (members by index, then the weekly view), to explain it.
    const strengths = this.viewStrengths;
    strengths.fill(0);
    const members = this.members;
    for (let k = 0; k < members.length; k++) {
      const r = (members[k] as EnsembleMember).judge(p);
      if (r.anomalyScore > mapped) mapped = r.anomalyScore;
      if (r.ratio > ratio) ratio = r.ratio;
      if (r.rawScore > raw) raw = r.rawScore;
      if (r.grade > grade) grade = r.grade;
      strengths[k] = byRatio ? r.ratio : r.anomalyScore;
    }
    // The point's first columns are the values as the forests see them: normalised when ranges are
    // known (distances then weigh columns alike), else in their own units.
    const weekly = this.weekly;
    const weeklyJudged = weekly !== undefined && weekly.view.residual(p, time, weekly.point);
    if (weeklyJudged) {
      // The forest learns the residual from its first week on; it is heard only once the series is weekly.
      const r = weekly.forest.judge(weekly.point);
      if (weekly.view.counts) {
        if (r.ratio > ratio) ratio = r.ratio;
        if (r.rawScore > raw) raw = r.rawScore;
        if (r.grade > grade) grade = r.grade;
        strengths[members.length] = r.ratio;
      }
    }
    const excess = this.rangeExcess(values);
    const routine = this.recurrence === undefined ? 1 : this.recurrence.factor(p, time);
    this.recent?.keep(p, time);
    if (byRatio) {
      // squash is increasing, so with no adjustment this equals the members' largest mapped score.
      const yardstick = this.events === undefined ? ratio : this.events.apply(ratio);
      mapped = squash(yardstick * (1 + this.options.rangeWeight * excess) * routine);
    }
    this.alarms?.observe(p);
    let alarm = this.coolDown.apply(mapped);
    if (alarm > 0 && this.alarms !== undefined) alarm *= this.alarms.judge();
    const anomalyScore = this.refractory.apply(alarm);
    // Explained before the forests learn the row, by the model that judged it; and learnt whatever
    // happens while explaining, so the forests never miss a row the rest of the detector took.
    let explanation: SeriesExplanation | undefined;
    try {
      if (anomalyScore > 0 && this.options.explain) explanation = this.explain();
    } finally {
      for (const m of members) m.learn(p);
      if (weeklyJudged) weekly.forest.learn(weekly.point);
    }
    return explanation === undefined ? { anomalyScore, rawScore: raw, grade } : { anomalyScore, rawScore: raw, grade, explanation };
  }

  /**
   * Why the row just judged was reported, by the simplest view that found it at least half as
   * unusual as the view that found it most unusual: a spike is unusual to every view, and "its
   * value" says it more plainly than "its shape". Simplest: shingle 1, then longer shingles, then
   * the weekly view. A view that expected the row's value as it is says little, so the next such
   * view is asked; if every one did, the one that found the row most unusual speaks.
   */
  private explain(): SeriesExplanation {
    const strengths = this.viewStrengths;
    let strongest = 0;
    let mostSurprised = 0;
    for (let k = 0; k < strengths.length; k++) {
      if ((strengths[k] as number) > strongest) {
        strongest = strengths[k] as number;
        mostSurprised = k;
      }
    }
    // The most surprised view always passes the bar below, so its explanation is at hand if needed.
    let fallback: SeriesExplanation | undefined;
    for (const k of this.viewOrder) {
      if ((strengths[k] as number) < 0.5 * strongest) continue;
      const e = this.explainBy(k);
      if (e === undefined) continue;
      if (!this.asExpected(e)) return e;
      if (k === mostSurprised) fallback = e;
    }
    return fallback ?? (this.explainBy(0) as SeriesExplanation);
  }

  /** The explanation view `k` gives (a member's index, or the weekly view after them); undefined for a weekly view that did not judge the row. */
  private explainBy(k: number): SeriesExplanation | undefined {
    const weekly = this.weekly;
    if (k === this.members.length) {
      if (weekly === undefined || !weekly.view.counts) return undefined;
      const e = weekly.forest.explain(weekly.point, this.columns, false);
      // The forest expects a change from a week earlier; the value it implies is this row's less the surprise.
      const value = this.point[e.column] as number;
      const expected = value - ((weekly.point[e.column] as number) - e.expected);
      return { view: 'week', rows: 1, column: e.column, direction: e.direction, expected: this.unscaled(expected, e.column), beyondRange: this.columnExcess[e.column] as number };
    }
    const rows = this.options.shingleSizes[k] as number;
    const e = (this.members[k] as EnsembleMember).explain(this.point, this.columns, this.options.differences);
    return { view: rows > 1 ? 'shape' : 'value', rows, column: e.column, direction: e.direction, expected: this.unscaled(e.expected, e.column), beyondRange: this.columnExcess[e.column] as number };
  }

  /** Whether an explanation's expected value is the row's value itself (the forests hold float32 values). */
  private asExpected(e: SeriesExplanation): boolean {
    const v = this.unscaled(this.point[e.column] as number, e.column);
    const r = this.ranges?.[e.column];
    const span = r === undefined ? 0 : r.max - r.min;
    return Math.abs(v - e.expected) <= 1e-6 * Math.max(Math.abs(v), Math.abs(e.expected), span);
  }

  /**
   * Refuses a row before anything learns from it, so a bad row cannot leave half of the detector
   * updated; writes a good row's scaled values into the point's first columns (scratch, not state)
   * for `featurise`.
   */
  private admit(values: ArrayLike<number>, time: number): void {
    if (values === null || typeof values !== 'object' || typeof values.length !== 'number') throw new TypeError('values must be an array of numbers, one per column');
    if (values.length !== this.columns) throw new RangeError(`expected ${this.columns} values, got ${values.length}`);
    for (let i = 0; i < this.columns; i++) {
      const v = values[i];
      if (typeof v !== 'number' || !Number.isFinite(v)) throw new RangeError(`value ${i + 1} is not a finite number: ${String(v)}`);
      // The forests hold float32 points; half of that range leaves room for a difference or a
      // weekly residual of two such values.
      const scaled = this.scaled(v, i);
      if (!(Math.abs(scaled) <= MAX_POINT_VALUE)) {
        throw new RangeError(`value ${i + 1} (${v}) is outside what the forests hold: |value| <= ${MAX_POINT_VALUE}${this.ranges && this.options.normalise ? ' once scaled by its range' : ''}`);
      }
      this.point[i] = scaled;
    }
    // A Date or a string would otherwise count as "no time" without a word.
    if (typeof time !== 'number') throw new TypeError(`time must be epoch milliseconds (a number) or NaN, got ${typeof time}`);
  }

  /**
   * How far beyond every earlier value (in units of the earlier range) the row lies, the largest
   * over the columns (each column's in `columnExcess`); then learns it.
   */
  private rangeExcess(values: ArrayLike<number>): number {
    let excess = 0;
    const each = this.columnExcess;
    for (let i = 0; i < this.columns; i++) {
      const v = values[i] as number;
      const lo = this.seenMin[i] as number;
      const hi = this.seenMax[i] as number;
      const range = hi - lo;
      each[i] = this.rows > 0 && range > 0 ? Math.max(0, (v - hi) / range, (lo - v) / range) : 0;
      if ((each[i] as number) > excess) excess = each[i] as number;
      if (v < lo) this.seenMin[i] = v;
      if (v > hi) this.seenMax[i] = v;
    }
    this.rows++;
    return excess;
  }

  /**
   * The value as the forests see it: scaled to [0,1] by its column's range when known; a column
   * whose range is a single value is measured from it, so a value off it still shows.
   */
  private scaled(v: number, column: number): number {
    const r = this.options.normalise ? this.ranges?.[column] : undefined;
    if (r === undefined) return v;
    return r.max > r.min ? (v - r.min) / (r.max - r.min) : v - r.min;
  }

  /** `scaled`'s inverse: a value as the forests see it, back in the input's units. */
  private unscaled(v: number, column: number): number {
    const r = this.options.normalise ? this.ranges?.[column] : undefined;
    if (r === undefined) return v;
    return r.max > r.min ? r.min + v * (r.max - r.min) : v + r.min;
  }

  /** The point the forests see, from the scaled values `admit` wrote into it; then remembers them as the previous row. */
  private featurise(time: number): Float64Array {
    const o = this.options;
    const c = this.columns;
    const p = this.point;
    for (let i = 0; i < c; i++) {
      const v = p[i] as number;
      if (o.differences) p[c + i] = this.hasPrevious ? v - (this.previous[i] as number) : 0;
      this.previous[i] = v;
    }
    this.hasPrevious = true;
    if (o.timeOfDayWeight > 0) {
      const base = c * (o.differences ? 2 : 1);
      const day = 86_400_000;
      // Unit-circle coordinates span 2, a normalised value spans 1: halve them so weight 1 means "as wide as a value".
      const angle = Number.isFinite(time) ? (2 * Math.PI * (((time % day) + day) % day)) / day : Number.NaN;
      p[base] = Number.isNaN(angle) ? 0 : 0.5 * o.timeOfDayWeight * Math.sin(angle);
      p[base + 1] = Number.isNaN(angle) ? 0 : 0.5 * o.timeOfDayWeight * Math.cos(angle);
    }
    return p;
  }
}

/** One forest of the ensemble with its score mapping. */
class EnsembleMember {
  private forest: ThresholdedForest;
  private readonly mapping: SeriesDetectorOptions['mapping'];
  private readonly rawScale: number;
  private readonly quantile: RunningQuantile;
  private readonly minHistory: number;
  private pendingRaw = 0;
  private pendingQuantile = false;

  constructor(dims: number, shingleSize: number, o: SeriesDetectorOptions, seed: number) {
    this.forest = new ThresholdedForest({
      dimensions: dims,
      shingleSize,
      numberOfTrees: o.numberOfTrees,
      sampleSize: o.sampleSize,
      timeDecay: o.timeDecay,
      seed,
      zFactor: o.zFactor,
      horizon: o.history,
      ...(o.outputAfter === undefined ? {} : { outputAfter: o.outputAfter }),
    });
    this.mapping = o.mapping;
    this.rawScale = o.rawScale;
    this.quantile = new RunningQuantile(o.history, o.quantile);
    this.minHistory = o.minHistory;
  }

  /** The forest's own state (its configuration, sample and random generator), then the quantile's scores. */
  writeState(w: ByteWriter): void {
    writeBytes(w, this.forest.toState());
    this.quantile.writeState(w);
  }

  readState(r: ByteReader, what: string): void {
    const forest = ThresholdedForest.fromState(readBytes(r, what));
    // The forest must be the one these options build: its points are written by this detector.
    if (JSON.stringify(forest.forest.config) !== JSON.stringify(this.forest.forest.config) || JSON.stringify(forest.options) !== JSON.stringify(this.forest.options)) {
      throw corrupt(`${what} is not configured as the detector's options say`);
    }
    this.forest = forest;
    this.quantile.readState(r, `${what} past scores`);
  }

  /**
   * Scores `p` without learning from it; `learn(p)` must follow before the next row. Split so the
   * detector can explain a reported row by the forest it was judged by, before the row joins it.
   */
  judge(p: Float64Array): RowScore & { ratio: number } {
    const ready = this.forest.forest.isReady;
    const d = this.forest.assess(p);
    const raw = d.score;
    this.pendingRaw = raw;
    this.pendingQuantile = false;
    if (!ready) return { anomalyScore: 0, rawScore: raw, grade: 0, ratio: 0 };
    let mapped: number;
    let ratio = 0;
    switch (this.mapping) {
      case 'scaled':
        mapped = Math.min(1, Math.max(0, raw / this.rawScale));
        break;
      case 'grade':
        mapped = d.grade;
        break;
      case 'quantile': {
        const q = this.quantile.size >= Math.max(1, this.minHistory) ? this.quantile.value() : Number.NaN;
        // x/(1+x) keeps the order of every ratio (no ties at 1, unlike clipping), which NAB's
        // threshold sweep depends on.
        ratio = Number.isNaN(q) ? 0 : raw / Math.max(q, 1e-9);
        mapped = squash(ratio);
        // Learned after judging, so a row never vouches for itself.
        this.pendingQuantile = true;
        break;
      }
    }
    return { anomalyScore: mapped, rawScore: raw, grade: d.grade, ratio };
  }

  /** Learns the row `judge` just scored. */
  learn(p: Float64Array): void {
    if (this.pendingQuantile) this.quantile.add(this.pendingRaw);
    this.pendingQuantile = false;
    this.forest.learn(p, this.pendingRaw);
  }

  /** What the forest makes of `p` before learning it: see `explainPoint`. */
  explain(p: Float64Array, columns: number, differences: boolean): PointExplanation {
    return explainPoint(this.forest.forest, p, columns, differences);
  }
}

/**
 * Divides a row's ratio by a power of the median ratio of the series' past events (rows that beat
 * every ratio of the previous `eventWindow` rows). Reports 0 until `minEvents` events were seen.
 */
export class EventYardstick {
  private readonly bar: CoolDown;
  private readonly past: RunningQuantile;
  private readonly power: number;
  private readonly minEvents: number;

  constructor(o: Pick<SeriesDetectorOptions, 'eventWindow' | 'eventPower' | 'minEvents' | 'eventHistory'>) {
    this.bar = new CoolDown(o.eventWindow);
    this.past = new RunningQuantile(o.eventHistory, 0.5);
    this.power = o.eventPower;
    this.minEvents = o.minEvents;
  }

  writeState(w: ByteWriter): void {
    this.bar.writeState(w);
    this.past.writeState(w);
  }

  readState(r: ByteReader): void {
    this.bar.readState(r, 'event window');
    this.past.readState(r, 'past events');
  }

  apply(ratio: number): number {
    const out = this.past.size >= this.minEvents ? ratio / Math.max(this.past.value(), 1e-9) ** this.power : 0;
    // Judged against earlier events only, then (if it is one) remembered.
    const event = this.bar.apply(ratio);
    if (event > 0) this.past.add(event);
    return out;
  }
}

function squash(x: number): number {
  return x > 0 ? x / (1 + x) : 0;
}

/**
 * The q-quantile of the last `capacity` values: a sorted copy beside the arrival ring. The ring
 * grows as values come, so a large capacity costs memory only once it is used.
 */
export class RunningQuantile {
  private sorted: number[] = [];
  private ring: Float64Array;
  private head = 0;

  constructor(
    readonly capacity: number,
    readonly q: number,
  ) {
    this.ring = new Float64Array(Math.min(capacity, 1024));
  }

  get size(): number {
    return this.sorted.length;
  }

  value(): number {
    const n = this.sorted.length;
    if (n === 0) return Number.NaN;
    return this.sorted[Math.min(n - 1, Math.floor(this.q * n))] as number;
  }

  /** The values in the ring's order; the sorted copy is rebuilt from them. */
  writeState(w: ByteWriter): void {
    w.f64(this.head);
    writeNumbers(w, this.ring, 0, this.sorted.length);
  }

  readState(r: ByteReader, what: string): void {
    const head = readCount(r, `${what} position`, this.capacity - 1);
    const values = readNumbers(r, this.capacity, what);
    // Until the ring is full its next slot is its size.
    if (values.length < this.capacity && head !== values.length) throw corrupt(`${what}: position ${head} with ${values.length} values`);
    if (!values.every(Number.isFinite)) throw corrupt(`${what}: a value that is not finite`);
    this.ring = new Float64Array(Math.max(values.length, Math.min(this.capacity, 1024)));
    this.ring.set(values);
    this.head = head;
    this.sorted = Array.from(values.sort());
  }

  add(v: number): void {
    const n = this.sorted.length;
    if (n === this.capacity) {
      const old = this.ring[this.head] as number;
      this.sorted.splice(lowerBound(this.sorted, old), 1);
    } else if (n === this.ring.length) {
      const grown = new Float64Array(Math.min(this.capacity, 2 * n));
      grown.set(this.ring);
      this.ring = grown;
    }
    this.ring[this.head] = v;
    this.head = (this.head + 1) % this.capacity;
    this.sorted.splice(lowerBound(this.sorted, v), 0, v);
  }
}

function lowerBound(a: readonly number[], v: number): number {
  let lo = 0;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if ((a[mid] as number) < v) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Passes a score only if it beats every score of the last `rows` rows (suppressed ones included). */
export class CoolDown {
  private readonly past: Float64Array;
  private count = 0;

  constructor(readonly rows: number) {
    this.past = new Float64Array(Math.max(1, rows));
  }

  writeState(w: ByteWriter): void {
    w.f64(this.count);
    writeNumbers(w, this.past);
  }

  readState(r: ByteReader, what: string): void {
    this.count = readCount(r, `${what} rows`);
    readNumbersInto(r, this.past, what);
  }

  apply(score: number): number {
    const k = this.rows;
    if (k <= 0) return score;
    let peak = 0;
    const n = Math.min(this.count, k);
    for (let j = 0; j < n; j++) if ((this.past[j] as number) > peak) peak = this.past[j] as number;
    this.past[this.count % k] = score;
    this.count++;
    return score > peak ? score : 0;
  }
}

/**
 * Passes a reported (non-zero) score unless it comes within `rows` rows of the last score it
 * passed without beating it by the factor 1 + `margin`. Zeros pass through and count as rows.
 */
export class Refractory {
  private row = 0;
  private lastRow = Number.NEGATIVE_INFINITY;
  private last = 0;

  constructor(
    readonly rows: number,
    readonly margin: number,
  ) {}

  writeState(w: ByteWriter): void {
    w.f64(this.row);
    w.f64(this.lastRow);
    w.f64(this.last);
  }

  readState(r: ByteReader): void {
    this.row = readCount(r, 'refractory row');
    const lastRow = r.f64('refractory last row');
    if (!(lastRow === Number.NEGATIVE_INFINITY || (Number.isInteger(lastRow) && lastRow >= 0 && lastRow < this.row))) {
      throw corrupt(`refractory last row ${lastRow}`);
    }
    this.lastRow = lastRow;
    this.last = r.f64('refractory last score');
    if (!(this.last >= 0)) throw corrupt(`refractory last score ${this.last}`);
  }

  apply(score: number): number {
    const row = this.row++;
    if (score <= 0 || this.rows <= 0) return score;
    if (row - this.lastRow <= this.rows && score < this.last * (1 + this.margin)) return 0;
    this.lastRow = row;
    this.last = score;
    return score;
  }
}
