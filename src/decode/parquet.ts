import { gunzipSync } from 'node:zlib';
import { parquetMetadata, parquetRead, snappyUncompress, type FileMetaData, type RowGroup } from 'hyparquet';
import { FlowBatch, type Origin } from '../flowlog/batch.js';
import { fieldByName, isAddressField, maxValueOf } from '../flowlog/fields.js';
import { FlowFormat } from '../flowlog/format.js';
import type { LineParser } from '../flowlog/parser.js';
import { ValueCheck } from '../flowlog/value-check.js';
import { DecodeError } from './errors.js';
import { scanChunkPages } from './parquet-pages.js';
import { loadZstd, zstdDecompress } from './zstd.js';

export function isParquet(buf: Uint8Array): boolean {
  return buf.length >= 8 && buf[0] === 0x50 && buf[1] === 0x41 && buf[2] === 0x52 && buf[3] === 0x31;
}

/** Rows per batch handed to the parser, and per read of a row group too big to read whole. */
const ROWS_PER_READ = 65536;

/**
 * A row group is read whole when it has at most this many rows and its flow columns' pages
 * inflate to at most this many bytes (within the inflation cap): each page is then inflated and
 * decoded once, where reads of ROWS_PER_READ rows inflate a page again for every read it covers
 * (flowcut's archive files have one page per column chunk, up to 2^20 rows and about 40 MiB per
 * group). A bigger group is read in parts, so that its decoded values need not all be held at once.
 */
const WHOLE_GROUP_ROWS = 1 << 20;
const WHOLE_GROUP_BYTES = 128 * 1024 * 1024;

/**
 * The most values one page may claim: a page is decoded whole whatever part of it a read needs,
 * and a run-length page of one byte can claim millions. Four times the archive's largest page;
 * DuckDB writes pages of 1.1 million values when asked for row groups of 2 million rows.
 */
const MAX_PAGE_VALUES = 1 << 22;

/**
 * The most rows one object may claim (2^28): a run-length page of one byte can stand for a million
 * rows, so an object's size does not bound the rows it yields. Beyond what any flow-log object
 * under the inflation cap holds (flowcut's archive: about 6 bytes per record).
 */
const MAX_OBJECT_ROWS = 1 << 28;

/** One column's decoded pages for a read, in row order (pages may reach outside the read). */
interface ColumnPages {
  readonly starts: number[];
  readonly data: ArrayLike<unknown>[];
}

/**
 * Decodes a flow-log Parquet object (AWS's S3 Parquet delivery: underscore column names, INT_32,
 * INT_64 and STRING types, GZIP pages; SNAPPY and ZSTD too). Columns that are not flow-log fields are ignored; the
 * record format is the flow-log columns in file order.
 */
export async function decodeParquet(buf: Buffer, origin: Origin, parser: LineParser, maxInflatedBytes: number): Promise<void> {
  const file = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength) as ArrayBuffer;
  let metadata: FileMetaData;
  try {
    metadata = parquetMetadata(file);
  } catch (err) {
    throw new DecodeError(`not a readable Parquet file: ${(err as Error).message}`);
  }
  const flowColumns = flowColumnsOf(metadata);
  checkColumnTypes(metadata, flowColumns);
  const format = FlowFormat.fromNames(flowColumns);
  const inflation = new CappedInflation(maxInflatedBytes);
  if (metadata.row_groups.some((g) => g.columns.some((c) => c.meta_data?.codec === 'ZSTD'))) await loadZstd();
  const bytes = new Uint8Array(file);
  const index = new Map(flowColumns.map((c, i) => [c, i]));
  let claimed = 0;
  const rowsOf = metadata.row_groups.map((group) => {
    const rows = Number(group.num_rows);
    if (!Number.isSafeInteger(rows) || rows < 0) throw new DecodeError(`Parquet row group at row ${claimed} claims ${group.num_rows} rows`);
    claimed += rows;
    return rows;
  });
  if (claimed > MAX_OBJECT_ROWS) throw new DecodeError(`Parquet row groups claim ${claimed} rows, more than the ${MAX_OBJECT_ROWS} one object may hold; refused`);
  const out = new BatchBuilder(parser, format, origin, flowColumns.length, claimed);
  let groupStart = 0;
  for (const [g, group] of metadata.row_groups.entries()) {
    const groupRows = rowsOf[g]!;
    const groupInflated = checkPages(bytes, group, groupRows, groupStart, flowColumns);
    if (groupRows === 0) continue;
    const step = groupRows <= WHOLE_GROUP_ROWS && groupInflated <= Math.min(maxInflatedBytes, WHOLE_GROUP_BYTES) ? groupRows : ROWS_PER_READ;
    // Only this group in the metadata the reader plans over: its cost is then the group's alone.
    const groupMetadata: FileMetaData = { ...metadata, row_groups: [group], num_rows: group.num_rows };
    for (let start = 0; start < groupRows; start += step) {
      const end = Math.min(groupRows, start + step);
      inflation.startRead();
      const pages = flowColumns.map((): ColumnPages => ({ starts: [], data: [] }));
      try {
        await parquetRead({
          file,
          metadata: groupMetadata,
          columns: flowColumns,
          rowStart: start,
          rowEnd: end,
          compressors: inflation.compressors,
          onChunk: (chunk) => {
            const p = pages[index.get(chunk.columnName) ?? -1];
            if (p === undefined) return;
            p.starts.push(chunk.rowStart);
            p.data.push(chunk.columnData as ArrayLike<unknown>);
          },
        });
      } catch (err) {
        if (err instanceof DecodeError) throw err;
        throw new DecodeError(`bad Parquet data in rows ${groupStart + start}-${groupStart + end}: ${(err as Error).message}`);
      }
      // The page headers promised these rows; a reader that still came back short is a bad read.
      const held = Math.min(...pages.map((p) => rowsHeld(p, start, end)));
      if (held < end - start) throw new DecodeError(`Parquet row group at row ${groupStart} claims ${groupRows} rows; its pages hold ${start + held}`);
      out.append(pages, start, end, groupStart);
    }
    groupStart += groupRows;
  }
  out.finish();
}

/**
 * Checks a row group's flow column chunks by their page headers, before anything is inflated
 * (they are what the reader trusts), and returns what its pages inflate to.
 */
function checkPages(bytes: Uint8Array, group: RowGroup, groupRows: number, groupStart: number, flowColumns: readonly string[]): number {
  let inflatedBytes = 0;
  for (const column of flowColumns) {
    const chunks = group.columns.filter((c) => c.meta_data?.path_in_schema[0] === column);
    if (chunks.length > 1) throw new DecodeError(`Parquet row group at row ${groupStart} has ${chunks.length} chunks of column ${column}`);
    const meta = chunks[0]?.meta_data;
    if (meta === undefined && groupRows === 0) continue;
    if (meta === undefined) throw new DecodeError(`Parquet row group at row ${groupStart} has no column ${column}`);
    const claims = scanChunkPages(bytes, { dictionaryPageOffset: meta.dictionary_page_offset, dataPageOffset: meta.data_page_offset, totalCompressedSize: meta.total_compressed_size }, column);
    if (claims.values !== groupRows) throw new DecodeError(`Parquet row group at row ${groupStart} claims ${groupRows} rows; the pages of column ${column} hold ${claims.values}`);
    if (claims.maxPageValues > MAX_PAGE_VALUES) throw new DecodeError(`Parquet column ${column} has a page of ${claims.maxPageValues} values (at most ${MAX_PAGE_VALUES}); refused`);
    inflatedBytes += claims.inflatedBytes;
  }
  return inflatedBytes;
}

/**
 * A flow-log number is a non-negative whole number (the line parser's rule): a column of doubles
 * or text under a number field's name would be read as something else (4.5 as 4, 1e12 wrapped
 * to int32 in the archive, 'abc' as empty), so the file is refused before any row is read.
 */
function checkColumnTypes(metadata: FileMetaData, flowColumns: readonly string[]): void {
  for (const column of flowColumns) {
    const element = metadata.schema.find((e) => e.name === column && e.num_children === undefined);
    const type = element?.type;
    const field = fieldByName(column)!;
    const allowed = field.type === 'string' ? ['BYTE_ARRAY', 'INT32', 'INT64'] : ['INT32', 'INT64'];
    if (type === undefined || !allowed.includes(type)) {
      throw new DecodeError(`Parquet column ${column} is ${type ?? 'untyped'}; a flow-log ${field.name} is ${field.type === 'string' ? 'text' : 'a whole number'} (${allowed.join(' or ')})`);
    }
    // An annotation changes what the stored integers mean (DECIMAL(9,1) stores 4.5 as 45, a
    // TIMESTAMP counts milliseconds): only plain integers and text are what the fields hold.
    const annotation = element!.logical_type?.type ?? element!.converted_type;
    const plain = annotation === undefined || (type === 'BYTE_ARRAY' ? ['STRING', 'UTF8', 'ENUM'] : ['INTEGER']).includes(annotation) || /^U?INT_\d+$/.test(annotation);
    if (!plain) throw new DecodeError(`Parquet column ${column} is ${type} annotated ${annotation}; a flow-log ${field.name} is ${field.type === 'string' ? 'plain text' : 'a plain whole number'}`);
  }
}

/** The leaf columns that are flow-log fields, in file order; none is a DecodeError. */
export function flowColumnsOf(metadata: FileMetaData): string[] {
  const columns = metadata.schema.slice(1).filter((c) => c.num_children === undefined).map((c) => c.name);
  const flowColumns = columns.filter((c) => fieldByName(c) !== undefined);
  if (flowColumns.length === 0) throw new DecodeError(`Parquet file has no flow-log columns (columns: ${columns.join(', ')})`);
  return flowColumns;
}

/**
 * hyparquet's decompressors under an inflation cap per read. Page headers say what a page
 * inflates to; the sum is checked before anything is inflated. A read is a whole row group, or a
 * part of ROWS_PER_READ rows of a big one (each part inflating again every page that covers it).
 */
export class CappedInflation {
  private inflated = 0;
  readonly compressors;

  constructor(maxInflatedBytes: number) {
    const budget = (outputLength: number): number => {
      this.inflated += outputLength;
      if (!(outputLength >= 0) || this.inflated > maxInflatedBytes) throw new DecodeError(`Parquet pages inflate to more than ${maxInflatedBytes} bytes; refused`);
      return outputLength;
    };
    this.compressors = {
      GZIP: (input: Uint8Array, outputLength: number): Uint8Array => gunzipSync(input, { maxOutputLength: Math.max(budget(outputLength), 1) }),
      ZSTD: (input: Uint8Array, outputLength: number): Uint8Array => zstdDecompress(input, budget(outputLength)),
      SNAPPY: (input: Uint8Array, outputLength: number): Uint8Array => {
        const out = new Uint8Array(budget(outputLength));
        snappyUncompress(input, out);
        return out;
      },
    };
  }

  startRead(): void {
    this.inflated = 0;
  }
}

/** How many rows from `start` on (up to `end`) the column's pages hold without a gap. */
function rowsHeld(p: ColumnPages, start: number, end: number): number {
  let reach = start;
  for (let k = 0; k < p.starts.length; k++) {
    const s = p.starts[k]!;
    if (s > reach) break;
    reach = Math.max(reach, s + p.data[k]!.length);
  }
  return Math.max(0, Math.min(end, reach) - start);
}

/** Packs rows from successive reads into batches of up to ROWS_PER_READ rows for the parser. */
class BatchBuilder {
  private batch: FlowBatch | undefined;
  private filled = 0;
  private readonly check = new ValueCheck();

  /** `rows`: all the object will append, so a small object gets a batch its size. */
  constructor(
    private readonly parser: LineParser,
    private readonly format: FlowFormat,
    private readonly origin: Origin,
    private readonly columns: number,
    private rowsLeft: number,
  ) {}

  /** Rows [from, to) of a read's pages; `rowBase` is the file row of the pages' row 0. */
  append(pages: readonly ColumnPages[], from: number, to: number, rowBase: number): void {
    while (from < to) {
      const batch = (this.batch ??= new FlowBatch(this.format, Math.max(1, Math.min(ROWS_PER_READ, this.rowsLeft))));
      const n = Math.min(to - from, batch.capacity - this.filled);
      const at = this.filled - from;
      for (let i = 0; i < this.columns; i++) {
        const p = pages[i]!;
        const num = batch.numbers[i];
        const str = batch.strings[i];
        const field = this.format.fields[i]!;
        const max = maxValueOf(field);
        const address = isAddressField(field);
        for (let k = 0; k < p.starts.length; k++) {
          const s = p.starts[k]!;
          const d = p.data[k]!;
          const lo = Math.max(from, s);
          const hi = Math.min(from + n, s + d.length);
          for (let row = lo; row < hi; row++) {
            const v = d[row - s];
            if (num !== undefined) {
              const x = v === null || v === undefined ? NaN : Number(v);
              if (x < 0 || x > max) throw new DecodeError(`Parquet column ${field.name} at row ${rowBase + row + 1}: ${String(v)} is out of range for ${field.type} (a flow-log number is 0 to ${max})`);
              num[row + at] = x;
            } else if (v === null || v === undefined) {
              str![row + at] = null;
            } else {
              const text = String(v);
              if (address ? !this.check.isAddress(text) : !this.check.isText(text)) {
                const what = address ? 'is not an IP address' : 'is not text (a control character, or bytes that were not UTF-8)';
                throw new DecodeError(`Parquet column ${field.name} at row ${rowBase + row + 1}: ${JSON.stringify(text.length > 80 ? `${text.slice(0, 80)}…` : text)} ${what}`);
              }
              str![row + at] = text;
            }
          }
        }
      }
      for (let r = 0; r < n; r++) {
        batch.origins[this.filled + r] = this.origin;
        batch.subIndex[this.filled + r] = rowBase + from + r + 1;
        batch.eventTimeMs[this.filled + r] = NaN;
      }
      this.filled += n;
      this.rowsLeft -= n;
      from += n;
      if (this.filled === batch.capacity) this.finish();
    }
  }

  /** Hands over the batch being filled, if it holds any rows. */
  finish(): void {
    const batch = this.batch;
    if (batch === undefined || this.filled === 0) return;
    batch.length = this.filled;
    this.parser.emit(batch);
    this.batch = undefined;
    this.filled = 0;
  }
}
