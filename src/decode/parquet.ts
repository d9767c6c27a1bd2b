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

const ROWS_PER_READ = 65536;

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
  // cap is per read of ROWS_PER_READ rows: each read inflates again every page that covers its
  // rows (a writer with one page per column chunk has every page cover every read), so a
  // cumulative count would refuse valid files 16 times below their size.
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
  // Rows the row groups hold, not the footer's claim: a forged num_rows must not spin the loop.
  const total = Math.min(Number(metadata.num_rows), metadata.row_groups.reduce((n, g) => n + Number(g.num_rows), 0));
  for (let rowStart = 0; rowStart < total; rowStart += ROWS_PER_READ) {
    const rowEnd = Math.min(total, rowStart + ROWS_PER_READ);
    inflated = 0;
    let rows: unknown[][] = [];
    try {
      await parquetRead({ file, metadata, columns: flowColumns, rowStart, rowEnd, compressors, onComplete: (r) => (rows = r) });
    } catch (err) {
      if (err instanceof DecodeError) throw err;
      throw new DecodeError(`bad Parquet data in rows ${rowStart}-${rowEnd}: ${(err as Error).message}`);
    }
    const batch = new FlowBatch(format, rows.length);
    rows.forEach((row, r) => {
      for (let i = 0; i < flowColumns.length; i++) {
        const v = row[i];
        const num = batch.numbers[i];
        if (num !== undefined) num[r] = v === null || v === undefined ? NaN : Number(v);
        else batch.strings[i]![r] = v === null || v === undefined ? null : String(v);
      }
      batch.origins[r] = origin;
      batch.subIndex[r] = rowStart + r + 1;
      batch.eventTimeMs[r] = NaN;
    });
    batch.length = rows.length;
    parser.emit(batch);
  }
}
