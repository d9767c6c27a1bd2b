import { parquetMetadata, parquetRead, type FileMetaData } from 'hyparquet';
import { ARCHIVE_SCHEMA, REQUIRED_COLUMNS } from './schema.js';
import type { ColumnValues, PhysicalType } from './parquet/writer.js';

/**
 * Reading archive files back: footer checks (is this one of ours?) and whole-file column reads
 * for compaction. Queries read with DuckDB; this is the part that must not trust the files.
 */

const TYPE_OF: Record<string, PhysicalType> = { INT32: 'int32', INT64: 'int64', BYTE_ARRAY: 'string' };

export type FileCheck = { ok: true; rows: number } | { ok: false; reason: string };

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
      if (m && Number(m.data_page_offset) + Number(m.total_compressed_size) > bytes.length + 1) return { ok: false, reason: 'column data lies past the end of the file' };
    }
  }
  return { ok: true, rows: Number(meta.num_rows) };
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

function toArrayBuffer(b: Uint8Array): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;
}

/** Reads a whole archive file into archive-schema columns (missing columns are all null). */
export async function readArchiveColumns(bytes: Uint8Array): Promise<{ rows: number; columns: ColumnValues[] }> {
  const file = toArrayBuffer(bytes);
  const meta = parquetMetadata(file);
  const present = new Set(meta.schema.slice(1).map((e) => e.name));
  const names = ARCHIVE_SCHEMA.filter((c) => present.has(c.name)).map((c) => c.name);
  let rows: unknown[][] = [];
  await parquetRead({ file, metadata: meta, columns: names, onComplete: (r) => (rows = r as unknown[][]) });
  const n = rows.length;
  const columns = ARCHIVE_SCHEMA.map((spec): ColumnValues => {
    const i = names.indexOf(spec.name);
    if (i < 0) return {};
    if (spec.type === 'string') return { strings: rows.map((r) => (r[i] === null || r[i] === undefined ? null : String(r[i]))) };
    const a = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      const v = rows[k]![i];
      a[k] = v === null || v === undefined ? NaN : Number(v);
    }
    return { numbers: a };
  });
  return { rows: n, columns };
}
