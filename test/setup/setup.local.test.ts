/**
 * `flowcut setup` and `teardown` end to end: Kinesis against kinesis-local, DynamoDB against
 * dynalite, IAM / CloudWatch Logs / EC2 / S3 against recording fakes (no local server exists).
 */
import { DescribeStreamSummaryCommand, ListTagsForStreamCommand } from '@aws-sdk/client-kinesis';
import { DescribeTableCommand, ListTagsOfResourceCommand } from '@aws-sdk/client-dynamodb';
import { CreateFlowLogsCommand } from '@aws-sdk/client-ec2';
import { CreateRoleCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { CreateLogGroupCommand, PutRetentionPolicyCommand, PutSubscriptionFilterCommand } from '@aws-sdk/client-cloudwatch-logs';
import { CreateBucketCommand, PutBucketPolicyCommand, PutBucketTaggingCommand, PutPublicAccessBlockCommand } from '@aws-sdk/client-s3';
import { CreateStreamCommand } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { applyAll, inspectAll, SetupError } from '../../src/aws/setup/engine.js';
import { formatApplied, formatPlan } from '../../src/aws/setup/report.js';
import { DEFAULT_FLOW_LOG_FORMAT, type SetupInput } from '../../src/aws/setup/spec.js';
import { setupSteps } from '../../src/aws/setup/steps/index.js';
import { formatTeardown, planTeardown, runTeardown } from '../../src/aws/setup/teardown.js';
import { commandNames } from './fakes.js';
import { tlsOnlyPolicyDocument } from './expected.js';
import { ACCOUNT, MUTATING, REGION, useHarness, type Harness } from './harness.js';

let h: Harness;
useHarness((x) => (h = x));

const TAGS = [
  { Key: 'flowcut:managed', Value: 'true' },
  { Key: 'flowcut:pipeline', Value: 'flows-a' },
];

const FULL: SetupInput = {
  stream: 'flows-a',
  logGroup: '/vpc/flows-a',
  flowLog: 'vpc-0123456789abcdef0',
  archiveBucket: 'flowcut-test-archive-a',
  outputStream: 'findings-a',
};

async function setup(input: SetupInput) {
  const ctx = h.context(input);
  const applied = await applyAll(ctx, setupSteps(ctx.spec));
  return { ctx, applied };
}

describe('flowcut setup (all resources)', () => {
  it('creates every resource with exactly the requests a least-privilege pipeline needs', async () => {
    h.resetHistory();
    const { ctx, applied } = await setup(FULL);
    expect(ctx.account).toBe(ACCOUNT);
    expect(applied.map((a) => [a.step.title, a.finding.status])).toEqual([
      ['Kinesis stream flows-a', 'create'],
      ['Kinesis stream findings-a (findings)', 'create'],
      ['DynamoDB lease table', 'create'],
      ['S3 archive bucket', 'create'],
      ['CloudWatch Logs group', 'create'],
      ['IAM role flowcut-flowlogs-flows-a', 'create'],
      ['VPC flow log', 'create'],
      ['IAM role flowcut-cwl-flows-a', 'create'],
      ['Subscription filter', 'create'],
    ]);

    // Kinesis (kinesis-local): created, tagged at creation, encrypted at rest with the AWS-managed key.
    expect(h.kinesisCalls.filter((c) => c === 'CreateStream')).toHaveLength(2);
    const tags = await h.kinesis.send(new ListTagsForStreamCommand({ StreamName: 'flows-a' }));
    expect(tags.Tags).toEqual(expect.arrayContaining(TAGS));
    expect(h.kinesisCalls.filter((c) => c === 'StartStreamEncryption')).toHaveLength(2);
    for (const name of ['flows-a', 'findings-a']) {
      const s = (await h.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }))).StreamDescriptionSummary!;
      expect([s.StreamStatus, s.EncryptionType, s.KeyId]).toEqual(['ACTIVE', 'KMS', 'alias/aws/kinesis']);
    }
    expect(applied[0]!.done).toMatch(/^created ACTIVE, encrypted at rest with alias\/aws\/kinesis/);

    // DynamoDB (dynalite): KCL lease schema, on-demand, tagged.
    const t = (await h.dynamodb.send(new DescribeTableCommand({ TableName: 'flowcut-flows-a' }))).Table!;
    expect(t.KeySchema).toEqual([{ AttributeName: 'leaseKey', KeyType: 'HASH' }]);
    expect(t.AttributeDefinitions).toContainEqual({ AttributeName: 'leaseKey', AttributeType: 'S' });
    expect(t.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(t.TableStatus).toBe('ACTIVE');
    expect((await h.dynamodb.send(new ListTagsOfResourceCommand({ ResourceArn: t.TableArn }))).Tags).toEqual(expect.arrayContaining(TAGS));

    // IAM: two roles, each with its trust policy and one inline policy, exactly.
    const roles = h.iam.mock.commandCalls(CreateRoleCommand).map((c) => c.args[0].input);
    expect(roles.map((r) => r.RoleName)).toEqual(['flowcut-flowlogs-flows-a', 'flowcut-cwl-flows-a']);
    expect(roles.every((r) => JSON.stringify(r.Tags) === JSON.stringify(TAGS))).toBe(true);
    expect(JSON.parse(roles[1]!.AssumeRolePolicyDocument!)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'logs.us-east-1.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: {
            StringEquals: { 'aws:SourceAccount': ACCOUNT },
            ArnLike: { 'aws:SourceArn': `arn:aws:logs:us-east-1:${ACCOUNT}:*` },
          },
        },
      ],
    });
    expect(JSON.parse(roles[0]!.AssumeRolePolicyDocument!)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { Service: 'vpc-flow-logs.amazonaws.com' },
          Action: 'sts:AssumeRole',
          Condition: {
            StringEquals: { 'aws:SourceAccount': ACCOUNT },
            ArnLike: { 'aws:SourceArn': `arn:aws:ec2:us-east-1:${ACCOUNT}:vpc-flow-log/*` },
          },
        },
      ],
    });
    const policies = h.iam.mock.commandCalls(PutRolePolicyCommand).map((c) => c.args[0].input);
    expect(policies.map((p) => [p.RoleName, p.PolicyName])).toEqual([
      ['flowcut-flowlogs-flows-a', 'flowcut-deliver-flow-logs'],
      ['flowcut-cwl-flows-a', 'flowcut-put-records'],
    ]);
    expect(JSON.parse(policies[1]!.PolicyDocument!)).toEqual({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: ['kinesis:PutRecord', 'kinesis:PutRecords'], Resource: `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/flows-a` }],
    });
    expect(JSON.parse(policies[0]!.PolicyDocument!)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'WriteFlowLogGroup',
          Effect: 'Allow',
          Action: ['logs:CreateLogStream', 'logs:PutLogEvents', 'logs:DescribeLogStreams'],
          Resource: [`arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/vpc/flows-a`, `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:/vpc/flows-a:*`],
        },
        { Sid: 'FindLogGroup', Effect: 'Allow', Action: 'logs:DescribeLogGroups', Resource: `arn:aws:logs:us-east-1:${ACCOUNT}:log-group:*` },
      ],
    });

    // CloudWatch Logs: the group (tagged, bounded retention), then the filter.
    expect(h.logs.mock.commandCalls(CreateLogGroupCommand)[0]!.args[0].input).toEqual({
      logGroupName: '/vpc/flows-a',
      tags: { 'flowcut:managed': 'true', 'flowcut:pipeline': 'flows-a' },
    });
    expect(h.logs.mock.commandCalls(PutRetentionPolicyCommand)[0]!.args[0].input).toEqual({ logGroupName: '/vpc/flows-a', retentionInDays: 7 });
    const filters = h.logs.mock.commandCalls(PutSubscriptionFilterCommand).map((c) => c.args[0].input);
    expect(filters).toEqual([
      {
        logGroupName: '/vpc/flows-a',
        filterName: 'flowcut-flows-a',
        filterPattern:
          '[version, account_id, interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, start, end, action, log_status, vpc_id, subnet_id, instance_id, tcp_flags, type, pkt_srcaddr, pkt_dstaddr, flow_direction, traffic_path]',
        destinationArn: `arn:aws:kinesis:us-east-1:${ACCOUNT}:stream/flows-a`,
        roleArn: `arn:aws:iam::${ACCOUNT}:role/flowcut-cwl-flows-a`,
        distribution: 'ByLogStream',
      },
    ]);

    // EC2: the flow log, 1-minute aggregation, custom format, its own delivery role.
    expect(h.ec2.mock.commandCalls(CreateFlowLogsCommand)[0]!.args[0].input).toEqual({
      ResourceIds: ['vpc-0123456789abcdef0'],
      ResourceType: 'VPC',
      TrafficType: 'ALL',
      LogDestinationType: 'cloud-watch-logs',
      LogGroupName: '/vpc/flows-a',
      DeliverLogsPermissionArn: `arn:aws:iam::${ACCOUNT}:role/flowcut-flowlogs-flows-a`,
      LogFormat: DEFAULT_FLOW_LOG_FORMAT.spec,
      MaxAggregationInterval: 60,
      TagSpecifications: [{ ResourceType: 'vpc-flow-log', Tags: TAGS }],
    });

    // S3: private bucket in us-east-1 (no LocationConstraint there), tagged.
    expect(h.s3.mock.commandCalls(CreateBucketCommand)[0]!.args[0].input).toEqual({ Bucket: 'flowcut-test-archive-a' });
    expect(h.s3.mock.commandCalls(PutPublicAccessBlockCommand)[0]!.args[0].input.PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      IgnorePublicAcls: true,
      BlockPublicPolicy: true,
      RestrictPublicBuckets: true,
    });
    expect(h.s3.mock.commandCalls(PutBucketTaggingCommand)[0]!.args[0].input.Tagging).toEqual({ TagSet: TAGS });
    // Reachable over TLS only, whoever asks.
    const bucketPolicy = h.s3.mock.commandCalls(PutBucketPolicyCommand).map((c) => c.args[0].input);
    expect(bucketPolicy.map((p) => p.Bucket)).toEqual(['flowcut-test-archive-a']);
    expect(JSON.parse(bucketPolicy[0]!.Policy!)).toEqual(tlsOnlyPolicyDocument('arn:aws:s3:::flowcut-test-archive-a', 'arn:aws:s3:::flowcut-test-archive-a/*'));
    expect(h.progress.some((l) => /creating/.test(l))).toBe(true);
  });

  it('is idempotent: a second run issues no create, put or update call and says so', async () => {
    h.resetHistory();
    const { ctx, applied } = await setup(FULL);
    expect(applied.every((a) => a.done === undefined)).toBe(true);
    const all = [...h.kinesisCalls, ...h.dynamoCalls, ...[h.iam.mock, h.logs.mock, h.ec2.mock, h.s3.mock].flatMap(commandNames)];
    expect(all.filter((c) => MUTATING.test(c))).toEqual([]);
    expect(formatApplied(ctx, applied)).toContain('Nothing changed: all 9 resources already exist as configured.');
  });

  it('repairs drift in the role trust policy and the filter, and touches nothing else', async () => {
    const role = h.iam.roles.get('flowcut-cwl-flows-a')!;
    role.trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'logs.us-east-1.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
    const f = h.logs.filters.get('/vpc/flows-a')!.find((x) => x.filterName === 'flowcut-flows-a')!;
    f.distribution = 'Random';
    h.resetHistory();
    const ctx = h.context(FULL);
    const plan = await inspectAll(ctx, setupSteps(ctx.spec));
    expect(plan.filter((p) => p.finding.status !== 'ok').map((p) => [p.step.title, p.finding.status, p.finding.changes])).toEqual([
      ['IAM role flowcut-cwl-flows-a', 'update', ['trust policy differs: will replace it']],
      ['Subscription filter', 'update', ['distribution Random -> ByLogStream']],
    ]);
    h.resetHistory();
    await applyAll(h.context(FULL), setupSteps(ctx.spec));
    const mutating = [...h.kinesisCalls, ...h.dynamoCalls, ...[h.iam.mock, h.logs.mock, h.ec2.mock, h.s3.mock].flatMap(commandNames)].filter((c) => MUTATING.test(c));
    expect(mutating).toEqual(['UpdateAssumeRolePolicy', 'PutSubscriptionFilter']);
    expect(JSON.parse(h.iam.mock.commandCalls(UpdateAssumeRolePolicyCommand)[0]!.args[0].input.PolicyDocument!).Statement[0].Condition).toBeDefined();
  });
});

describe('flowcut setup (checks before changing anything)', () => {
  it('stops before creating anything when the log group is missing and no flow log is asked for', async () => {
    h.resetHistory();
    const ctx = h.context({ stream: 'flows-b', logGroup: '/vpc/nowhere' });
    const err = await applyAll(ctx, setupSteps(ctx.spec)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect((err as Error).message).toMatch(/nothing was changed[\s\S]*log group \/vpc\/nowhere does not exist[\s\S]*fix: .*--flow-log/);
    expect(h.kinesisCalls).not.toContain('CreateStream');
    expect([...h.dynamoCalls, ...commandNames(h.iam.mock)].filter((c) => MUTATING.test(c))).toEqual([]);
  });

  it('refuses to take over a same-named role that flowcut did not create', async () => {
    h.logs.groups.set('/vpc/flows-c', { tags: {} });
    h.iam.roles.set('flowcut-cwl-flows-c', { Arn: `arn:aws:iam::${ACCOUNT}:role/flowcut-cwl-flows-c`, trust: '{}', Tags: [], policies: new Map() });
    h.resetHistory();
    const ctx = h.context({ stream: 'flows-c', logGroup: '/vpc/flows-c' });
    await expect(applyAll(ctx, setupSteps(ctx.spec))).rejects.toThrow(/IAM role flowcut-cwl-flows-c: exists but was not created by flowcut/);
    expect(commandNames(h.iam.mock).filter((c) => MUTATING.test(c))).toEqual([]);
  });

  it("refuses to redirect a same-named subscription filter that sends somewhere else (someone else's feed)", async () => {
    h.logs.groups.set('/vpc/flows-siem', { tags: {} });
    const siem = `arn:aws:firehose:us-east-1:${ACCOUNT}:deliverystream/siem`;
    h.logs.filters.set('/vpc/flows-siem', [{ filterName: 'flowcut-flows-siem', filterPattern: '', destinationArn: siem, roleArn: `arn:aws:iam::${ACCOUNT}:role/siem`, distribution: 'ByLogStream' }]);
    h.resetHistory();
    const ctx = h.context({ stream: 'flows-siem', logGroup: '/vpc/flows-siem' });
    const err = await applyAll(ctx, setupSteps(ctx.spec)).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SetupError);
    expect((err as Error).message).toContain(`Subscription filter: flowcut-flows-siem on /vpc/flows-siem sends to ${siem}, not to arn:aws:kinesis:us-east-1:<ACCOUNT_ID>:stream/flows-siem; setup does not redirect a filter it did not point at this stream`);
    expect(h.logs.mock.commandCalls(PutSubscriptionFilterCommand)).toHaveLength(0);
    expect(h.logs.filters.get('/vpc/flows-siem')![0]!.destinationArn).toBe(siem);
  });

  it('retries the filter while a new role is not yet assumable (IAM propagation)', async () => {
    h.logs.groups.set('/vpc/flows-d', { tags: {} });
    h.logs.putFailures.push(
      Object.assign(new Error('Could not deliver test message to specified Kinesis stream. Check if the given IAM role has permission to access the stream.'), { name: 'InvalidParameterException', $metadata: {} }),
    );
    h.resetHistory();
    const { applied } = await setup({ stream: 'flows-d', logGroup: '/vpc/flows-d' });
    expect(applied.at(-1)!.done).toMatch(/after 2 attempts/);
    expect(h.logs.mock.commandCalls(PutSubscriptionFilterCommand)).toHaveLength(2);
    expect(h.progress.some((l) => /IAM propagation/.test(l))).toBe(true);
    // The filter was stored by the second (fake) call.
    expect(h.logs.filters.get('/vpc/flows-d')?.map((f) => f.filterName)).toEqual(['flowcut-flows-d']);
  });

  it('uses the format of an existing flow log for the pattern, and an existing unmanaged stream as is', async () => {
    h.logs.groups.set('/vpc/flows-e', { tags: {} });
    h.ec2.flowLogs.push({ FlowLogId: 'fl-0000000000000000e', ResourceId: 'vpc-0ee', LogGroupName: '/vpc/flows-e', LogFormat: '${version} ${srcaddr} ${dstaddr} ${action}', TrafficType: 'ALL' });
    await h.kinesis.send(new CreateStreamCommand({ StreamName: 'flows-e', ShardCount: 2 }));
    h.resetHistory();
    const ctx = h.context({ stream: 'flows-e', logGroup: '/vpc/flows-e' });
    await new Promise((r) => setTimeout(r, 100));
    const plan = await inspectAll(ctx, setupSteps(ctx.spec));
    expect(plan[0]!.finding.detail).toMatch(/2 open shards \(asked for 1 shard: left as is/);
    // Someone else's stream is not encrypted behind their back: the plan says how to.
    expect(plan[0]!.finding.detail).toContain(
      '(not encrypted at rest: left as is; aws kinesis start-stream-encryption --stream-name flows-e --encryption-type KMS --key-id alias/aws/kinesis turns it on',
    );
    const { applied } = await setup({ stream: 'flows-e', logGroup: '/vpc/flows-e' });
    expect(applied[0]!.done).toBeUndefined();
    expect(h.kinesisCalls).not.toContain('StartStreamEncryption');
    expect((await h.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'flows-e' }))).StreamDescriptionSummary!.EncryptionType).not.toBe('KMS');
    expect(h.logs.filters.get('/vpc/flows-e')![0]!.filterPattern).toBe('[version, srcaddr, dstaddr, action]');
  });

  it('uses the empty pattern (every record) for a flow log whose format has a field it does not know, instead of failing', async () => {
    h.logs.groups.set('/vpc/flows-g', { tags: {} });
    h.ec2.flowLogs.push({ FlowLogId: 'fl-0000000000000000f', ResourceId: 'vpc-0ff', LogGroupName: '/vpc/flows-g', LogFormat: '${version} ${srcaddr} ${field-of-the-future}', TrafficType: 'ALL' });
    await setup({ stream: 'flows-g', logGroup: '/vpc/flows-g' });
    expect(h.logs.filters.get('/vpc/flows-g')![0]!.filterPattern).toBe('');
  });
});

describe('flowcut setup --dry-run', () => {
  it('shows what exists and what would be created, with the equivalent CLI commands, and changes nothing', async () => {
    h.logs.groups.set('/vpc/flows-f', { tags: {} });
    h.resetHistory();
    const ctx = h.context({ stream: 'flows-f', logGroup: '/vpc/flows-f', shards: 'on-demand' });
    const text = formatPlan(ctx, await inspectAll(ctx, setupSteps(ctx.spec)));
    expect([...h.kinesisCalls, ...h.dynamoCalls, ...[h.iam.mock, h.logs.mock, h.ec2.mock].flatMap(commandNames)].filter((c) => MUTATING.test(c))).toEqual([]);
    expect(text).toContain('account <ACCOUNT_ID> (unknown until the stream exists; --account shows exact ARNs)');
    expect(text).toContain('  + Kinesis stream flows-f: missing: will create (on-demand)');
    expect(text).toContain('  + Subscription filter: flowcut-flows-f on /vpc/flows-f missing: will create (ByLogStream, pattern from the default v2 format (no flow log found for the group))');
    expect(text).toContain('Plan: 4 to create, 0 to change, 0 unchanged.');
    expect(text).toContain(
      "  aws kinesis create-stream --stream-name flows-f --stream-mode-details StreamMode=ON_DEMAND --tags flowcut:managed=true,flowcut:pipeline=flows-f --region us-east-1",
    );
    expect(text).toContain('  aws kinesis wait stream-exists --stream-name flows-f --region us-east-1');
    expect(text).toContain('  aws kinesis start-stream-encryption --stream-name flows-f --encryption-type KMS --key-id alias/aws/kinesis --region us-east-1');
    expect(text).toContain(
      `  aws iam put-role-policy --role-name flowcut-cwl-flows-f --policy-name flowcut-put-records --policy-document '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kinesis:PutRecord","kinesis:PutRecords"],"Resource":"arn:aws:kinesis:us-east-1:<ACCOUNT_ID>:stream/flows-f"}]}'`,
    );
    expect(text).toContain(
      "  aws logs put-subscription-filter --log-group-name /vpc/flows-f --filter-name flowcut-flows-f --filter-pattern '[version, account_id, interface_id, srcaddr, dstaddr, srcport, dstport, protocol, packets, bytes, start, end, action, log_status]' --destination-arn 'arn:aws:kinesis:us-east-1:<ACCOUNT_ID>:stream/flows-f' --role-arn 'arn:aws:iam::<ACCOUNT_ID>:role/flowcut-cwl-flows-f' --distribution ByLogStream --region us-east-1",
    );
    expect(text).toContain('Replace <ACCOUNT_ID> with your account id (or run with --account).');

    const exact = h.context({ stream: 'flows-f', logGroup: '/vpc/flows-f', account: '123456789012' });
    const text2 = formatPlan(exact, await inspectAll(exact, setupSteps(exact.spec)));
    expect(text2).toContain('arn:aws:kinesis:us-east-1:123456789012:stream/flows-f');
    expect(text2).not.toContain('<ACCOUNT_ID>');
  });

  it('lists the archive bucket\'s TLS-only policy among the commands', async () => {
    const ctx = h.context({ stream: 'flows-t', logGroup: '/vpc/flows-t', archiveBucket: 'flowcut-test-archive-t' });
    const text = formatPlan(ctx, await inspectAll(ctx, setupSteps(ctx.spec)));
    expect(text).toContain('  + S3 archive bucket: flowcut-test-archive-t missing: will create (private, TLS only, archive under s3://flowcut-test-archive-t/flowcut/)');
    expect(text).toContain(
      `  aws s3api put-bucket-policy --bucket flowcut-test-archive-t --policy '{"Version":"2012-10-17","Statement":[{"Sid":"DenyInsecureTransport","Effect":"Deny","Principal":"*","Action":"s3:*","Resource":["arn:aws:s3:::flowcut-test-archive-t","arn:aws:s3:::flowcut-test-archive-t/*"],"Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}' --region us-east-1`,
    );
  });

  it('after setup, reports that nothing would change', async () => {
    const ctx = h.context(FULL);
    const text = formatPlan(ctx, await inspectAll(ctx, setupSteps(ctx.spec)));
    expect(text).toContain('Nothing to change: all 9 resources exist as configured.');
    expect(text).not.toContain('Equivalent AWS CLI commands');
  });
});

describe('flowcut teardown', () => {
  it('deletes what setup created, keeps what it did not, and keeps an archive that holds data', async () => {
    // An unrelated filter and a stream flowcut did not create must survive.
    await h.kinesis.send(new CreateStreamCommand({ StreamName: 'findings-g', ShardCount: 1 }));
    h.s3.buckets.get('flowcut-test-archive-a')!.objects = 3;
    const ctx = h.context({ ...FULL, outputStream: 'findings-g' });
    const items = await planTeardown(ctx, { flowLogRoleName: 'flowcut-flowlogs-flows-a' });
    expect(items.map((i) => [i.title, i.action])).toEqual([
      ['VPC flow log fl-00000000000000001', 'delete'],
      ['Subscription filter flowcut-flows-a on /vpc/flows-a', 'delete'],
      ['IAM role flowcut-cwl-flows-a', 'delete'],
      ['IAM role flowcut-flowlogs-flows-a', 'delete'],
      ['CloudWatch Logs group /vpc/flows-a', 'delete'],
      ['DynamoDB lease table flowcut-flows-a', 'delete'],
      ['Kinesis stream findings-g', 'keep'],
      ['Kinesis stream flows-a', 'delete'],
      ['S3 bucket flowcut-test-archive-a', 'keep'],
    ]);
    expect(formatTeardown(items)).toContain('7 resources to delete.');
    h.resetHistory();
    expect(await runTeardown(items, () => {})).toBe(7);
    expect(h.iam.roles.has('flowcut-cwl-flows-a')).toBe(false);
    expect(h.logs.groups.has('/vpc/flows-a')).toBe(false);
    expect(h.ec2.flowLogs.filter((f) => f.LogGroupName === '/vpc/flows-a')).toEqual([]);
    expect(h.s3.buckets.has('flowcut-test-archive-a')).toBe(true);
    expect(h.kinesisCalls.filter((c) => c === 'DeleteStream')).toHaveLength(1);
    expect(h.dynamoCalls).toContain('DeleteTable');
    // A second plan finds nothing of ours left (the input stream may still show while DELETING).
    const again = await planTeardown(h.context({ ...FULL, outputStream: 'findings-g' }), { flowLogRoleName: 'flowcut-flowlogs-flows-a' });
    expect(again.filter((i) => i.action === 'delete' && i.title !== 'Kinesis stream flows-a')).toEqual([]);
  });

  it("neither rewrites nor deletes the same pipeline's role that serves another region (IAM roles are global)", async () => {
    h.logs.groups.set('/vpc/flows-eu', { tags: {} });
    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Principal: { Service: 'logs.eu-west-1.amazonaws.com' }, Action: 'sts:AssumeRole', Condition: { ArnLike: { 'aws:SourceArn': `arn:aws:logs:eu-west-1:${ACCOUNT}:*` } } }],
    });
    h.iam.roles.set('flowcut-cwl-flows-eu', { Arn: `arn:aws:iam::${ACCOUNT}:role/flowcut-cwl-flows-eu`, trust: encodeURIComponent(trust), Tags: [...TAGS.filter((t) => t.Key !== 'flowcut:pipeline'), { Key: 'flowcut:pipeline', Value: 'flows-eu' }], policies: new Map() });
    h.resetHistory();
    const ctx = h.context({ stream: 'flows-eu', logGroup: '/vpc/flows-eu' });
    const err = await applyAll(ctx, setupSteps(ctx.spec)).catch((e: unknown) => e);
    expect((err as Error).message).toContain(`IAM role flowcut-cwl-flows-eu: serves this pipeline in eu-west-1 (its trust policy names that region); IAM roles are global, and rewriting it for ${REGION} would stop delivery there`);
    expect((err as Error).message).toContain(`fix: give this region's pipeline its own roles: --role-name flowcut-cwl-flows-eu-${REGION}`);
    expect(commandNames(h.iam.mock).filter((c) => MUTATING.test(c))).toEqual([]);
    const items = await planTeardown(h.context({ stream: 'flows-eu', logGroup: '/vpc/flows-eu' }), { flowLogRoleName: 'flowcut-flowlogs-flows-eu' });
    expect(items.find((i) => i.title === 'IAM role flowcut-cwl-flows-eu')).toMatchObject({ action: 'keep', detail: `serves this pipeline in eu-west-1 (its trust policy names that region), not in ${REGION}` });
  });

  it('leaves a filter alone that does not send through flowcut\'s own role', async () => {
    h.logs.groups.set('/vpc/flows-h', { tags: {} });
    h.logs.filters.set('/vpc/flows-h', [{ filterName: 'flowcut-flows-h', destinationArn: `arn:aws:kinesis:${REGION}:${ACCOUNT}:stream/flows-h`, roleArn: `arn:aws:iam::${ACCOUNT}:role/someone-elses` }]);
    const items = await planTeardown(h.context({ stream: 'flows-h', logGroup: '/vpc/flows-h' }), { flowLogRoleName: 'flowcut-flowlogs-flows-h' });
    expect(items.find((i) => i.title.startsWith('Subscription filter'))!.action).toBe('keep');
    expect(items.find((i) => i.title.startsWith('CloudWatch Logs group'))!.action).toBe('keep');
  });
});
