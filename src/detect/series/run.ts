import { type ParsedSeries, type BadRow, parseSeriesCsv } from './csv.js';
import { type ColumnRange, type RowScore, type SeriesDetectorOptions, SeriesDetector, seriesProbation } from './detector.js';

export interface ScoredSeries {
  readonly columns: readonly string[];
  readonly timestamps: readonly string[];
  readonly values: readonly (readonly number[])[];
  readonly scores: readonly RowScore[];
  readonly bad: readonly BadRow[];
  /** Rows whose timestamp came earlier than a row before them: the time lookups started again there. */
  readonly timeRestarts: number;
}

/**
 * Epoch milliseconds of a timestamp cell for the time-of-day feature, the daily recurrence and the weekly view:
 * ISO-like text (a space or "T" between date and time; no zone means UTC), or epoch
 * seconds/milliseconds as a number. NaN when unrecognised: they then stay neutral rather than
 * failing the row.
 */
export function parseTime(text: string): number {
  if (/^\d+(\.\d+)?$/.test(text)) {
    const n = Number(text);
    // Ten digits of seconds reach 2286; anything larger is milliseconds.
    return n < 1e10 ? n * 1000 : n;
  }
  const m = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(Z|[+-]\d{2}:?\d{2})?$/.exec(text);
  if (m) return Date.parse(`${m[1]}T${m[2]}${m[3] ?? 'Z'}`);
  return Date.parse(text);
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
 * Scores every good row of a parsed series in order. Besides each column's min and max, the
 * detector is told the series' probation period (NAB's: 15% of its good rows, at most 750), as NAB
 * tells every detector.
 */
export function scoreParsedSeries(parsed: ParsedSeries, options: SeriesDetectorOptions): ScoredSeries {
  const columns = parsed.columns.length;
  const values = parsed.rows.map((r) => r.values);
  const detector = new SeriesDetector(columns, options, columnRanges(values, columns), seriesProbation(values.length));
  const needTime = options.timeOfDayWeight > 0 || options.recurrenceDays > 0 || options.weekly;
  const scores = parsed.rows.map((r) => detector.process(r.values, needTime ? parseTime(r.timestamp) : Number.NaN));
  return { columns: parsed.columns, timestamps: parsed.rows.map((r) => r.timestamp), values, scores, bad: parsed.bad, timeRestarts: detector.timeRestarts };
}

export function scoreSeriesText(text: string, fileName: string, options: SeriesDetectorOptions): ScoredSeries {
  return scoreParsedSeries(parseSeriesCsv(text, fileName), options);
}

/** `timestamp,<value columns>,anomaly_score,raw_score,grade`; with one `value` column, NAB's layout plus two. */
export function* formatScoredSeries(s: ScoredSeries): Generator<string> {
  yield `timestamp,${s.columns.map(csvCell).join(',')},anomaly_score,raw_score,grade\n`;
  for (let i = 0; i < s.scores.length; i++) {
    const r = s.scores[i] as RowScore;
    const vals = (s.values[i] as readonly number[]).map(String).join(',');
    // Full precision: rounding would tie scores, and NAB ranks every distinct score.
    yield `${csvCell(s.timestamps[i] as string)},${vals},${r.anomalyScore},${r.rawScore},${r.grade}\n`;
  }
}

function csvCell(text: string): string {
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}
