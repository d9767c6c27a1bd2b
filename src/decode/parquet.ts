import { gunzipSync } from 'node:zlib';
import { parquetMetadata, parquetRead, snappyUncompress, type FileMetaData } from 'hyparquet';
import { FlowBatch, type Origin } from '../flowlog/batch.js';
import { fieldByName } from '../flowlog/fields.js';
import { FlowFormat } from '../flowlog/format.js';
import type { LineParser } from '../flowlog/parser.js';
import { DecodeError } from './errors.js';
import { loadZstd, zstdDecompress } from './zstd.js';

export function isParquet(buf: Uint8Array): boolean {
  return buf.length >= 8 && buf[0] === 0x50 && buf[1] === 0x41 && buf[2] === 0x52 && buf[3] === 0x31;
}

/** Rows per batch handed to the parser, and per read when a row group is too big to read whole. */
const ROWS_PER_READ = 65536;

/**
 * A row group whose flow columns inflate to at most this (and within the inflation cap) is read
 * whole: each page is then inflated and decoded once, where reads of ROWS_PER_READ rows inflate a
 * page again for every read it covers (flowcut's archive files have one page per column chunk and
 * up to 2^20 rows per group, about 40 MiB). A bigger group is read in parts, so that its decoded
 * values (a few times the inflated bytes) need not all be held at once.
 */
const WHOLE_GROUP_BYTES = 128 * 1024 * 1024;

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
  const columns = metadata.schema.slice(1).filter((c) => c.num_children === undefined).map((c) => c.name);
  const flowColumns = columns.filter((c) => fieldByName(c) !== undefined);
  if (flowColumns.length === 0) throw new DecodeError(`Parquet file has no flow-log columns (columns: ${columns.join(', ')})`);
  const format = FlowFormat.fromNames(flowColumns);
  let inflated = 0;
  // Page headers say what a page inflates to; the sum is capped before anything is inflated. The
  // cap is per read: a whole row group, or a part of ROWS_PER_READ rows of a big one (each part
  // inflating again every page that covers its rows).
  const budget = (outputLength: number): number => {
    inflated += outputLength;
    if (!(outputLength >= 0) || inflated > maxInflatedBytes) throw new DecodeError(`Parquet pages inflate to more than ${maxInflatedBytes} bytes; refused`);
    return outputLength;
  };
  const compressors = {
    GZIP: (input: Uint8Array, outputLength: number): Uint8Array => gunzipSync(input, { maxOutputLength: Math.max(budget(outputLength), 1) }),
    ZSTD: (input: Uint8Array, outputLength: number): Uint8Array => zstdDecompress(input, budget(outputLength)),
    SNAPPY: (input: Uint8Array, outputLength: number): Uint8Array => {
      const out = new Uint8Array(budget(outputLength));
      snappyUncompress(input, out);
      return out;
    },
  };
  if (metadata.row_groups.some((g) => g.columns.some((c) => c.meta_data?.codec === 'ZSTD'))) await loadZstd();
  const wanted = new Set(flowColumns);
  const index = new Map(flowColumns.map((c, i) => [c, i]));
  let groupStart = 0;
  for (const group of metadata.row_groups) {
    const groupRows = Number(group.num_rows);
    if (!Number.isSafeInteger(groupRows) || groupRows < 0) throw new DecodeError(`Parquet row group at row ${groupStart} claims ${group.num_rows} rows`);
    // The footer's sizes only choose how to read; the budget still checks every page's header.
    const groupInflated = group.columns.reduce((t, c) => (wanted.has(c.meta_data?.path_in_schema[0] ?? '') ? t + Number(c.meta_data?.total_uncompressed_size) : t), 0);
    const step = groupInflated <= Math.min(maxInflatedBytes, WHOLE_GROUP_BYTES) ? groupRows : ROWS_PER_READ;
    for (let start = groupStart; start < groupStart + groupRows; start += step) {
      const end = Math.min(groupStart + groupRows, start + step);
      inflated = 0;
      const pages = flowColumns.map((): ColumnPages => ({ starts: [], data: [] }));
      try {
        await parquetRead({
          file,
          metadata,
          columns: flowColumns,
          rowStart: start,
          rowEnd: end,
          compressors,
          onChunk: (chunk) => {
            const p = pages[index.get(chunk.columnName) ?? -1];
            if (p === undefined) return;
            p.starts.push(chunk.rowStart);
            p.data.push(chunk.columnData as ArrayLike<unknown>);
          },
        });
      } catch (err) {
        if (err instanceof DecodeError) throw err;
        throw new DecodeError(`bad Parquet data in rows ${start}-${end}: ${(err as Error).message}`);
      }
      // A row group that claims more rows than its pages hold is refused, like any bad read: its
      // rows would otherwise come out empty, and a forged count would spin the loop.
      const held = Math.min(...pages.map((p) => rowsHeld(p, start, end)));
      if (held < end - start) throw new DecodeError(`Parquet row group at row ${groupStart} claims ${groupRows} rows; its pages hold ${start - groupStart + held}`);
      for (let b = start; b < end; b += ROWS_PER_READ) emitBatch(parser, format, origin, pages, b, Math.min(end, b + ROWS_PER_READ));
    }
    groupStart += groupRows;
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

/** Rows [from, to) of the decoded pages as one batch, numbered from 1 in the file. */
function emitBatch(parser: LineParser, format: FlowFormat, origin: Origin, pages: ColumnPages[], from: number, to: number): void {
  const n = to - from;
  const batch = new FlowBatch(format, n);
  for (let i = 0; i < pages.length; i++) {
    const p = pages[i]!;
    const num = batch.numbers[i];
    const str = batch.strings[i];
    for (let k = 0; k < p.starts.length; k++) {
      const s = p.starts[k]!;
      const d = p.data[k]!;
      const lo = Math.max(from, s);
      const hi = Math.min(to, s + d.length);
      for (let row = lo; row < hi; row++) {
        const v = d[row - s];
        if (num !== undefined) num[row - from] = v === null || v === undefined ? NaN : Number(v);
        else str![row - from] = v === null || v === undefined ? null : String(v);
      }
    }
  }
  for (let r = 0; r < n; r++) {
    batch.origins[r] = origin;
    batch.subIndex[r] = from + r + 1;
    batch.eventTimeMs[r] = NaN;
  }
  batch.length = n;
  parser.emit(batch);
}
