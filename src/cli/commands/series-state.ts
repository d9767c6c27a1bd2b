import { readFile, stat } from 'node:fs/promises';
import { crc32 } from '../../rcf/bytes.js';
import { RcfStateError } from '../../rcf/errors.js';
import { SeriesDetector } from '../../detect/series/detector.js';
import { LATE_ROW_MS } from '../../detect/series/recent-rows.js';
import type { SeriesRow } from '../../detect/series/csv.js';
import { CliError } from '../errors.js';

/**
 * `score-series --state FILE`: the detector of earlier runs over a series, and which rows they
 * scored. Layout: the magic line, the length of the run's description (u32, little-endian), the
 * description (JSON), its CRC-32 (u32), then the detector's own state (`SeriesDetector.toState`,
 * versioned and checksummed).
 */
const MAGIC = new TextEncoder().encode('flowcut score-series state\n');
const RUN_LAYOUT = 1;
/** A state larger than this is refused before it is read (a detector of the defaults over a week of minutes is a few MB). */
export const MAX_STATE_BYTES = 1024 * 1024 * 1024;
const MAX_DESCRIPTION_BYTES = 64 * 1024 * 1024;
/** How far back the times of scored rows are remembered, to tell a row scored before from a late one. */
export const REMEMBERED_MS = 7 * 24 * 3_600_000;
/** Distinct times remembered at most (the oldest go first): a week of one row a second. */
export const MAX_REMEMBERED_TIMES = 604_800;

export interface SeriesRun {
  readonly detector: SeriesDetector;
  /** The series' value columns, by name, as the rows scored so far had them. */
  readonly columns: readonly string[];
  /** Time (epoch ms) and timestamp cell of the latest row scored. */
  readonly lastTime: number;
  readonly lastTimestamp: string;
  /**
   * The time later rows are judged against: that of the latest row the detector kept for its time
   * lookups (not a row stamped ahead, nor one held at the end of a run until the next row says
   * whether it begins a gap); without those lookups, the latest row's.
   */
  readonly reference: number;
  /**
   * Times of the rows scored, or rejected as too late, from `REMEMBERED_MS` before `reference`
   * on, ascending, and how many rows had each.
   */
  readonly times: readonly number[];
  readonly counts: readonly number[];
  /** Rows scored over all runs. */
  readonly rows: number;
}

export function encodeSeriesRun(run: SeriesRun): Uint8Array {
  const description = new TextEncoder().encode(
    JSON.stringify({
      layout: RUN_LAYOUT,
      columns: run.columns,
      lastTime: run.lastTime,
      lastTimestamp: run.lastTimestamp,
      reference: run.reference,
      times: run.times,
      counts: run.counts,
      rows: run.rows,
    }),
  );
  const detector = run.detector.toState();
  const start = MAGIC.length + 4;
  const out = new Uint8Array(start + description.length + 4 + detector.length);
  const view = new DataView(out.buffer);
  out.set(MAGIC, 0);
  view.setUint32(MAGIC.length, description.length, true);
  out.set(description, start);
  view.setUint32(start + description.length, crc32(description), true);
  out.set(detector, start + description.length + 4);
  return out;
}

/** The run kept in `bytes`; `name` is for messages. Anything else is a CliError that says what is wrong. */
export function decodeSeriesRun(bytes: Uint8Array, name: string): SeriesRun {
  const bad = (why: string): CliError => new CliError(`${name} is not a usable score-series state: ${why}`);
  if (bytes.length < MAGIC.length + 4 || !MAGIC.every((b, i) => bytes[i] === b)) throw bad('it does not start as one (was it written by score-series --state?)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const length = view.getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4;
  if (length > MAX_DESCRIPTION_BYTES || start + length + 4 > bytes.length) throw bad(`its description claims ${length} bytes, ${Math.max(0, bytes.length - start - 4)} remain`);
  if (crc32(bytes, start, start + length) !== view.getUint32(start + length, true)) throw bad('its description fails its checksum (the file was changed or damaged)');
  let d: Record<string, unknown>;
  try {
    const parsed: unknown = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(start, start + length)));
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new TypeError('not an object');
    d = parsed as Record<string, unknown>;
  } catch (e) {
    throw bad(`its description does not read (${(e as Error).message})`);
  }
  if (d.layout !== RUN_LAYOUT) throw bad(`its layout ${JSON.stringify(d.layout)} is not this flowcut's (${RUN_LAYOUT})`);
  const columns = d.columns;
  if (!Array.isArray(columns) || columns.length === 0 || !columns.every((c) => typeof c === 'string')) throw bad('its columns are not a list of names');
  const finite = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
  if (!finite(d.lastTime) || !finite(d.reference) || d.reference > d.lastTime) throw bad('the times of its last rows are not numbers in order');
  if (typeof d.lastTimestamp !== 'string') throw bad('the timestamp of its last row is not text');
  if (typeof d.rows !== 'number' || !Number.isSafeInteger(d.rows) || d.rows < 1) throw bad('its row count is not a positive integer');
  const times = d.times;
  const counts = d.counts;
  if (!Array.isArray(times) || !Array.isArray(counts) || times.length !== counts.length || times.length > MAX_REMEMBERED_TIMES) throw bad('its remembered times are not two lists of one length');
  for (let i = 0; i < times.length; i++) {
    if (!finite(times[i]) || (i > 0 && !(times[i] > times[i - 1])) || times[i] > d.lastTime) throw bad('its remembered times are not ascending times up to its latest row');
    if (typeof counts[i] !== 'number' || !Number.isSafeInteger(counts[i]) || counts[i] < 1) throw bad('its remembered counts are not positive integers');
  }
  let detector: SeriesDetector;
  try {
    detector = SeriesDetector.fromState(bytes.subarray(start + length + 4));
  } catch (e) {
    if (e instanceof RcfStateError) throw bad(e.message);
    throw e;
  }
  if (detector.columns !== columns.length) throw bad(`its detector has ${detector.columns} columns, its description ${columns.length}`);
  return {
    detector,
    columns: columns as string[],
    lastTime: d.lastTime,
    lastTimestamp: d.lastTimestamp,
    reference: d.reference,
    times: times as number[],
    counts: counts as number[],
    rows: d.rows,
  };
}

/** The run kept in `path`, or undefined when there is no such file (the first run). */
export async function readSeriesRun(path: string): Promise<SeriesRun | undefined> {
  const cannot = (e: unknown): CliError => new CliError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  let size: number;
  try {
    size = (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw cannot(e);
  }
  if (size > MAX_STATE_BYTES) throw new CliError(`${path} is not a usable score-series state: ${size} bytes, more than a state can be (${MAX_STATE_BYTES})`);
  const bytes = await readFile(path).catch((e: unknown) => {
    throw cannot(e);
  });
  return decodeSeriesRun(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}

/** Which of a run's rows (in time order) are scored, and what becomes of the others. */
export interface RowsToScore {
  /** Indices of the rows to score, ascending. */
  readonly fresh: readonly number[];
  /** Rows an earlier run scored or rejected as too late (by the remembered times), left out. */
  readonly scoredBefore: number;
  /** Rows more than `REMEMBERED_MS` before the reference: taken as scored by an earlier run. */
  readonly beyondMemory: number;
  /** Indices of rows not scored before that come more than 6 hours before the reference: too late to score in time order. */
  readonly tooLate: readonly number[];
}

/**
 * Splits a run's rows (in time order, `times` their epoch ms) against what earlier runs scored. A
 * row at a remembered time is one scored before (as many as were scored at that time); any other
 * row after the reference is new; one at most 6 hours before it is new too, and scored as the late
 * row it is; one earlier than that cannot be scored in time order any more (it would start the
 * detector's time lookups again), so it is reported and kept as a reject. A detector without
 * those lookups scores every row it has not scored, whatever its time.
 */
export function rowsToScore(times: Float64Array, previous: SeriesRun | undefined): RowsToScore {
  if (previous === undefined) return { fresh: Array.from(times.keys()), scoredBefore: 0, beyondMemory: 0, tooLate: [] };
  const left = new Map<number, number>();
  previous.times.forEach((t, i) => left.set(t, previous.counts[i] as number));
  // At the cap on remembered times, the memory reaches back to the oldest time kept, not 7 days.
  const from = previous.times.length >= MAX_REMEMBERED_TIMES ? Math.max(previous.times[0] as number, previous.reference - REMEMBERED_MS) : previous.reference - REMEMBERED_MS;
  const fresh: number[] = [];
  const tooLate: number[] = [];
  let scoredBefore = 0;
  let beyondMemory = 0;
  for (let i = 0; i < times.length; i++) {
    const t = times[i]!;
    const remembered = left.get(t) ?? 0;
    if (remembered > 0) {
      left.set(t, remembered - 1);
      scoredBefore++;
    } else if (t >= previous.reference - LATE_ROW_MS || (!previous.detector.keepsTimedRows && t >= from)) fresh.push(i);
    else if (t >= from) tooLate.push(i);
    else beyondMemory++;
  }
  return { fresh, scoredBefore, beyondMemory, tooLate };
}

/**
 * The run after `scored` (rows in the order they were scored, `times` theirs) joined `previous`;
 * `rejectedTimes`: the times of this run's rows rejected as too late, remembered so that later
 * exports repeating them do not reject them again.
 */
export function nextSeriesRun(
  detector: SeriesDetector,
  columns: readonly string[],
  scored: readonly SeriesRow[],
  times: readonly number[],
  previous: SeriesRun | undefined,
  rejectedTimes: readonly number[] = [],
): SeriesRun | undefined {
  if ((scored.length === 0 && rejectedTimes.length === 0) || (previous === undefined && scored.length === 0)) return undefined;
  const counts = new Map<number, number>();
  previous?.times.forEach((t, i) => counts.set(t, previous.counts[i] as number));
  let lastTime = previous?.lastTime ?? Number.NEGATIVE_INFINITY;
  let lastTimestamp = previous?.lastTimestamp ?? '';
  for (const [i, t] of times.entries()) {
    counts.set(t, (counts.get(t) ?? 0) + 1);
    if (t >= lastTime) {
      lastTime = t;
      lastTimestamp = (scored[i] as SeriesRow).timestamp;
    }
  }
  for (const t of rejectedTimes) counts.set(t, (counts.get(t) ?? 0) + 1);
  const known = [...counts.keys()].sort((a, b) => a - b);
  // Rows stamped ahead must not make every later row look late: the detector knows which rows it
  // kept; without its time lookups, the latest row that came at most 6 hours after the one before.
  const kept = detector.lastKeptTime;
  let reference = lastTime;
  if (Number.isFinite(kept)) reference = Math.min(kept, lastTime);
  else if (known.length > 1) {
    reference = known[0] as number;
    for (let i = 1; i < known.length; i++) if ((known[i] as number) - (known[i - 1] as number) <= LATE_ROW_MS) reference = known[i] as number;
  }
  const remembered = known.filter((t) => t >= reference - REMEMBERED_MS).slice(-MAX_REMEMBERED_TIMES);
  return {
    detector,
    columns,
    lastTime,
    lastTimestamp,
    reference,
    times: remembered,
    counts: remembered.map((t) => counts.get(t) as number),
    rows: (previous?.rows ?? 0) + scored.length,
  };
}
