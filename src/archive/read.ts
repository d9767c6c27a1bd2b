import { gunzipSync } from 'node:zlib';
import { parquetMetadata, parquetRead, type FileMetaData } from 'hyparquet';
import { ARCHIVE_SCHEMA, REQUIRED_COLUMNS } from './schema.js';
import type { ColumnValues, PhysicalType } from './parquet/writer.js';
import { loadZstd, zstdDecompress } from '../decode/zstd.js';

/**
 * Reading archive files back: footer checks (is this one of ours?) and whole-file column reads
 * for compaction. Queries read with DuckDB; this is the part that must not trust the files.
 */

const TYPE_OF: Record<string, PhysicalType> = { INT32: 'int32', INT64: 'int64', BYTE_ARRAY: 'string' };

/** `replaces`: for a merged (compacted) file, the names within its partition of the files it replaces. */
export type FileCheck = { ok: true; rows: number; columns: string[]; replaces?: string[] } | { ok: false; reason: string };

/** Checks the magic bytes, the footer and that the schema has the archive's core columns and types. */
export function checkArchiveFile(bytes: Uint8Array): FileCheck {
  const meta = footer(bytes);
  if (typeof meta === 'string') return { ok: false, reason: meta };
  const types = new Map<string, string | undefined>();
  for (const el of meta.schema.slice(1)) types.set(el.name, el.type);
  for (const c of REQUIRED_COLUMNS) {
    const t = types.get(c.name);
    if (t === undefined) return { ok: false, reason: `no column ${c.name}: not a flowcut archive file` };
    if (TYPE_OF[t] !== c.type) return { ok: false, reason: `column ${c.name} is ${t}, expected ${c.type}` };
  }
  // Byte ranges of every column chunk must lie inside the file (catches truncation after the footer was copied).
  for (const rg of meta.row_groups) {
    for (const cc of rg.columns) {
      const m = cc.meta_data;
      if (m === undefined) continue;
      // The chunk starts at its dictionary page when it has one; total_compressed_size counts it.
      const dict = m.dictionary_page_offset === undefined ? undefined : Number(m.dictionary_page_offset);
      const start = dict !== undefined && dict > 0 && dict < Number(m.data_page_offset) ? dict : Number(m.data_page_offset);
      if (start + Number(m.total_compressed_size) > bytes.length - 8) return { ok: false, reason: 'column data lies past the end of the file' };
    }
  }
  const inputs = meta.key_value_metadata?.find((kv) => kv.key === 'flowcut.inputs')?.value;
  if (inputs !== undefined) {
    try {
      const replaces = JSON.parse(inputs) as unknown;
      if (Array.isArray(replaces) && replaces.every((x) => typeof x === 'string')) return { ok: true, rows: Number(meta.num_rows), columns: [...types.keys()], replaces };
    } catch {
      // not ours: no inputs to hide
    }
  }
  return { ok: true, rows: Number(meta.num_rows), columns: [...types.keys()] };
}

function footer(bytes: Uint8Array): FileMetaData | string {
  if (bytes.length < 12) return `too short for Parquet (${bytes.length} bytes)`;
  const magic = (o: number): boolean => bytes[o] === 0x50 && bytes[o + 1] === 0x41 && bytes[o + 2] === 0x52 && bytes[o + 3] === 0x31;
  if (!magic(0)) return 'not a Parquet file (no PAR1 at the start)';
  if (!magic(bytes.length - 4)) return 'truncated Parquet file (no PAR1 at the end)';
  try {
    return parquetMetadata(toArrayBuffer(bytes));
  } catch (err) {
    return `unreadable Parquet footer: ${(err as Error).message}`;
  }
}

/** No page of ours inflates past this; a header that says more is damage, not data. */
const MAX_PAGE_BYTES = 1 << 30;

function pageLimit(outputLength: number): number {
  if (!(outputLength >= 0 && outputLength <= MAX_PAGE_BYTES)) throw new Error(`a page claims to inflate to ${outputLength} bytes`);
  return Math.max(1, outputLength);
}

function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/**
 * Reads a whole archive file into archive-schema columns (missing and all-null columns come back
 * empty, i.e. all null), column chunk by column chunk: no per-row objects.
 */
export async function readArchiveColumns(bytes: Uint8Array): Promise<{ rows: number; columns: ColumnValues[] }> {
  const file = toArrayBuffer(bytes);
  const meta = parquetMetadata(file);
  const n = Number(meta.num_rows);
  const present = new Set(meta.schema.slice(1).map((e) => e.name));
  // Columns whose every chunk is all null need no reading (most registry fields).
  const hasValues = new Set<string>();
  for (const rg of meta.row_groups) {
    for (const cc of rg.columns) {
      const m = cc.meta_data;
      if (m === undefined) continue;
      const name = m.path_in_schema.join('.');
      const nulls = m.statistics?.null_count;
      if (nulls === undefined || Number(nulls) < Number(m.num_values)) hasValues.add(name);
    }
  }
  const names = ARCHIVE_SCHEMA.filter((c) => present.has(c.name) && hasValues.has(c.name)).map((c) => c.name);
  const out = new Map<string, Float64Array | (string | null)[]>();
  for (const c of ARCHIVE_SCHEMA) {
    if (!names.includes(c.name)) continue;
    out.set(c.name, c.type === 'string' ? new Array<string | null>(n).fill(null) : new Float64Array(n).fill(NaN));
  }
  if (names.length > 0) {
    await loadZstd();
    await parquetRead({
      file,
      metadata: meta,
      columns: names,
      // hyparquet reads SNAPPY itself; GZIP and ZSTD come from here.
      compressors: {
        GZIP: (input: Uint8Array, outputLength: number) => new Uint8Array(gunzipSync(input, { maxOutputLength: pageLimit(outputLength) })),
        ZSTD: (input: Uint8Array, outputLength: number) => zstdDecompress(input, pageLimit(outputLength)),
      },
      onChunk: (chunk) => {
        const dst = out.get(chunk.columnName);
        if (dst === undefined) return;
        const src = chunk.columnData as ArrayLike<unknown>;
        for (let i = 0; i < src.length; i++) {
          const v = src[i];
          const r = chunk.rowStart + i;
          if (r >= n) break;
          if (dst instanceof Float64Array) dst[r] = v === null || v === undefined ? NaN : Number(v);
          else dst[r] = v === null || v === undefined ? null : String(v);
        }
      },
    });
  }
  const columns = ARCHIVE_SCHEMA.map((spec): ColumnValues => {
    const v = out.get(spec.name);
    if (v === undefined) return {};
    return v instanceof Float64Array ? { numbers: v } : { strings: v };
  });
  return { rows: n, columns };
}
