import { type ParsedSeries, type BadRow, type SeriesRow, parseSeriesCsv } from './csv.js';
import { describeExplanation } from './explain.js';
import { type ColumnRange, type RowScore, type SeriesDetectorOptions, SeriesDetector, seriesProbation } from './detector.js';

export interface ScoredSeries {
  readonly columns: readonly string[];
  readonly timestamps: readonly string[];
  readonly values: readonly (readonly number[])[];
  readonly scores: readonly RowScore[];
  readonly bad: readonly BadRow[];
  /** Rows whose timestamp came more than 6 hours earlier than a row before them: the time lookups started again there. */
  readonly timeRestarts: number;
  /** Rows up to 6 hours late (see `SeriesDetector.lateRows`). */
  readonly lateRows: number;
  /** Rows stamped more than 6 hours ahead of the rows around them (see `SeriesDetector.aheadRows`). */
  readonly aheadRows: number;
  /** Whether the rows were put in time order, and what kept them from it. */
  readonly order: TimeOrder;
  /** Whether the configuration reads the timestamps (time of day, daily recurrence, weekly view). */
  readonly timeUsed: boolean;
  /** Rows the detector refused (a value beyond what its forests hold once scaled): not scored, not in `scores`. */
  readonly refused: readonly { readonly row: SeriesRow; readonly time: number; readonly reason: string }[];
}

const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
// Year first, so one- or two-digit months, days and hours are unambiguous (2024/1/5 9:00).
const ISO_LIKE = /^(\d{4})([-/])(\d{1,2})\2(\d{1,2})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2})(\.\d+)?)?)?\s*(Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?$/i;

/**
 * Epoch milliseconds of a timestamp cell, for the time order of the rows, the time-of-day feature,
 * the daily recurrence and the weekly view. Read strictly, so that a time never depends on the
 * machine's time zone or on a guess:
 * - ISO 8601 dates and times: `2024-01-05T13:00:00Z`, `2024-01-05 13:00`, `2024/01/05 13:00:00.5`,
 *   `2024/1/5 9:00`, `2024-01-05` (midnight), with a zone `Z`, `UTC`, `GMT`, `+01:00`, `+0100` or `+01`; no zone means UTC;
 * - epoch time as a plain number: seconds below 1e10 (before 2286), milliseconds below 1e14,
 *   microseconds below 1e17, nanoseconds above.
 * NaN for anything else, including dates that do not exist (2024-02-30) and day-first dates.
 */
export function parseTime(text: string): number {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) {
    const n = Number(t);
    if (n < 1e10) return n * 1000;
    if (n < 1e14) return n;
    if (n < 1e17) return n / 1000;
    return n / 1e6;
  }
  const m = ISO_LIKE.exec(t);
  if (!m) return Number.NaN;
  const [year, month, day] = [Number(m[1]), Number(m[3]), Number(m[4])];
  const [hour, minute, second] = [Number(m[5] ?? 0), Number(m[6] ?? 0), Number(m[7] ?? 0)];
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  const monthDays = month === 2 && !leap ? 28 : DAYS_IN_MONTH[month - 1];
  if (monthDays === undefined || day < 1 || day > monthDays || hour > 23 || minute > 59 || second > 59) return Number.NaN;
  let offsetMinutes = 0;
  const zone = (m[9] ?? 'Z').toUpperCase();
  if (zone !== 'Z' && zone !== 'UTC' && zone !== 'GMT') {
    const digits = zone.slice(1).replace(':', '');
    const hours = Number(digits.slice(0, 2));
    const minutes = digits.length > 2 ? Number(digits.slice(2)) : 0;
    if (hours > 14 || minutes > 59) return Number.NaN;
    offsetMinutes = (zone[0] === '-' ? -1 : 1) * (hours * 60 + minutes);
  }
  const fraction = m[8] === undefined ? 0 : Number(m[8]) * 1000;
  return Date.UTC(year, month - 1, day, hour, minute, second) + fraction - offsetMinutes * 60_000;
}

/** What `orderByTime` found. */
export interface TimeOrder {
  /** Rows whose timestamp `parseTime` could not read; with any, the rows keep the file's order. */
  readonly unreadable: number;
  /** The first of them, for the message. */
  readonly firstUnreadable?: SeriesRow;
  /** Rows that came earlier in time than the row before them in the file (0: in order). */
  readonly outOfOrder: number;
  /** Rows, once in time order, with the same time as the row before them. */
  readonly repeated: number;
}

/**
 * Puts the rows in time order (stably) when every timestamp can be read: exports such as
 * `aws cloudwatch get-metric-data` list the newest first, and a forest that learns a series
 * backwards scores something else. Times are parsed once here and returned beside the rows.
 */
export function orderByTime(rows: readonly SeriesRow[]): { rows: readonly SeriesRow[]; times: Float64Array; order: TimeOrder } {
  const times = new Float64Array(rows.length);
  let unreadable = 0;
  let firstUnreadable: SeriesRow | undefined;
  let outOfOrder = 0;
  for (let i = 0; i < rows.length; i++) {
    const t = parseTime(rows[i]!.timestamp);
    times[i] = t;
    if (Number.isNaN(t)) {
      if (unreadable++ === 0) firstUnreadable = rows[i];
    } else if (i > 0 && t < times[i - 1]!) outOfOrder++;
  }
  let ordered = rows;
  let orderedTimes = times;
  if (unreadable === 0 && outOfOrder > 0) {
    const index = Array.from(rows.keys()).sort((a, b) => times[a]! - times[b]! || a - b);
    ordered = index.map((i) => rows[i]!);
    orderedTimes = Float64Array.from(index, (i) => times[i]!);
  }
  let repeated = 0;
  for (let i = 1; i < orderedTimes.length; i++) if (orderedTimes[i] === orderedTimes[i - 1]) repeated++;
  return { rows: ordered, times: orderedTimes, order: { unreadable, ...(firstUnreadable ? { firstUnreadable } : {}), outOfOrder, repeated } };
}

/** Column ranges over the whole series: the only knowledge of the future the detector gets. */
export function columnRanges(values: readonly (readonly number[])[], columns: number): ColumnRange[] {
  const out = Array.from({ length: columns }, () => ({ min: Number.POSITIVE_INFINITY, max: Number.NEGATIVE_INFINITY }));
  for (const row of values) {
    for (let c = 0; c < columns; c++) {
      const v = row[c] as number;
      const r = out[c] as { min: number; max: number };
      if (v < r.min) r.min = v;
      if (v > r.max) r.max = v;
    }
  }
  return out;
}

/**
 * Scores every good row of a parsed series, in time order when its timestamps allow (see
 * `orderByTime`). Besides each column's min and max, the detector is told the series' probation
 * period (NAB's: 15% of its good rows, at most 750), as NAB tells every detector.
 */
export function scoreParsedSeries(parsed: ParsedSeries, options: SeriesDetectorOptions): ScoredSeries {
  const ordered = orderByTime(parsed.rows);
  return scoreRowsWith(detectorForRows(parsed.columns.length, ordered.rows, options), parsed, ordered);
}

/** A detector told what is known of these rows' future: each column's min and max, and their probation period. */
export function detectorForRows(columns: number, rows: readonly SeriesRow[], options: SeriesDetectorOptions): SeriesDetector {
  const values = rows.map((r) => r.values);
  // An empty series has no ranges (nothing is scored).
  return new SeriesDetector(columns, options, values.length > 0 ? columnRanges(values, columns) : undefined, seriesProbation(values.length));
}

/**
 * Scores rows already in the order they are to be scored with a detector the caller built or
 * restored (a detector restored from an earlier run's state carries on where it stopped). The
 * counts of restarts, late rows and rows stamped ahead are those of these rows only.
 */
export function scoreRowsWith(detector: SeriesDetector, parsed: Pick<ParsedSeries, 'columns' | 'bad'>, ordered: { readonly rows: readonly SeriesRow[]; readonly times: Float64Array; readonly order: TimeOrder }): ScoredSeries {
  const { rows, times, order } = ordered;
  const o = detector.options;
  const needTime = o.timeOfDayWeight > 0 || o.recurrenceDays > 0 || o.weekly;
  const before = { restarts: detector.timeRestarts, late: detector.lateRows, ahead: detector.aheadRows };
  const scores: RowScore[] = [];
  const scoredRows: SeriesRow[] = [];
  const refused: { row: SeriesRow; time: number; reason: string }[] = [];
  for (const [i, r] of rows.entries()) {
    try {
      scores.push(detector.process(r.values, needTime ? times[i]! : Number.NaN));
      scoredRows.push(r);
    } catch (e) {
      // A refused row changes nothing in the detector: it is reported, and the rows after it are scored.
      if (!(e instanceof RangeError)) throw e;
      refused.push({ row: r, time: times[i]!, reason: e.message });
    }
  }
  return {
    columns: parsed.columns,
    timestamps: scoredRows.map((r) => r.timestamp),
    values: scoredRows.map((r) => r.values),
    scores,
    bad: parsed.bad,
    timeRestarts: detector.timeRestarts - before.restarts,
    lateRows: detector.lateRows - before.late,
    aheadRows: detector.aheadRows - before.ahead,
    order,
    timeUsed: needTime,
    refused,
  };
}

export function scoreSeriesText(text: string, fileName: string, options: SeriesDetectorOptions): ScoredSeries {
  return scoreParsedSeries(parseSeriesCsv(text, fileName), options);
}

/**
 * `timestamp,<value columns>,anomaly_score,raw_score,grade`; with one `value` column, NAB's layout
 * plus two. With `explain`, a last column, `reason`: why a reported row stands out (empty on the
 * others).
 */
export function* formatScoredSeries(s: ScoredSeries, how: { readonly explain?: boolean } = {}): Generator<string> {
  const explain = how.explain === true;
  yield `timestamp,${s.columns.map(csvCell).join(',')},anomaly_score,raw_score,grade${explain ? ',reason' : ''}\n`;
  for (let i = 0; i < s.scores.length; i++) {
    const r = s.scores[i] as RowScore;
    const row = s.values[i] as readonly number[];
    const vals = row.map(String).join(',');
    let reason = '';
    if (explain && r.explanation !== undefined) {
      const e = r.explanation;
      reason = `,${csvCell(describeExplanation(e, s.columns[e.column] as string, row[e.column] as number))}`;
    } else if (explain) reason = ',';
    // Full precision: rounding would tie scores, and NAB ranks every distinct score.
    yield `${csvCell(s.timestamps[i] as string)},${vals},${r.anomalyScore},${r.rawScore},${r.grade}${reason}\n`;
  }
}

function csvCell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
