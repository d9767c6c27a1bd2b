/**
 * `flowcut setup --emit cloudformation`: the same resources as a template, for teams that deploy
 * through CloudFormation. Built offline from the flags alone (no AWS calls): account, region and
 * partition are CloudFormation's pseudo parameters, and the IAM documents are the very ones
 * setup writes, rendered with those placeholders and wrapped in Fn::Sub.
 */
import { FlowFormat } from '../../flowlog/format.js';
import type { Place } from './arn.js';
import {
  cwlPermissionsPolicy,
  tlsOnlyBucketPolicy,
  cwlTrustPolicy,
  CWL_POLICY_NAME,
  flowLogPermissionsPolicy,
  flowLogTrustPolicy,
  FLOW_LOG_POLICY_NAME,
  type PolicyDocument,
} from './policies.js';
import { tagList } from './shell.js';
import { filterPatternFor, type Capacity, type SetupSpec } from './spec.js';
import { AGGREGATION_SECONDS } from './steps/flow-log.js';
import { leaseTableDefinition } from './steps/lease-table.js';
import { STREAM_KEY } from './steps/stream.js';

const PSEUDO: Place = { partition: '${AWS::Partition}', region: '${AWS::Region}', account: '${AWS::AccountId}' };

export type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

/** Every string holding a pseudo parameter becomes {"Fn::Sub": ...}. */
function sub(value: unknown): Json {
  if (typeof value === 'string') return value.includes('${AWS::') ? { 'Fn::Sub': value } : value;
  if (Array.isArray(value)) return value.map(sub);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, Json> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = sub(v);
    return out;
  }
  return value as Json;
}

const policy = (d: PolicyDocument): Json => sub(d);

function streamProperties(name: string, c: Capacity, tags: Json): Json {
  return {
    Name: name,
    ...(c.mode === 'PROVISIONED' ? { ShardCount: c.shards } : {}),
    StreamModeDetails: { StreamMode: c.mode },
    // Encrypted at rest with Kinesis' AWS-managed key, as `flowcut setup` creates it (steps/stream.ts).
    StreamEncryption: { EncryptionType: 'KMS', KeyId: STREAM_KEY },
    Tags: tags,
  };
}

/** Logical ids, exported for tests and for people reading the template. */
export const LOGICAL = {
  stream: 'FlowStream',
  outputStream: 'FindingsStream',
  leaseTable: 'LeaseTable',
  bucket: 'ArchiveBucket',
  bucketPolicy: 'ArchiveBucketPolicy',
  logGroup: 'FlowLogGroup',
  flowLogRole: 'FlowLogDeliveryRole',
  flowLog: 'FlowLog',
  role: 'SubscriptionRole',
  filter: 'SubscriptionFilter',
} as const;

export function cloudFormationTemplate(spec: SetupSpec): { [k: string]: Json } {
  const tags = tagList(spec.stream) as unknown as Json;
  const R: Record<string, Json> = {};
  R[LOGICAL.stream] = { Type: 'AWS::Kinesis::Stream', Properties: streamProperties(spec.stream, spec.capacity, tags) };
  if (spec.outputStream) {
    R[LOGICAL.outputStream] = { Type: 'AWS::Kinesis::Stream', Properties: streamProperties(spec.outputStream.name, spec.outputStream.capacity, tags) };
  }
  const table = leaseTableDefinition(spec.leaseTable, spec.stream);
  R[LOGICAL.leaseTable] = {
    Type: 'AWS::DynamoDB::Table',
    Properties: sub({
      TableName: table.TableName,
      AttributeDefinitions: table.AttributeDefinitions,
      KeySchema: table.KeySchema,
      BillingMode: table.BillingMode,
      GlobalSecondaryIndexes: table.GlobalSecondaryIndexes,
      Tags: table.Tags,
    }),
  };
  if (spec.archive) {
    R[LOGICAL.bucket] = {
      Type: 'AWS::S3::Bucket',
      // The archive outlives a stack deletion, as it outlives `flowcut teardown` when not empty.
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        BucketName: spec.archive.bucket,
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true },
        Tags: tags,
      },
    };
    R[LOGICAL.bucketPolicy] = {
      Type: 'AWS::S3::BucketPolicy',
      Properties: { Bucket: { Ref: LOGICAL.bucket }, PolicyDocument: policy(tlsOnlyBucketPolicy(PSEUDO, spec.archive.bucket)) },
    };
  }
  let logGroupName: Json = spec.logGroup;
  if (spec.flowLog) {
    const fl = spec.flowLog;
    R[LOGICAL.logGroup] = { Type: 'AWS::Logs::LogGroup', Properties: { LogGroupName: spec.logGroup, RetentionInDays: fl.retentionDays, Tags: tags } };
    logGroupName = { Ref: LOGICAL.logGroup };
    R[LOGICAL.flowLogRole] = {
      Type: 'AWS::IAM::Role',
      Properties: {
        RoleName: fl.roleName,
        AssumeRolePolicyDocument: policy(flowLogTrustPolicy(PSEUDO)),
        Policies: [{ PolicyName: FLOW_LOG_POLICY_NAME, PolicyDocument: policy(flowLogPermissionsPolicy(PSEUDO, spec.logGroup)) }],
        Tags: tags,
      },
    };
    R[LOGICAL.flowLog] = {
      Type: 'AWS::EC2::FlowLog',
      Properties: {
        ResourceId: fl.resourceId,
        ResourceType: fl.resourceType,
        TrafficType: fl.trafficType,
        LogDestinationType: 'cloud-watch-logs',
        LogGroupName: logGroupName,
        DeliverLogsPermissionArn: { 'Fn::GetAtt': [LOGICAL.flowLogRole, 'Arn'] },
        LogFormat: fl.format.spec,
        MaxAggregationInterval: AGGREGATION_SECONDS,
        Tags: tags,
      },
    };
  }
  R[LOGICAL.role] = {
    Type: 'AWS::IAM::Role',
    Properties: {
      RoleName: spec.roleName,
      AssumeRolePolicyDocument: policy(cwlTrustPolicy(PSEUDO)),
      Policies: [{ PolicyName: CWL_POLICY_NAME, PolicyDocument: policy(cwlPermissionsPolicy(PSEUDO, spec.stream)) }],
      Tags: tags,
    },
  };
  // Without a flow log in the template the format is unknown offline: --filter-pattern or v2.
  const pattern = spec.filterPattern ?? filterPatternFor(spec.flowLog?.format ?? FlowFormat.DEFAULT);
  R[LOGICAL.filter] = {
    Type: 'AWS::Logs::SubscriptionFilter',
    Properties: {
      FilterName: spec.filterName,
      LogGroupName: logGroupName,
      FilterPattern: pattern,
      DestinationArn: { 'Fn::GetAtt': [LOGICAL.stream, 'Arn'] },
      RoleArn: { 'Fn::GetAtt': [LOGICAL.role, 'Arn'] },
      Distribution: spec.distribution,
    },
  };
  const outputs: Record<string, Json> = {
    StreamArn: { Description: 'Input stream of the flowcut consumer', Value: { 'Fn::GetAtt': [LOGICAL.stream, 'Arn'] } },
    LeaseTableName: { Description: 'KCL-schema lease table', Value: { Ref: LOGICAL.leaseTable } },
  };
  if (spec.outputStream) outputs.FindingsStreamArn = { Value: { 'Fn::GetAtt': [LOGICAL.outputStream, 'Arn'] } };
  if (spec.archive) outputs.ArchiveBucketName = { Value: { Ref: LOGICAL.bucket } };
  return {
    AWSTemplateFormatVersion: '2010-09-09',
    Description: `flowcut: VPC flow logs from ${spec.logGroup} to Kinesis stream ${spec.stream} (generated by flowcut setup --emit cloudformation)`,
    Resources: R,
    Outputs: outputs,
  };
}

const PLAIN_KEY = /^[A-Za-z0-9_][A-Za-z0-9_:.\/-]*$/;

/**
 * A small YAML writer for JSON data: block style, every string double-quoted with JSON escapes
 * (a valid YAML double-quoted scalar), so no value can be misread as a number, boolean or tag.
 */
export function toYaml(value: Json, indent = 0): string {
  const pad = ' '.repeat(indent);
  if (Array.isArray(value)) {
    if (value.length === 0) return `${pad}[]\n`;
    return value
      .map((v) => {
        // Compact form: the item's first line shares the dash ("- Key: ...").
        if (isContainer(v) && !isEmpty(v)) {
          const body = toYaml(v, indent + 2);
          return Array.isArray(v) ? `${pad}-\n${body}` : `${pad}- ${body.slice(indent + 2)}`;
        }
        return `${pad}- ${scalar(v)}\n`;
      })
      .join('');
  }
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value);
    if (entries.length === 0) return `${pad}{}\n`;
    return entries
      .map(([k, v]) => {
        const key = PLAIN_KEY.test(k) ? k : JSON.stringify(k);
        if (isContainer(v) && !isEmpty(v)) return `${pad}${key}:\n${toYaml(v, indent + 2)}`;
        return `${pad}${key}: ${scalar(v)}\n`;
      })
      .join('');
  }
  return `${pad}${scalar(value)}\n`;
}

function isContainer(v: Json): v is Json[] | { [k: string]: Json } {
  return v !== null && typeof v === 'object';
}

function isEmpty(v: Json[] | { [k: string]: Json }): boolean {
  return Array.isArray(v) ? v.length === 0 : Object.keys(v).length === 0;
}

function scalar(v: Json): string {
  if (Array.isArray(v)) return '[]';
  if (v !== null && typeof v === 'object') return '{}';
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
