/**
 * The emitted template, checked against the resource types' required properties (a small table
 * written from the CloudFormation resource schemas, with the conditional rules that matter here)
 * and for dangling references.
 */
import { describe, expect, it } from 'vitest';
import { cloudFormationTemplate, toYaml, type Json } from '../../src/aws/setup/cloudformation.js';
import { tlsOnlyPolicyDocument } from './expected.js';
import { resolveSpec } from '../../src/aws/setup/spec.js';

type Props = Record<string, Json>;

/** Required properties per type; `rules` add the schema's conditional requirements. */
const REQUIRED: Record<string, { required: string[]; rules?: (p: Props) => string[] }> = {
  'AWS::Kinesis::Stream': {
    required: [],
    // ShardCount is required unless the stream is on-demand.
    rules: (p) => ((p.StreamModeDetails as Props | undefined)?.StreamMode === 'ON_DEMAND' || p.ShardCount !== undefined ? [] : ['ShardCount (provisioned stream)']),
  },
  'AWS::IAM::Role': {
    required: ['AssumeRolePolicyDocument'],
    rules: (p) => ((p.Policies as Props[] | undefined) ?? []).flatMap((x, i) => ['PolicyName', 'PolicyDocument'].filter((k) => x[k] === undefined).map((k) => `Policies[${i}].${k}`)),
  },
  'AWS::Logs::LogGroup': { required: [] },
  'AWS::S3::BucketPolicy': { required: ['Bucket', 'PolicyDocument'] },
  'AWS::Logs::SubscriptionFilter': {
    required: ['DestinationArn', 'FilterPattern', 'LogGroupName'],
    // A Kinesis destination needs the role CloudWatch Logs assumes.
    rules: (p) => (JSON.stringify(p.DestinationArn).includes('Stream') && p.RoleArn === undefined ? ['RoleArn (Kinesis destination)'] : []),
  },
  'AWS::EC2::FlowLog': {
    required: ['ResourceId', 'ResourceType'],
    rules: (p) => {
      const missing: string[] = [];
      const tgw = p.ResourceType === 'TransitGateway' || p.ResourceType === 'TransitGatewayAttachment';
      if (!tgw && p.TrafficType === undefined) missing.push('TrafficType (non-transit-gateway resource)');
      if (tgw && p.TrafficType !== undefined) missing.push('no TrafficType for transit gateways');
      if ((p.LogDestinationType ?? 'cloud-watch-logs') === 'cloud-watch-logs') {
        if (p.LogGroupName === undefined && p.LogDestination === undefined) missing.push('LogGroupName or LogDestination');
        if (p.DeliverLogsPermissionArn === undefined) missing.push('DeliverLogsPermissionArn (CloudWatch Logs destination)');
      }
      if (p.MaxAggregationInterval !== undefined && p.MaxAggregationInterval !== 60 && p.MaxAggregationInterval !== 600) missing.push('MaxAggregationInterval 60 or 600');
      if (typeof p.LogFormat === 'string' && !/^(\$\{[a-z-]+\} ?)+$/.test(p.LogFormat)) missing.push('LogFormat of ${field} tokens');
      return missing;
    },
  },
  'AWS::DynamoDB::Table': {
    required: ['KeySchema'],
    rules: (p) => {
      const out: string[] = [];
      const defined = new Set(((p.AttributeDefinitions as Props[] | undefined) ?? []).map((a) => a.AttributeName));
      const keys = [p.KeySchema, ...((p.GlobalSecondaryIndexes as Props[] | undefined) ?? []).map((g) => g.KeySchema)].flatMap((k) => (k as Props[]) ?? []);
      for (const k of keys) if (!defined.has(k.AttributeName as string)) out.push(`AttributeDefinitions for ${String(k.AttributeName)}`);
      if (p.BillingMode !== 'PAY_PER_REQUEST' && p.ProvisionedThroughput === undefined) out.push('ProvisionedThroughput (provisioned billing)');
      return out;
    },
  },
  'AWS::S3::Bucket': { required: [] },
};

const PSEUDO = new Set(['AWS::AccountId', 'AWS::Region', 'AWS::Partition', 'AWS::StackName', 'AWS::StackId', 'AWS::URLSuffix', 'AWS::NoValue']);

/** Every Ref, Fn::GetAtt and ${Name} inside Fn::Sub, anywhere in a value. */
function references(v: Json, out: string[] = []): string[] {
  if (Array.isArray(v)) v.forEach((x) => references(x, out));
  else if (v !== null && typeof v === 'object') {
    for (const [k, x] of Object.entries(v)) {
      if (k === 'Ref') out.push(x as string);
      else if (k === 'Fn::GetAtt') out.push((x as string[])[0]!);
      else if (k === 'Fn::Sub') for (const m of String(x).matchAll(/\$\{([^}!]+)\}/g)) out.push(m[1]!.split('.')[0]!);
      else references(x, out);
    }
  }
  return out;
}

function validate(template: Record<string, Json>): string[] {
  const problems: string[] = [];
  const resources = template.Resources as Record<string, Props>;
  for (const [id, r] of Object.entries(resources)) {
    const type = r.Type as string;
    const table = REQUIRED[type];
    if (!table) {
      problems.push(`${id}: type ${type} not in the table`);
      continue;
    }
    const p = (r.Properties ?? {}) as Props;
    for (const k of table.required) if (p[k] === undefined) problems.push(`${id} (${type}): missing ${k}`);
    for (const m of table.rules?.(p) ?? []) problems.push(`${id} (${type}): ${m}`);
  }
  for (const ref of references(template as Json)) {
    if (!PSEUDO.has(ref) && !(ref in resources)) problems.push(`reference to undefined ${ref}`);
  }
  return problems;
}

const FULL = resolveSpec({
  stream: 'vpc-flows',
  logGroup: '/vpc/flows',
  flowLog: 'subnet-0123456789abcdef0',
  archiveBucket: 'my-flow-archive',
  outputStream: 'vpc-findings',
  shards: '2',
  outputShards: 'on-demand',
});

describe('flowcut setup --emit cloudformation', () => {
  it('defines every resource setup creates, each with its required properties and no dangling reference', () => {
    const t = cloudFormationTemplate(FULL);
    const resources = t.Resources as Record<string, Props>;
    expect(Object.fromEntries(Object.entries(resources).map(([k, r]) => [k, r.Type]))).toEqual({
      FlowStream: 'AWS::Kinesis::Stream',
      FindingsStream: 'AWS::Kinesis::Stream',
      LeaseTable: 'AWS::DynamoDB::Table',
      ArchiveBucket: 'AWS::S3::Bucket',
      ArchiveBucketPolicy: 'AWS::S3::BucketPolicy',
      FlowLogGroup: 'AWS::Logs::LogGroup',
      FlowLogDeliveryRole: 'AWS::IAM::Role',
      FlowLog: 'AWS::EC2::FlowLog',
      SubscriptionRole: 'AWS::IAM::Role',
      SubscriptionFilter: 'AWS::Logs::SubscriptionFilter',
    });
    expect(validate(t)).toEqual([]);
  });

  it('wires the filter to the stream and role, with the same least-privilege documents setup writes', () => {
    const r = cloudFormationTemplate(FULL).Resources as Record<string, Props>;
    const filter = r.SubscriptionFilter!.Properties as Props;
    expect(filter).toMatchObject({
      LogGroupName: { Ref: 'FlowLogGroup' },
      DestinationArn: { 'Fn::GetAtt': ['FlowStream', 'Arn'] },
      RoleArn: { 'Fn::GetAtt': ['SubscriptionRole', 'Arn'] },
      Distribution: 'ByLogStream',
    });
    const role = r.SubscriptionRole!.Properties as Props;
    expect(role.AssumeRolePolicyDocument).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: { 'Fn::Sub': 'logs.${AWS::Region}.amazonaws.com' } },
          Action: 'sts:AssumeRole',
          Condition: {
            StringEquals: { 'aws:SourceAccount': { 'Fn::Sub': '${AWS::AccountId}' } },
            ArnLike: { 'aws:SourceArn': { 'Fn::Sub': 'arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:*' } },
          },
        },
      ],
    });
    expect(role.Policies).toEqual([
      {
        PolicyName: 'flowcut-put-records',
        PolicyDocument: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: ['kinesis:PutRecord', 'kinesis:PutRecords'], Resource: { 'Fn::Sub': 'arn:${AWS::Partition}:kinesis:${AWS::Region}:${AWS::AccountId}:stream/vpc-flows' } }],
        },
      },
    ]);
    expect(r.FlowStream!.Properties).toMatchObject({ Name: 'vpc-flows', ShardCount: 2, StreamModeDetails: { StreamMode: 'PROVISIONED' } });
    expect(r.FindingsStream!.Properties).not.toHaveProperty('ShardCount');
    // The archive answers over TLS only.
    expect(r.ArchiveBucketPolicy!.Properties).toEqual({
      Bucket: { Ref: 'ArchiveBucket' },
      PolicyDocument: tlsOnlyPolicyDocument({ 'Fn::Sub': 'arn:${AWS::Partition}:s3:::my-flow-archive' }, { 'Fn::Sub': 'arn:${AWS::Partition}:s3:::my-flow-archive/*' }),
    });
    // Both streams encrypted at rest with the AWS-managed key, which needs no KMS permission in the roles.
    for (const id of ['FlowStream', 'FindingsStream']) expect(r[id]!.Properties).toMatchObject({ StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' } });
    expect(r.FlowLog!.Properties).toMatchObject({ ResourceType: 'Subnet', MaxAggregationInterval: 60, DeliverLogsPermissionArn: { 'Fn::GetAtt': ['FlowLogDeliveryRole', 'Arn'] } });
  });

  it('catches what the validator is for: a missing required property and a dangling reference', () => {
    const t = cloudFormationTemplate(FULL) as Record<string, any>;
    delete t.Resources.SubscriptionFilter.Properties.FilterPattern;
    delete t.Resources.LeaseTable.Properties.AttributeDefinitions;
    t.Resources.FlowLog.Properties.DeliverLogsPermissionArn = { 'Fn::GetAtt': ['NoSuchRole', 'Arn'] };
    expect(validate(t)).toEqual([
      'LeaseTable (AWS::DynamoDB::Table): AttributeDefinitions for leaseKey',
      'LeaseTable (AWS::DynamoDB::Table): AttributeDefinitions for leaseOwner',
      'LeaseTable (AWS::DynamoDB::Table): AttributeDefinitions for leaseKey',
      'SubscriptionFilter (AWS::Logs::SubscriptionFilter): missing FilterPattern',
      'reference to undefined NoSuchRole',
    ]);
  });

  it('without --flow-log, subscribes the named existing group with the v2 pattern', () => {
    const t = cloudFormationTemplate(resolveSpec({ stream: 's', logGroup: '/g' }));
    const r = t.Resources as Record<string, Props>;
    expect(Object.keys(r)).toEqual(['FlowStream', 'LeaseTable', 'SubscriptionRole', 'SubscriptionFilter']);
    expect((r.SubscriptionFilter!.Properties as Props).LogGroupName).toBe('/g');
    expect((r.SubscriptionFilter!.Properties as Props).FilterPattern).toBe(
      '[version, account_id, interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, start, end, action, log_status]',
    );
    expect(validate(t)).toEqual([]);
  });

  it('writes YAML whose strings are all quoted and whose structure mirrors the JSON', () => {
    const yaml = toYaml(cloudFormationTemplate(resolveSpec({ stream: 's', logGroup: '/g' })));
    expect(yaml).toContain('AWSTemplateFormatVersion: "2010-09-09"\n');
    expect(yaml).toContain('  SubscriptionFilter:\n    Type: "AWS::Logs::SubscriptionFilter"\n');
    expect(yaml).toContain('        Fn::GetAtt:\n          - "FlowStream"\n          - "Arn"\n');
    expect(yaml).toContain('      Tags:\n        - Key: "flowcut:managed"\n          Value: "true"\n');
    // No unquoted scalar that YAML could retype (numbers and booleans are meant as such).
    for (const line of yaml.split('\n')) {
      const m = /^\s*(?:- )?[^"\s][^:]*: (.+)$/.exec(line);
      if (m) expect(m[1]).toMatch(/^(".*"|\d+|true|false)$/);
    }
  });
});
