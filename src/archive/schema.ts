import { FIELDS } from '../flowlog/fields.js';
import type { ColumnSpec, ColumnValues } from './parquet/writer.js';

/**
 * The archive's one Parquet schema: every registry field under AWS's column name and type (so
 * every file has the same columns whatever format the input had), then where each record came
 * from. Partition keys (`aws-account-id`, `aws-region`, `year`...) live only in the path: they are
 * spelled differently from `account_id`/`region`, so DuckDB's hive_partitioning never replaces a
 * file column with a path value.
 */
export const SOURCE_COLUMNS = [
  { name: 'log_group', type: 'string' },
  { name: 'log_stream', type: 'string' },
  /** Path, s3://bucket/key, or kinesis://stream/shard/sequence. */
  { name: 'source_location', type: 'string' },
  { name: 'shard_id', type: 'string' },
  { name: 'sequence_number', type: 'string' },
  /** Line number, event index or row within the source location (1-based where the source says). */
  { name: 'sub_index', type: 'int32' },
] as const satisfies readonly ColumnSpec[];

/** Registry fields first, at their registry id; source columns after them. */
export const ARCHIVE_SCHEMA: readonly ColumnSpec[] = [...FIELDS.map((f) => ({ name: f.column, type: f.type })), ...SOURCE_COLUMNS];

export const FIELD_COUNT = FIELDS.length;
export const COL_LOG_GROUP = FIELD_COUNT;
export const COL_LOG_STREAM = FIELD_COUNT + 1;
export const COL_SOURCE = FIELD_COUNT + 2;
export const COL_SHARD = FIELD_COUNT + 3;
export const COL_SEQUENCE = FIELD_COUNT + 4;
export const COL_SUB_INDEX = FIELD_COUNT + 5;

/** Bumped when columns change; written into every file's key-value metadata. */
export const SCHEMA_VERSION = '1';

/** The columns queries rely on: a Parquet file without them (with these types) is not ours. */
export const REQUIRED_COLUMNS: readonly ColumnSpec[] = ARCHIVE_SCHEMA.filter((c) =>
  ['version', 'account_id', 'interface_id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol', 'packets', 'bytes', 'start', 'end', 'action', 'log_status', 'source_location', 'sub_index'].includes(c.name),
);

const REQUIRED = new Set(REQUIRED_COLUMNS.map((c) => c.name));

/**
 * What a file stores of ARCHIVE_SCHEMA-ordered columns: the required columns always, the others
 * only when the rows have values for them. The ~75 registry fields a v2 flow log never fills
 * would otherwise cost ~90 bytes each per file (page header, column metadata, schema entry),
 * which is most of a small file. Readers go by name: DuckDB (union_by_name, and the query view
 * adds absent columns as typed NULLs), Athena and readArchiveColumns read absent columns as null.
 */
export function storedColumns(columns: readonly ColumnValues[]): { schema: ColumnSpec[]; columns: ColumnValues[] } {
  const schema: ColumnSpec[] = [];
  const kept: ColumnValues[] = [];
  ARCHIVE_SCHEMA.forEach((spec, c) => {
    const v = columns[c]!;
    if (REQUIRED.has(spec.name) || v.numbers !== undefined || v.strings !== undefined || v.indices !== undefined) {
      schema.push(spec);
      kept.push(v);
    }
  });
  return { schema, columns: kept };
}
