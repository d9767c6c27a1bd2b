import { MAX_POINT_VALUE } from './limits.js';

/** A row of a `timestamp,value[,...]` series; `values` has one number per value column. */
export interface SeriesRow {
  readonly timestamp: string;
  readonly values: readonly number[];
  /** 1-based line in the file, for messages. */
  readonly line: number;
}

export interface BadRow {
  readonly line: number;
  /** `file:line: reason`, for people. */
  readonly message: string;
  readonly reason: string;
  /** The row as it was in the file (without its line ending; invalid UTF-8 bytes as U+FFFD), so it can be kept. */
  readonly text: string;
}

/** A cell quoted in a message; a huge one is cut, so a bad row cannot flood the terminal. */
export function quoteCell(cell: string): string {
  return JSON.stringify(cell.length > 80 ? `${cell.slice(0, 80)}…` : cell);
}

export interface ParsedSeries {
  /** Names of the value columns (every column after the first). */
  readonly columns: readonly string[];
  readonly rows: readonly SeriesRow[];
  readonly bad: readonly BadRow[];
}

export class SeriesFormatError extends Error {
  override name = 'SeriesFormatError';
}

/**
 * Splits one CSV line; double-quoted fields (with "" escapes) are allowed because spreadsheets
 * quote timestamps, but a quoted newline is not (a series row is one line).
 */
export function splitCsvLine(line: string): string[] {
  if (!line.includes('"')) return line.split(',');
  const out: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i] as string;
    if (quoted) {
      if (c === '"') {
        if (line[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      out.push(field);
      field = '';
    } else field += c;
  }
  out.push(field);
  return out;
}

/**
 * Parses a series CSV. The header is required and must have at least two columns; every later
 * column is a numeric dimension. A malformed row is reported (file and line) and skipped, since
 * one bad line in a long export should not cost the rest of the series.
 */
export function parseSeriesCsv(text: string, fileName: string): ParsedSeries {
  // Old Mac exports end lines with CR alone.
  const lines = text.includes('\n') ? text.split('\n') : text.split('\r');
  let first = 0;
  while (first < lines.length && (lines[first] as string).trim() === '') first++;
  if (first >= lines.length) throw new SeriesFormatError(`${fileName}: empty file (expected a "timestamp,value" header)`);
  const cells0 = splitCsvLine(stripCr(lines[first] as string).replace(/^\uFEFF/, '')).map((h) => h.trim());
  // Spreadsheets often end every line with a comma: an empty last column, named nothing, is no value.
  let named = cells0.length;
  while (named > 2 && cells0[named - 1] === '') named--;
  const header = cells0.slice(0, named);
  const trailingEmpty = cells0.length - named;
  if (header.length < 2) {
    throw new SeriesFormatError(`${fileName}:${first + 1}: header needs a timestamp column and at least one value column`);
  }
  if (header.slice(1).some((h) => /^-?\d+(\.\d+)?([eE][-+]?\d+)?$/.test(h))) {
    throw new SeriesFormatError(`${fileName}:${first + 1}: the first line looks like data, not a header`);
  }
  const width = header.length;
  const rows: SeriesRow[] = [];
  const bad: BadRow[] = [];
  const reject = (line: number, text: string, reason: string) => bad.push({ line, message: `${fileName}:${line}: ${reason}`, reason, text });
  for (let i = first + 1; i < lines.length; i++) {
    const raw = stripCr(lines[i] as string);
    if (raw.trim() === '') continue;
    const line = i + 1;
    const cells = splitCsvLine(raw);
    if (trailingEmpty > 0 && cells.length === width + trailingEmpty && cells.slice(width).every((c) => c.trim() === '')) cells.length = width;
    if (cells.length !== width) {
      reject(line, raw, `expected ${width} columns, found ${cells.length}`);
      continue;
    }
    const timestamp = (cells[0] as string).trim();
    if (timestamp === '') {
      reject(line, raw, 'empty timestamp');
      continue;
    }
    const values: number[] = [];
    let error: string | undefined;
    for (let c = 1; c < width; c++) {
      const cell = (cells[c] as string).trim();
      const v = cell === '' ? Number.NaN : Number(cell);
      if (!Number.isFinite(v)) {
        error = `column ${quoteCell(header[c] as string)} is not a finite number: ${quoteCell(cell)}`;
        break;
      }
      // The forests work in float32; half its range leaves room for differences of two values.
      if (!(Math.abs(v) <= MAX_POINT_VALUE)) {
        error = `column ${quoteCell(header[c] as string)} is beyond what the forests hold (|x| <= ${MAX_POINT_VALUE}): ${quoteCell(cell)}`;
        break;
      }
      values.push(v);
    }
    if (error !== undefined) {
      reject(line, raw, error);
      continue;
    }
    rows.push({ timestamp, values, line });
  }
  return { columns: header.slice(1), rows, bad };
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}
