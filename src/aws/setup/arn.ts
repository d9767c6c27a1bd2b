/**
 * ARNs for the resources setup manages. The account id is not asked of STS (no STS client is
 * installed, and one call more is one permission more): Kinesis returns the stream ARN, which
 * carries partition, region and account, so everything else is derived from it.
 */

export interface ArnParts {
  readonly partition: string;
  readonly service: string;
  readonly region: string;
  readonly account: string;
  readonly resource: string;
}

export function parseArn(arn: string): ArnParts | undefined {
  const m = /^arn:([^:]+):([^:]+):([^:]*):([^:]*):(.+)$/.exec(arn);
  if (!m) return undefined;
  return { partition: m[1]!, service: m[2]!, region: m[3]!, account: m[4]!, resource: m[5]! };
}

/** Partition of a region when no ARN has told us yet (dry runs before the stream exists). */
export function partitionOf(region: string): string {
  if (region.startsWith('cn-')) return 'aws-cn';
  if (region.startsWith('us-gov-')) return 'aws-us-gov';
  return 'aws';
}

/** Shown in dry-run output and policies while the account is unknown. */
export const ACCOUNT_PLACEHOLDER = '<ACCOUNT_ID>';

/** Where resources live: partition, region, account. */
export interface Place {
  readonly partition: string;
  readonly region: string;
  readonly account: string;
}

export const arns = {
  stream: (p: Place, name: string) => `arn:${p.partition}:kinesis:${p.region}:${p.account}:stream/${name}`,
  /** Enhanced fan-out consumers registered on a stream. */
  streamConsumers: (p: Place, name: string) => `arn:${p.partition}:kinesis:${p.region}:${p.account}:stream/${name}/consumer/*`,
  role: (p: Place, name: string) => `arn:${p.partition}:iam::${p.account}:role/${name}`,
  /** The log group itself (DescribeLogGroups, tagging) ... */
  logGroup: (p: Place, name: string) => `arn:${p.partition}:logs:${p.region}:${p.account}:log-group:${name}`,
  /** ... and its log streams (CreateLogStream, PutLogEvents act on `log-group:NAME:*`). */
  logGroupStreams: (p: Place, name: string) => `arn:${p.partition}:logs:${p.region}:${p.account}:log-group:${name}:*`,
  table: (p: Place, name: string) => `arn:${p.partition}:dynamodb:${p.region}:${p.account}:table/${name}`,
  bucket: (p: Place, name: string) => `arn:${p.partition}:s3:::${name}`,
  objects: (p: Place, bucket: string, prefix: string) => `arn:${p.partition}:s3:::${bucket}/${prefix}*`,
  flowLogs: (p: Place) => `arn:${p.partition}:ec2:${p.region}:${p.account}:vpc-flow-log/*`,
};
