/**
 * The IAM documents setup writes and prints. Each grants exactly what its principal does and
 * no more; the tests pin actions, resources and conditions.
 */
import { arns, type Place } from './arn.js';
import type { SetupSpec } from './spec.js';

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: { Service: string } | '*';
  Action: string | string[];
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

export interface PolicyDocument {
  Version: '2012-10-17';
  Statement: PolicyStatement[];
}

const doc = (...Statement: PolicyStatement[]): PolicyDocument => ({ Version: '2012-10-17', Statement });

/** Names of the inline policies setup puts on its roles (teardown removes them by name). */
export const CWL_POLICY_NAME = 'flowcut-put-records';
export const FLOW_LOG_POLICY_NAME = 'flowcut-deliver-flow-logs';

/**
 * Who may assume the subscription role: CloudWatch Logs in this region, acting for this account.
 * AWS's confused-deputy guidance for subscriptions scopes `aws:SourceArn` to the account's log
 * resources in the region (`arn:…:logs:REGION:ACCOUNT:*`); a log-group-level ARN is not
 * documented as the source, so narrowing further could silently stop delivery.
 */
export function cwlTrustPolicy(p: Place): PolicyDocument {
  return doc({
    Effect: 'Allow',
    Principal: { Service: `logs.${p.region}.amazonaws.com` },
    Action: 'sts:AssumeRole',
    Condition: {
      StringEquals: { 'aws:SourceAccount': p.account },
      ArnLike: { 'aws:SourceArn': `arn:${p.partition}:logs:${p.region}:${p.account}:*` },
    },
  });
}

/**
 * What CloudWatch Logs does with the role: put records on the one stream. The seed's
 * `iam:PassRole` belongs to whoever runs PutSubscriptionFilter (it passes this role), not to the
 * role itself, so it is not granted here.
 */
export function cwlPermissionsPolicy(p: Place, stream: string): PolicyDocument {
  return doc({ Effect: 'Allow', Action: ['kinesis:PutRecord', 'kinesis:PutRecords'], Resource: arns.stream(p, stream) });
}

/**
 * The archive bucket's own policy: refuse every request that does not come over TLS, whoever
 * sends it. A Deny names no one, so it is not "public" and Block Public Access lets it stand.
 */
export function tlsOnlyBucketPolicy(p: Place, bucket: string): PolicyDocument {
  return doc({
    Sid: 'DenyInsecureTransport',
    Effect: 'Deny',
    Principal: '*',
    Action: 's3:*',
    Resource: [arns.bucket(p, bucket), `${arns.bucket(p, bucket)}/*`],
    Condition: { Bool: { 'aws:SecureTransport': 'false' } },
  });
}

/** VPC Flow Logs assumes the delivery role; scoped to flow logs of this account and region. */
export function flowLogTrustPolicy(p: Place): PolicyDocument {
  return doc({
    Effect: 'Allow',
    Principal: { Service: 'vpc-flow-logs.amazonaws.com' },
    Action: 'sts:AssumeRole',
    Condition: {
      StringEquals: { 'aws:SourceAccount': p.account },
      ArnLike: { 'aws:SourceArn': arns.flowLogs(p) },
    },
  });
}

/**
 * AWS documents five actions on `*` for flow-log delivery. The log group exists before the flow
 * log (setup creates it, with retention), so CreateLogGroup is dropped and the rest are confined
 * to that group; DescribeLogGroups cannot be narrowed to one group.
 */
export function flowLogPermissionsPolicy(p: Place, logGroup: string): PolicyDocument {
  return doc(
    {
      Sid: 'WriteFlowLogGroup',
      Effect: 'Allow',
      Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
      Resource: [arns.logGroup(p, logGroup), arns.logGroupStreams(p, logGroup)],
    },
    { Sid: 'FindLogGroup', Effect: 'Allow', Action: 'logs:DescribeLogGroups', Resource: `arn:${p.partition}:logs:${p.region}:${p.account}:log-group:*` },
  );
}

/**
 * Actions the flowcut consumer (polling or enhanced fan-out) calls on the input stream, and no
 * others (src/sources/kinesis: DescribeStreamSummary, ListShards, GetShardIterator, GetRecords,
 * RegisterStreamConsumer; on the consumer: DescribeStreamConsumer, SubscribeToShard).
 */
export const CONSUMER_STREAM_ACTIONS = [
  'kinesis:DescribeStreamSummary',
  'kinesis:ListShards',
  'kinesis:GetShardIterator',
  'kinesis:GetRecords',
  'kinesis:RegisterStreamConsumer',
];
export const CONSUMER_EFO_ACTIONS = ['kinesis:DescribeStreamConsumer', 'kinesis:SubscribeToShard'];
/** The lease table is created by setup; the consumer only creates it when it is missing (local runs). */
export const CONSUMER_LEASE_ACTIONS = ['dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Scan'];

/** The policy to attach to whatever runs `flowcut` as a consumer (task role, instance profile). */
export function consumerPolicy(p: Place, spec: SetupSpec): PolicyDocument {
  const s: PolicyStatement[] = [
    { Sid: 'ReadFlowStream', Effect: 'Allow', Action: CONSUMER_STREAM_ACTIONS, Resource: arns.stream(p, spec.stream) },
    { Sid: 'EnhancedFanOut', Effect: 'Allow', Action: CONSUMER_EFO_ACTIONS, Resource: arns.streamConsumers(p, spec.stream) },
    { Sid: 'Leases', Effect: 'Allow', Action: CONSUMER_LEASE_ACTIONS, Resource: arns.table(p, spec.leaseTable) },
  ];
  if (spec.archive) {
    const { bucket, prefix } = spec.archive;
    s.push(
      // Delete: manifests released after checkpoints, files rolled back by recovery.
      { Sid: 'ArchiveObjects', Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'], Resource: arns.objects(p, bucket, prefix) },
      // Without a prefix condition: S3 answers a GetObject of a missing key with 404 only to a
      // caller allowed to list the bucket (403 otherwise), and that request has no s3:prefix.
      { Sid: 'ArchiveList', Effect: 'Allow', Action: 's3:ListBucket', Resource: arns.bucket(p, bucket) },
    );
  }
  if (spec.outputStream) {
    s.push({ Sid: 'WriteFindings', Effect: 'Allow', Action: 'kinesis:PutRecords', Resource: arns.stream(p, spec.outputStream.name) });
  }
  return doc(...s);
}

/**
 * IAM hands documents back URL-encoded (GetRole, GetRolePolicy); mocks and some tools give plain
 * JSON. Either way, parse to a value that compares by meaning.
 */
export function parsePolicy(text: string | undefined): unknown {
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return JSON.parse(decodeURIComponent(text));
  }
}

/** Canonical form for comparing policies: keys sorted, one-element lists as their element. */
export function canonical(value: unknown): unknown {
  if (Array.isArray(value)) {
    const items = value.map(canonical);
    return items.length === 1 ? items[0] : items;
  }
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(value).sort()) out[k] = canonical((value as Record<string, unknown>)[k]);
    return out;
  }
  return value;
}

export function samePolicy(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}
