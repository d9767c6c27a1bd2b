/**
 * What one flowcut deployment consists of: the names and settings of every resource, resolved
 * from the command line once and shared by setup, teardown and doctor (so teardown finds exactly
 * what setup made from the same flags).
 */
import { FlowFormat, FormatError } from '../../flowlog/format.js';

export const DISTRIBUTIONS = ['ByLogStream', 'Random'] as const;
export type Distribution = (typeof DISTRIBUTIONS)[number];
export const TRAFFIC_TYPES = ['ALL', 'ACCEPT', 'REJECT'] as const;
export type TrafficType = (typeof TRAFFIC_TYPES)[number];

/** Provisioned shard count, or on-demand capacity. */
export type Capacity = { readonly mode: 'PROVISIONED'; readonly shards: number } | { readonly mode: 'ON_DEMAND' };

/**
 * The custom format flowcut asks for when it creates the flow log: the v2 fields plus what
 * per-ENI models and triage need (where the ENI lives, TCP flags for scans, the packet-level
 * addresses behind NAT, direction and path). Every field here is known to the decoder.
 */
export const DEFAULT_FLOW_LOG_FORMAT = FlowFormat.fromNames([
  'version', 'account-id', 'interface-id', 'srcaddr', 'dstaddr', 'srcport', 'dstport', 'protocol',
  'packets', 'bytes', 'start', 'end', 'action', 'log-status',
  'vpc-id', 'subnet-id', 'instance-id', 'tcp-flags', 'type', 'pkt-srcaddr', 'pkt-dstaddr',
  'flow-direction', 'traffic-path',
]);

export interface FlowLogSpec {
  /** vpc-…, subnet-… or eni-… */
  readonly resourceId: string;
  readonly resourceType: 'VPC' | 'Subnet' | 'NetworkInterface';
  readonly trafficType: TrafficType;
  readonly format: FlowFormat;
  readonly roleName: string;
  /** Retention of the log group flowcut creates for it; the archive is the long-term copy. */
  readonly retentionDays: number;
}

export interface SetupSpec {
  readonly stream: string;
  readonly capacity: Capacity;
  readonly logGroup: string;
  readonly filterName: string;
  /** undefined: derived from the flow log's format (space-delimited pattern). */
  readonly filterPattern: string | undefined;
  readonly distribution: Distribution;
  readonly roleName: string;
  readonly flowLog: FlowLogSpec | undefined;
  readonly leaseTable: string;
  readonly outputStream: { readonly name: string; readonly capacity: Capacity } | undefined;
  readonly archive: { readonly bucket: string; readonly prefix: string } | undefined;
  /** --account: only needed to print exact ARNs in a dry run before the stream exists. */
  readonly account: string | undefined;
}

/** Flag values as commander hands them over (strings), before validation. */
export interface SetupInput {
  stream: string;
  logGroup: string;
  shards?: string;
  filterName?: string;
  filterPattern?: string;
  distribution?: string;
  roleName?: string;
  flowLog?: string;
  trafficType?: string;
  logFormat?: string;
  flowLogRoleName?: string;
  logRetentionDays?: string;
  leaseTable?: string;
  outputStream?: string;
  outputShards?: string;
  archiveBucket?: string;
  archivePrefix?: string;
  account?: string;
}

export class SpecError extends Error {
  override readonly name = 'SpecError';
}

/** AWS's validation rules, checked up front so a typo fails before anything is created. */
const RULES = {
  stream: [/^[a-zA-Z0-9_.-]{1,128}$/, 'letters, digits, _ . - (1-128)'],
  logGroup: [/^[.\-_/#A-Za-z0-9]{1,512}$/, 'letters, digits, _ - / . # (1-512)'],
  role: [/^[\w+=,.@-]{1,64}$/, 'letters, digits, + = , . @ _ - (at most 64)'],
  filter: [/^[^:*]{1,512}$/, 'no : or * (1-512)'],
  table: [/^[a-zA-Z0-9_.-]{3,255}$/, 'letters, digits, _ . - (3-255)'],
  bucket: [/^(?!xn--)(?!.*\.\.)[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'lower-case letters, digits, . - (3-63), starting and ending with a letter or digit'],
  account: [/^\d{12}$/, '12 digits'],
} as const satisfies Record<string, readonly [RegExp, string]>;

function check(value: string, rule: keyof typeof RULES, flag: string): string {
  const [re, what] = RULES[rule];
  if (!re.test(value)) throw new SpecError(`${flag} '${value}' is not a valid name: ${what}`);
  return value;
}

export function parseCapacity(text: string, flag: string): Capacity {
  if (text === 'on-demand') return { mode: 'ON_DEMAND' };
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 10_000) throw new SpecError(`${flag} must be a shard count (1 or more) or 'on-demand', not '${text}'`);
  return { mode: 'PROVISIONED', shards: n };
}

function oneOf<T extends string>(value: string | undefined, allowed: readonly T[], fallback: T, flag: string): T {
  if (value === undefined) return fallback;
  const hit = allowed.find((a) => a.toLowerCase() === value.toLowerCase());
  if (hit === undefined) throw new SpecError(`${flag} must be one of ${allowed.join(', ')}, not '${value}'`);
  return hit;
}

/** Default names embed the stream name; IAM's 64-character limit may make them too long. */
function derived(prefix: string, stream: string, flag: string, rule: keyof typeof RULES): string {
  const name = `${prefix}${stream}`;
  if (!RULES[rule][0].test(name)) throw new SpecError(`the default name '${name}' is not valid (${RULES[rule][1]}); choose one with ${flag}`);
  return name;
}

export function flowLogResourceType(id: string): FlowLogSpec['resourceType'] {
  if (/^vpc-[0-9a-f]{8,17}$/.test(id)) return 'VPC';
  if (/^subnet-[0-9a-f]{8,17}$/.test(id)) return 'Subnet';
  if (/^eni-[0-9a-f]{8,17}$/.test(id)) return 'NetworkInterface';
  throw new SpecError(`--flow-log must be a VPC, subnet or network interface id (vpc-…, subnet-…, eni-…), not '${id}'`);
}

export function resolveSpec(input: SetupInput): SetupSpec {
  const stream = check(input.stream, 'stream', '--stream');
  const logGroup = check(input.logGroup, 'logGroup', '--log-group');
  let flowLog: FlowLogSpec | undefined;
  if (input.flowLog !== undefined) {
    let format = DEFAULT_FLOW_LOG_FORMAT;
    try {
      if (input.logFormat !== undefined) format = FlowFormat.parse(input.logFormat);
    } catch (err) {
      if (err instanceof FormatError) throw new SpecError(`--log-format: ${err.message}`);
      throw err;
    }
    const retention = Number(input.logRetentionDays ?? '7');
    // CloudWatch Logs accepts only these retention periods.
    const allowed = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653];
    if (!allowed.includes(retention)) throw new SpecError(`--log-retention-days must be one of ${allowed.join(', ')}`);
    flowLog = {
      resourceId: input.flowLog,
      resourceType: flowLogResourceType(input.flowLog),
      trafficType: oneOf(input.trafficType, TRAFFIC_TYPES, 'ALL', '--traffic-type'),
      format,
      roleName: input.flowLogRoleName ? check(input.flowLogRoleName, 'role', '--flow-log-role-name') : derived('flowcut-flowlogs-', stream, '--flow-log-role-name', 'role'),
      retentionDays: retention,
    };
  } else if (input.logFormat !== undefined || input.trafficType !== undefined || input.flowLogRoleName !== undefined) {
    throw new SpecError('--log-format, --traffic-type and --flow-log-role-name only apply with --flow-log RESOURCE_ID');
  }
  if (input.archivePrefix !== undefined && input.archiveBucket === undefined) throw new SpecError('--archive-prefix needs --archive-bucket');
  if (input.outputShards !== undefined && input.outputStream === undefined) throw new SpecError('--output-shards needs --output-stream');
  const outputStream = input.outputStream === undefined ? undefined : check(input.outputStream, 'stream', '--output-stream');
  if (outputStream === stream) throw new SpecError('--output-stream must differ from --stream');
  const prefix = (input.archivePrefix ?? 'flowcut/').replace(/^\/+/, '');
  return {
    stream,
    capacity: parseCapacity(input.shards ?? '1', '--shards'),
    logGroup,
    filterName: input.filterName ? check(input.filterName, 'filter', '--filter-name') : `flowcut-${stream}`,
    filterPattern: input.filterPattern,
    distribution: oneOf(input.distribution, DISTRIBUTIONS, 'ByLogStream', '--distribution'),
    roleName: input.roleName ? check(input.roleName, 'role', '--role-name') : derived('flowcut-cwl-', stream, '--role-name', 'role'),
    flowLog,
    leaseTable: input.leaseTable ? check(input.leaseTable, 'table', '--lease-table') : derived('flowcut-', stream, '--lease-table', 'table'),
    outputStream: outputStream === undefined ? undefined : { name: outputStream, capacity: parseCapacity(input.outputShards ?? '1', '--output-shards') },
    archive: input.archiveBucket === undefined ? undefined : { bucket: check(input.archiveBucket, 'bucket', '--archive-bucket'), prefix: prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/` },
    account: input.account === undefined ? undefined : check(input.account, 'account', '--account'),
  };
}

/**
 * CloudWatch Logs' space-delimited pattern for a format: one bracketed name per field, so every
 * event with that many fields matches and arrives with `extractedFields`. Names use the
 * underscore form (the pattern syntax has no hyphens).
 */
export function filterPatternFor(format: FlowFormat): string {
  return `[${format.fields.map((f) => f.name.replace(/-/g, '_')).join(', ')}]`;
}

/** Number of fields a space-delimited pattern names; undefined for other patterns. */
export function patternFieldCount(pattern: string): number | undefined {
  const m = /^\s*\[(.*)\]\s*$/.exec(pattern);
  // `...` stands for any number of fields: no count to compare with.
  if (!m || m[1]!.split(',').some((f) => f.trim() === '...')) return undefined;
  return m[1]!.split(',').length;
}
