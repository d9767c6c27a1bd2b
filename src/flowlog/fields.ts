/**
 * The registry of every VPC Flow Log field AWS documents, versions 2 to 11.
 *
 * `name` is AWS's hyphenated name (as in `${account-id}` and S3 header lines); `column` is the
 * underscore name AWS's Parquet files and Athena tables use, which is also our JSON key.
 * Fields of versions 9 to 11 were collected from secondary sources (see
 * ../shared/reference/flow-log-fields.md) and are provisional: adding a field is one line here.
 */

/** int32 and int64 are held as JavaScript numbers (int64 values are exact up to 2^53). */
export type FieldType = 'int32' | 'int64' | 'string';

export interface FieldSpec {
  /** Position in the registry; stable within a process, used to index per-field tables. */
  readonly id: number;
  readonly name: string;
  readonly column: string;
  readonly version: number;
  readonly type: FieldType;
}

type Row = readonly [name: string, version: number, type: FieldType];

const ROWS: readonly Row[] = [
  ['version', 2, 'int32'],
  ['account-id', 2, 'string'],
  ['interface-id', 2, 'string'],
  ['srcaddr', 2, 'string'],
  ['dstaddr', 2, 'string'],
  ['srcport', 2, 'int32'],
  ['dstport', 2, 'int32'],
  ['protocol', 2, 'int32'],
  ['packets', 2, 'int64'],
  ['bytes', 2, 'int64'],
  ['start', 2, 'int64'],
  ['end', 2, 'int64'],
  ['action', 2, 'string'],
  ['log-status', 2, 'string'],
  ['vpc-id', 3, 'string'],
  ['subnet-id', 3, 'string'],
  ['instance-id', 3, 'string'],
  ['tcp-flags', 3, 'int32'],
  ['type', 3, 'string'],
  ['pkt-srcaddr', 3, 'string'],
  ['pkt-dstaddr', 3, 'string'],
  ['region', 4, 'string'],
  ['az-id', 4, 'string'],
  ['sublocation-type', 4, 'string'],
  ['sublocation-id', 4, 'string'],
  ['pkt-src-aws-service', 5, 'string'],
  ['pkt-dst-aws-service', 5, 'string'],
  ['flow-direction', 5, 'string'],
  ['traffic-path', 5, 'int32'],
  // Transit gateway flow logs.
  ['resource-type', 6, 'string'],
  ['tgw-id', 6, 'string'],
  ['tgw-attachment-id', 6, 'string'],
  ['tgw-src-vpc-account-id', 6, 'string'],
  ['tgw-dst-vpc-account-id', 6, 'string'],
  ['tgw-src-vpc-id', 6, 'string'],
  ['tgw-dst-vpc-id', 6, 'string'],
  ['tgw-src-subnet-id', 6, 'string'],
  ['tgw-dst-subnet-id', 6, 'string'],
  ['tgw-src-eni', 6, 'string'],
  ['tgw-dst-eni', 6, 'string'],
  ['tgw-src-az-id', 6, 'string'],
  ['tgw-dst-az-id', 6, 'string'],
  ['tgw-pair-attachment-id', 6, 'string'],
  ['packets-lost-no-route', 6, 'int64'],
  ['packets-lost-blackhole', 6, 'int64'],
  ['packets-lost-mtu-exceeded', 6, 'int64'],
  ['packets-lost-ttl-expired', 6, 'int64'],
  // Amazon ECS.
  ['ecs-cluster-arn', 7, 'string'],
  ['ecs-cluster-name', 7, 'string'],
  ['ecs-container-instance-arn', 7, 'string'],
  ['ecs-container-instance-id', 7, 'string'],
  ['ecs-container-id', 7, 'string'],
  ['ecs-second-container-id', 7, 'string'],
  ['ecs-service-name', 7, 'string'],
  ['ecs-task-definition-arn', 7, 'string'],
  ['ecs-task-arn', 7, 'string'],
  ['ecs-task-id', 7, 'string'],
  ['reject-reason', 8, 'string'],
  // Provisional (see the module comment).
  ['resource-id', 9, 'string'],
  ['encryption-status', 10, 'int32'],
  ['instance-tag', 11, 'string'],
  ['instance-tag-2', 11, 'string'],
  ['interface-tag', 11, 'string'],
  ['interface-tag-2', 11, 'string'],
  ['asg-tag', 11, 'string'],
  ['asg-tag-2', 11, 'string'],
  ['interface-type', 11, 'string'],
  ['next-hop-interface-id', 11, 'string'],
  ['next-hop-subnet-id', 11, 'string'],
  ['next-hop-az-id', 11, 'string'],
  ['next-hop-vpc-id', 11, 'string'],
  ['next-hop-interface-type', 11, 'string'],
];

export const FIELDS: readonly FieldSpec[] = ROWS.map(([name, version, type], id) => ({
  id,
  name,
  column: name.replaceAll('-', '_'),
  version,
  type,
}));

const byName = new Map<string, FieldSpec>();
for (const f of FIELDS) {
  byName.set(f.name, f);
  byName.set(f.column, f);
}

/** Looks a field up by AWS name (`log-status`) or column name (`log_status`). */
export function fieldByName(name: string): FieldSpec | undefined {
  return byName.get(name);
}

export function isNumericField(f: FieldSpec): boolean {
  return f.type !== 'string';
}

export const INT32_MAX = 2 ** 31 - 1;

/** The largest value a number field holds (a flow-log number is a whole number from 0). */
export function maxValueOf(f: FieldSpec): number {
  return f.type === 'int32' ? INT32_MAX : Number.MAX_SAFE_INTEGER;
}

const ADDRESS_FIELDS: ReadonlySet<string> = new Set(['srcaddr', 'dstaddr', 'pkt-srcaddr', 'pkt-dstaddr']);

/** Fields that hold an IPv4 or IPv6 address (text fields the parser checks, --where's CIDR blocks). */
export function isAddressField(f: FieldSpec): boolean {
  return ADDRESS_FIELDS.has(f.name);
}

/** The default (version 2) format, fixed by AWS. */
export const DEFAULT_FIELD_NAMES = [
  'version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport',
  'protocol', 'packets', 'bytes', 'start', 'end', 'action', 'log-status',
] as const;
