/**
 * In-memory stand-ins for IAM, CloudWatch Logs, EC2 and S3 (no local server exists for the first
 * three; S3 is faked too so tagging and public-access calls can be asserted). Each keeps just
 * enough state for setup to be idempotent against it, and aws-sdk-client-mock records every
 * request so tests assert the exact calls.
 */
import {
  CloudWatchLogsClient,
  CreateLogGroupCommand,
  DeleteLogGroupCommand,
  DeleteSubscriptionFilterCommand,
  DescribeLogGroupsCommand,
  DescribeLogStreamsCommand,
  DescribeSubscriptionFiltersCommand,
  ListTagsForResourceCommand,
  PutRetentionPolicyCommand,
  PutSubscriptionFilterCommand,
  type SubscriptionFilter,
} from '@aws-sdk/client-cloudwatch-logs';
import { CreateFlowLogsCommand, DeleteFlowLogsCommand, DescribeFlowLogsCommand, EC2Client, type FlowLog } from '@aws-sdk/client-ec2';
import {
  CreateRoleCommand,
  DeleteRoleCommand,
  DeleteRolePolicyCommand,
  GetRoleCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
  PutRolePolicyCommand,
  SimulatePrincipalPolicyCommand,
  UpdateAssumeRolePolicyCommand,
} from '@aws-sdk/client-iam';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  GetBucketTaggingCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutBucketPolicyCommand,
  PutBucketTaggingCommand,
  PutPublicAccessBlockCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { mockClient, type AwsStub } from 'aws-sdk-client-mock';

const CREDS = { accessKeyId: 'test', secretAccessKey: 'test' };

export function awsError(name: string, status = 400, message = name): Error {
  return Object.assign(new Error(message), { name, $metadata: { httpStatusCode: status } });
}

/** Names of the commands a mock received, in order. */
export function commandNames(mock: AwsStub<any, any, any>): string[] {
  return mock.calls().map((c) => (c.args[0] as { constructor: { name: string } }).constructor.name.replace(/Command$/, ''));
}

export interface FakeRole {
  Arn: string;
  trust: string;
  Tags: Array<{ Key: string; Value: string }>;
  policies: Map<string, string>;
}

export function fakeIam(account: string) {
  const client = new IAMClient({ region: 'us-east-1', credentials: CREDS });
  const mock = mockClient(client);
  const roles = new Map<string, FakeRole>();
  const role = (name: string): FakeRole => {
    const r = roles.get(name);
    if (!r) throw awsError('NoSuchEntityException', 404, `The role with name ${name} cannot be found.`);
    return r;
  };
  // IAM returns documents URL-encoded; the fake does too, so decoding is exercised.
  mock.on(GetRoleCommand).callsFake(({ RoleName }) => {
    const r = role(RoleName);
    return { Role: { RoleName, Arn: r.Arn, Path: '/', RoleId: 'AROA', CreateDate: new Date(), AssumeRolePolicyDocument: encodeURIComponent(r.trust), Tags: r.Tags } };
  });
  mock.on(CreateRoleCommand).callsFake(({ RoleName, AssumeRolePolicyDocument, Tags }) => {
    if (roles.has(RoleName)) throw awsError('EntityAlreadyExistsException', 409);
    const r = { Arn: `arn:aws:iam::${account}:role/${RoleName}`, trust: AssumeRolePolicyDocument, Tags: Tags ?? [], policies: new Map() };
    roles.set(RoleName, r);
    return { Role: { RoleName, Arn: r.Arn, Path: '/', RoleId: 'AROA', CreateDate: new Date() } };
  });
  mock.on(UpdateAssumeRolePolicyCommand).callsFake(({ RoleName, PolicyDocument }) => {
    role(RoleName).trust = PolicyDocument;
    return {};
  });
  mock.on(GetRolePolicyCommand).callsFake(({ RoleName, PolicyName }) => {
    const p = role(RoleName).policies.get(PolicyName);
    if (p === undefined) throw awsError('NoSuchEntityException', 404);
    return { RoleName, PolicyName, PolicyDocument: encodeURIComponent(p) };
  });
  mock.on(PutRolePolicyCommand).callsFake(({ RoleName, PolicyName, PolicyDocument }) => {
    role(RoleName).policies.set(PolicyName, PolicyDocument);
    return {};
  });
  mock.on(ListRolePoliciesCommand).callsFake(({ RoleName }) => ({ PolicyNames: [...role(RoleName).policies.keys()] }));
  mock.on(ListAttachedRolePoliciesCommand).resolves({ AttachedPolicies: [] });
  mock.on(DeleteRolePolicyCommand).callsFake(({ RoleName, PolicyName }) => {
    role(RoleName).policies.delete(PolicyName);
    return {};
  });
  mock.on(DeleteRoleCommand).callsFake(({ RoleName }) => {
    if (role(RoleName).policies.size > 0) throw awsError('DeleteConflictException', 409);
    roles.delete(RoleName);
    return {};
  });
  // A crude simulator: allowed when an inline policy names the action and the exact resource.
  mock.on(SimulatePrincipalPolicyCommand).callsFake(({ PolicySourceArn, ActionNames, ResourceArns }) => {
    const r = [...roles.values()].find((x) => x.Arn === PolicySourceArn);
    const docs = r ? [...r.policies.values()].map((p) => JSON.parse(p)) : [];
    return {
      EvaluationResults: (ActionNames as string[]).map((a) => ({
        EvalActionName: a,
        EvalDecision: docs.some((d) => d.Statement.some((s: any) => [s.Action].flat().includes(a) && [s.Resource].flat().includes(ResourceArns[0]))) ? 'allowed' : 'implicitDeny',
      })),
    };
  });
  return { client, mock, roles };
}

export function fakeLogs(account: string, region = 'us-east-1') {
  const client = new CloudWatchLogsClient({ region, credentials: CREDS });
  const mock = mockClient(client);
  const groups = new Map<string, { tags: Record<string, string>; retentionInDays?: number; lastIngestionTime?: number }>();
  const filters = new Map<string, SubscriptionFilter[]>();
  const arnOf = (g: string) => `arn:aws:logs:${region}:${account}:log-group:${g}`;
  const group = (name: string) => {
    const g = groups.get(name);
    if (!g) throw awsError('ResourceNotFoundException', 400, 'The specified log group does not exist.');
    return g;
  };
  mock.on(DescribeLogGroupsCommand).callsFake(({ logGroupNamePrefix }) => ({
    logGroups: [...groups.entries()]
      .filter(([n]) => n.startsWith(logGroupNamePrefix ?? ''))
      .map(([logGroupName, g]) => ({ logGroupName, arn: `${arnOf(logGroupName)}:*`, ...(g.retentionInDays ? { retentionInDays: g.retentionInDays } : {}) })),
  }));
  mock.on(CreateLogGroupCommand).callsFake(({ logGroupName, tags }) => {
    if (groups.has(logGroupName)) throw awsError('ResourceAlreadyExistsException');
    groups.set(logGroupName, { tags: tags ?? {} });
    return {};
  });
  mock.on(PutRetentionPolicyCommand).callsFake(({ logGroupName, retentionInDays }) => {
    group(logGroupName).retentionInDays = retentionInDays;
    return {};
  });
  mock.on(ListTagsForResourceCommand).callsFake(({ resourceArn }) => ({ tags: group(resourceArn.split(':log-group:')[1]).tags }));
  mock.on(DescribeSubscriptionFiltersCommand).callsFake(({ logGroupName }) => {
    group(logGroupName);
    return { subscriptionFilters: filters.get(logGroupName) ?? [] };
  });
  /** Errors the next PutSubscriptionFilter calls throw, in order (e.g. IAM propagation delays). */
  const putFailures: Error[] = [];
  mock.on(PutSubscriptionFilterCommand).callsFake((input) => {
    const failure = putFailures.shift();
    if (failure) throw failure;
    group(input.logGroupName);
    const list = (filters.get(input.logGroupName) ?? []).filter((f) => f.filterName !== input.filterName);
    list.push({ ...input, creationTime: Date.now() });
    filters.set(input.logGroupName, list);
    return {};
  });
  mock.on(DeleteSubscriptionFilterCommand).callsFake(({ logGroupName, filterName }) => {
    filters.set(logGroupName, (filters.get(logGroupName) ?? []).filter((f) => f.filterName !== filterName));
    return {};
  });
  mock.on(DeleteLogGroupCommand).callsFake(({ logGroupName }) => {
    group(logGroupName);
    groups.delete(logGroupName);
    filters.delete(logGroupName);
    return {};
  });
  mock.on(DescribeLogStreamsCommand).callsFake(({ logGroupName }) => {
    const g = group(logGroupName);
    return { logStreams: g.lastIngestionTime ? [{ logStreamName: 'eni-0123456789abcdef0-all', lastIngestionTime: g.lastIngestionTime }] : [] };
  });
  return { client, mock, groups, filters, putFailures };
}

export function fakeEc2(account: string, region = 'us-east-1') {
  const client = new EC2Client({ region, credentials: CREDS });
  const mock = mockClient(client);
  const flowLogs: FlowLog[] = [];
  let next = 1;
  mock.on(DescribeFlowLogsCommand).callsFake(({ Filter }) => {
    const match = (f: FlowLog) =>
      (Filter ?? []).every((flt: { Name: string; Values: string[] }) => {
        if (flt.Name === 'log-group-name') return flt.Values.includes(f.LogGroupName ?? '');
        if (flt.Name === 'resource-id') return flt.Values.includes(f.ResourceId ?? '');
        if (flt.Name.startsWith('tag:')) return f.Tags?.some((t) => t.Key === flt.Name.slice(4) && flt.Values.includes(t.Value ?? '')) ?? false;
        throw new Error(`fake EC2: unknown filter ${flt.Name}`);
      });
    return { FlowLogs: flowLogs.filter(match) };
  });
  mock.on(CreateFlowLogsCommand).callsFake((input) => {
    const id = `fl-${String(next++).padStart(17, '0')}`;
    flowLogs.push({
      FlowLogId: id,
      ResourceId: input.ResourceIds[0],
      TrafficType: input.TrafficType,
      LogDestinationType: input.LogDestinationType,
      LogGroupName: input.LogGroupName,
      DeliverLogsPermissionArn: input.DeliverLogsPermissionArn,
      LogFormat: input.LogFormat,
      MaxAggregationInterval: input.MaxAggregationInterval,
      FlowLogStatus: 'ACTIVE',
      DeliverLogsStatus: 'SUCCESS',
      Tags: input.TagSpecifications?.[0]?.Tags ?? [],
    });
    return { FlowLogIds: [id], Unsuccessful: [] };
  });
  mock.on(DeleteFlowLogsCommand).callsFake(({ FlowLogIds }) => {
    for (const id of FlowLogIds) flowLogs.splice(flowLogs.findIndex((f) => f.FlowLogId === id), 1);
    return { Unsuccessful: [] };
  });
  void account;
  return { client, mock, flowLogs };
}

export function fakeS3(region = 'us-east-1') {
  const client = new S3Client({ region, credentials: CREDS });
  const mock = mockClient(client);
  const buckets = new Map<string, { tags: Array<{ Key: string; Value: string }>; objects: number; publicAccessBlocked: boolean }>();
  const bucket = (name: string) => {
    const b = buckets.get(name);
    if (!b) throw awsError('NotFound', 404);
    return b;
  };
  mock.on(HeadBucketCommand).callsFake(({ Bucket }) => {
    bucket(Bucket);
    return { BucketRegion: region };
  });
  mock.on(CreateBucketCommand).callsFake(({ Bucket }) => {
    buckets.set(Bucket, { tags: [], objects: 0, publicAccessBlocked: false });
    return {};
  });
  mock.on(PutPublicAccessBlockCommand).callsFake(({ Bucket }) => {
    bucket(Bucket).publicAccessBlocked = true;
    return {};
  });
  mock.on(PutBucketPolicyCommand).callsFake(({ Bucket }) => {
    bucket(Bucket);
    return {};
  });
  mock.on(PutBucketTaggingCommand).callsFake(({ Bucket, Tagging }) => {
    bucket(Bucket).tags = Tagging.TagSet;
    return {};
  });
  mock.on(GetBucketTaggingCommand).callsFake(({ Bucket }) => {
    const b = bucket(Bucket);
    if (b.tags.length === 0) throw awsError('NoSuchTagSet', 404);
    return { TagSet: b.tags };
  });
  mock.on(ListObjectsV2Command).callsFake(({ Bucket }) => ({ KeyCount: Math.min(1, bucket(Bucket).objects) }));
  mock.on(DeleteBucketCommand).callsFake(({ Bucket }) => {
    if (bucket(Bucket).objects > 0) throw awsError('BucketNotEmpty', 409);
    buckets.delete(Bucket);
    return {};
  });
  return { client, mock, buckets };
}
