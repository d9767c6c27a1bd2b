import { PARTITION_ROOT } from './partition.js';
import { ARCHIVE_SCHEMA } from './schema.js';
import type { PhysicalType } from './parquet/writer.js';

/**
 * `CREATE EXTERNAL TABLE` for Athena over the archive: every Parquet column under its own name
 * and type, partitioned like the writer's layout (partition.ts) with partition projection, so
 * Athena finds new hours without MSCK REPAIR or a crawler.
 *
 * Partition columns are named `aws_account_id`, `aws_region`, `year`, `month`, `day`, `hour`
 * (Athena column names allow only lower-case letters, digits and underscores); the template maps
 * them onto the Hive-style path `aws-account-id=.../aws-service=vpcflowlogs/aws-region=.../year=...`.
 */

export const ATHENA_TYPE: Record<PhysicalType, string> = { int32: 'int', int64: 'bigint', string: 'string' };

/** Partition columns in path order; `aws-service` is always vpcflowlogs, so it is fixed in the template. */
export const PARTITION_COLUMNS = [
  { name: 'aws_account_id', type: 'string', key: 'aws-account-id' },
  { name: 'aws_region', type: 'string', key: 'aws-region' },
  { name: 'year', type: 'int', key: 'year' },
  { name: 'month', type: 'int', key: 'month' },
  { name: 'day', type: 'int', key: 'day' },
  { name: 'hour', type: 'int', key: 'hour' },
] as const;

export interface AthenaDdlOptions {
  /** `s3://bucket/prefix` of the archive root (the directory holding AWSLogs/). */
  readonly location: string;
  readonly table: string;
  readonly database?: string;
  /** Accounts for an enum projection; none: the account is injected (queries must name it). */
  readonly accounts?: readonly string[];
  readonly regions: readonly string[];
  /** Inclusive year range for the projection. */
  readonly years: readonly [number, number];
}

const NAME = /^[a-z0-9_]+$/;

export class AthenaDdlError extends Error {
  override readonly name = 'AthenaDdlError';
}

/** `s3://bucket/prefix` → `s3://bucket/prefix/AWSLogs/` (the table's LOCATION). */
export function tableLocation(location: string): string {
  return `${location.replace(/\/+$/, '')}/${PARTITION_ROOT}`;
}

/** The storage.location.template: the writer's partition path with ${column} for each key. */
export function locationTemplate(location: string): string {
  return (
    `${tableLocation(location)}aws-account-id=\${aws_account_id}/aws-service=vpcflowlogs/aws-region=\${aws_region}/` +
    'year=${year}/month=${month}/day=${day}/hour=${hour}/'
  );
}

function quoteString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

export function athenaDdl(o: AthenaDdlOptions): string {
  if (!NAME.test(o.table)) throw new AthenaDdlError(`table name '${o.table}' must be lower-case letters, digits and underscores`);
  if (o.database !== undefined && !NAME.test(o.database)) throw new AthenaDdlError(`database name '${o.database}' must be lower-case letters, digits and underscores`);
  if (!/^s3:\/\/[^/]+/.test(o.location)) throw new AthenaDdlError(`location must be s3://bucket/prefix, not '${o.location}'`);
  if (o.regions.length === 0) throw new AthenaDdlError('at least one region is needed for the region projection (--regions)');
  for (const v of [...o.regions, ...(o.accounts ?? [])]) {
    if (!/^[A-Za-z0-9_.-]+$/.test(v)) throw new AthenaDdlError(`'${v}' is not a partition value the archive writes`);
  }
  const [y0, y1] = o.years;
  if (!Number.isInteger(y0) || !Number.isInteger(y1) || y0 < 1970 || y1 > 9999 || y0 > y1) throw new AthenaDdlError(`year range ${y0},${y1} is not valid`);
  const name = o.database === undefined ? `\`${o.table}\`` : `\`${o.database}\`.\`${o.table}\``;
  const columns = ARCHIVE_SCHEMA.map((c) => `  \`${c.name}\` ${ATHENA_TYPE[c.type]}`);
  const partitions = PARTITION_COLUMNS.map((c) => `  \`${c.name}\` ${c.type}`);
  const props: [string, string][] = [
    ['classification', 'parquet'],
    ['projection.enabled', 'true'],
    ...(o.accounts && o.accounts.length > 0
      ? ([['projection.aws_account_id.type', 'enum'], ['projection.aws_account_id.values', o.accounts.join(',')]] as [string, string][])
      : ([['projection.aws_account_id.type', 'injected']] as [string, string][])),
    ['projection.aws_region.type', 'enum'],
    ['projection.aws_region.values', o.regions.join(',')],
    ['projection.year.type', 'integer'],
    ['projection.year.range', `${y0},${y1}`],
    ['projection.year.digits', '4'],
    ['projection.month.type', 'integer'],
    ['projection.month.range', '1,12'],
    ['projection.month.digits', '2'],
    ['projection.day.type', 'integer'],
    ['projection.day.range', '1,31'],
    ['projection.day.digits', '2'],
    ['projection.hour.type', 'integer'],
    ['projection.hour.range', '0,23'],
    ['projection.hour.digits', '2'],
    ['storage.location.template', locationTemplate(o.location)],
  ];
  return [
    `CREATE EXTERNAL TABLE IF NOT EXISTS ${name} (`,
    columns.join(',\n'),
    ')',
    'PARTITIONED BY (',
    partitions.join(',\n'),
    ')',
    'STORED AS PARQUET',
    `LOCATION ${quoteString(tableLocation(o.location))}`,
    'TBLPROPERTIES (',
    props.map(([k, v]) => `  ${quoteString(k)} = ${quoteString(v)}`).join(',\n'),
    ');',
    '',
  ].join('\n');
}
