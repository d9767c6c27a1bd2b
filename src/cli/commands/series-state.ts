import { readFile, stat } from 'node:fs/promises';
import { RcfStateError } from '../../rcf/errors.js';
import { SeriesDetector } from '../../detect/series/detector.js';
import { CliError } from '../errors.js';

/**
 * `score-series --state FILE`: the detector of earlier runs over a series, and where they stopped.
 * Layout: the magic line, the length of the run's description (u32, little-endian), the description
 * (JSON), then the detector's own state (`SeriesDetector.toState`, versioned and checksummed).
 */
const MAGIC = new TextEncoder().encode('flowcut score-series state\n');
const RUN_LAYOUT = 1;
/** A state larger than this is refused before it is read (a detector of the defaults over a week of minutes is a few MB). */
export const MAX_STATE_BYTES = 1024 * 1024 * 1024;
const MAX_DESCRIPTION_BYTES = 16 * 1024 * 1024;

export interface SeriesRun {
  readonly detector: SeriesDetector;
  /** The series' value columns, by name, as the rows scored so far had them. */
  readonly columns: readonly string[];
  /** Time (epoch ms) and timestamp cell of the last row scored: later runs score the rows after it. */
  readonly lastTime: number;
  readonly lastTimestamp: string;
  /** Rows scored over all runs. */
  readonly rows: number;
}

export function encodeSeriesRun(run: SeriesRun): Uint8Array {
  const description = new TextEncoder().encode(
    JSON.stringify({ layout: RUN_LAYOUT, columns: run.columns, lastTime: run.lastTime, lastTimestamp: run.lastTimestamp, rows: run.rows }),
  );
  const detector = run.detector.toState();
  const out = new Uint8Array(MAGIC.length + 4 + description.length + detector.length);
  out.set(MAGIC, 0);
  new DataView(out.buffer).setUint32(MAGIC.length, description.length, true);
  out.set(description, MAGIC.length + 4);
  out.set(detector, MAGIC.length + 4 + description.length);
  return out;
}

/** The run kept in `bytes`; `name` is for messages. Anything else is a CliError that says what is wrong. */
export function decodeSeriesRun(bytes: Uint8Array, name: string): SeriesRun {
  const bad = (why: string): CliError => new CliError(`${name} is not a usable score-series state: ${why}`);
  if (bytes.length < MAGIC.length + 4 || !MAGIC.every((b, i) => bytes[i] === b)) throw bad('it does not start as one (was it written by score-series --state?)');
  const length = new DataView(bytes.buffer, bytes.byteOffset).getUint32(MAGIC.length, true);
  const start = MAGIC.length + 4;
  if (length > MAX_DESCRIPTION_BYTES || start + length > bytes.length) throw bad(`its description claims ${length} bytes, ${bytes.length - start} remain`);
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
  if (typeof d.lastTime !== 'number' || !Number.isFinite(d.lastTime)) throw bad('the time of its last row is not a number');
  if (typeof d.lastTimestamp !== 'string') throw bad('the timestamp of its last row is not text');
  if (typeof d.rows !== 'number' || !Number.isSafeInteger(d.rows) || d.rows < 1) throw bad('its row count is not a positive integer');
  let detector: SeriesDetector;
  try {
    detector = SeriesDetector.fromState(bytes.subarray(start + length));
  } catch (e) {
    if (e instanceof RcfStateError) throw bad(e.message);
    throw e;
  }
  if (detector.columns !== columns.length) throw bad(`its detector has ${detector.columns} columns, its description ${columns.length}`);
  return { detector, columns: columns as string[], lastTime: d.lastTime, lastTimestamp: d.lastTimestamp, rows: d.rows };
}

/** The run kept in `path`, or undefined when there is no such file (the first run). */
export async function readSeriesRun(path: string): Promise<SeriesRun | undefined> {
  const cannot = (e: unknown): CliError => new CliError(`cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) throw new CliError(`cannot read ${path}: not a regular file`);
    size = s.size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    if (e instanceof CliError) throw e;
    throw cannot(e);
  }
  if (size > MAX_STATE_BYTES) throw new CliError(`${path} is not a usable score-series state: ${size} bytes, more than a state can be (${MAX_STATE_BYTES})`);
  const bytes = await readFile(path).catch((e: unknown) => {
    throw cannot(e);
  });
  return decodeSeriesRun(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
}
