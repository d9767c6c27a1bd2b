/** `flowcut doctor` against kinesis-local + dynalite (records, lag) and the fakes (filter, role, flow log). */
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { DescribeStreamSummaryCommand, KinesisClient, PutRecordsCommand, StopStreamEncryptionCommand } from '@aws-sdk/client-kinesis';
import { mockClient } from 'aws-sdk-client-mock';
import { describe, expect, it } from 'vitest';
import { runDoctor, formatChecks, type Check } from '../../src/aws/setup/doctor.js';
import { applyAll, SetupContext } from '../../src/aws/setup/engine.js';
import { resolveSpec } from '../../src/aws/setup/spec.js';
import { setupSteps } from '../../src/aws/setup/steps/index.js';
import { FlowFormat } from '../../src/flowlog/format.js';
import { awsError } from './fakes.js';
import { REGION, useHarness, type Harness } from './harness.js';

let h: Harness;
useHarness((x) => (h = x));

const OPTS = { windowMs: 10 * 60_000, maxReadsPerShard: 5, lagWarnMs: 60_000 };
const byName = (checks: Check[]) => Object.fromEntries(checks.map((c) => [c.name, c]));

/** A pipeline as setup leaves it, fed by an existing flow log in the default format. */
async function pipeline(stream: string): Promise<void> {
  const group = `/vpc/${stream}`;
  h.logs.groups.set(group, { tags: {}, lastIngestionTime: Date.now() - 30_000 });
  h.ec2.flowLogs.push({
    FlowLogId: `fl-${stream}`,
    ResourceId: 'vpc-0123456789abcdef0',
    LogGroupName: group,
    LogFormat: FlowFormat.DEFAULT.spec,
    TrafficType: 'ALL',
    MaxAggregationInterval: 60,
    FlowLogStatus: 'ACTIVE',
    DeliverLogsStatus: 'SUCCESS',
    DeliverLogsPermissionArn: 'arn:aws:iam::000000000000:role/flow-delivery',
  });
  const ctx = h.context({ stream, logGroup: group });
  await applyAll(ctx, setupSteps(ctx.spec));
}

describe('flowcut doctor', () => {
  it('passes a healthy pipeline: records arriving, consumer lag from MillisBehindLatest after its checkpoint', async () => {
    await pipeline('doc-a');
    const put = await h.kinesis.send(
      new PutRecordsCommand({ StreamName: 'doc-a', Records: [1, 2, 3].map((i) => ({ Data: Buffer.from(`record ${i}`), PartitionKey: `eni-${i}` })) }),
    );
    const first = put.Records![0]!;
    await h.dynamodb.send(
      new PutItemCommand({
        TableName: 'flowcut-doc-a',
        Item: { leaseKey: { S: first.ShardId! }, leaseOwner: { S: 'worker-1' }, leaseCounter: { N: '4' }, checkpoint: { S: first.SequenceNumber! } },
      }),
    );
    const checks = await runDoctor(h.context({ stream: 'doc-a', logGroup: '/vpc/doc-a' }), OPTS);
    expect(checks.map((c) => [c.name, c.status])).toEqual([
      ['credentials', 'pass'],
      ['stream', 'pass'],
      ['encryption at rest', 'pass'],
      ['flow log', 'pass'],
      ['log events', 'pass'],
      ['subscription filter', 'pass'],
      ['role trust', 'pass'],
      ['role permissions', 'pass'],
      ['records', 'pass'],
      ['consumer lag', 'pass'],
    ]);
    const c = byName(checks);
    expect(c['encryption at rest']!.detail).toBe('doc-a encrypted with alias/aws/kinesis');
    expect(c.records!.detail).toMatch(/^3 record\(s\) in the last 10 min/);
    expect(c['consumer lag']!.detail).toMatch(/behind over 1 lease\(s\)$/);
    expect(formatChecks(checks)).toContain('All checks passed.');
  });

  it('explains each broken link with its fix', async () => {
    await pipeline('doc-b');
    // Break the pipeline the ways it breaks in practice.
    const role = h.iam.roles.get('flowcut-cwl-doc-b')!;
    role.trust = JSON.stringify({ Version: '2012-10-17', Statement: [{ Effect: 'Allow', Principal: { Service: 'ec2.amazonaws.com' }, Action: 'sts:AssumeRole' }] });
    role.policies.clear();
    h.logs.filters.get('/vpc/doc-b')![0]!.filterPattern = '[version, account, eni, srcaddr]';
    const fl = h.ec2.flowLogs.find((f) => f.FlowLogId === 'fl-doc-b')!;
    fl.DeliverLogsStatus = 'FAILED';
    fl.DeliverLogsErrorMessage = 'Access error';
    h.logs.groups.get('/vpc/doc-b')!.lastIngestionTime = Date.now() - 3 * 3600_000;
    await h.kinesis.send(new StopStreamEncryptionCommand({ StreamName: 'doc-b', EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' }));
    for (let i = 0; i < 100; i++) {
      const s = (await h.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: 'doc-b' }))).StreamDescriptionSummary!;
      if (s.StreamStatus === 'ACTIVE' && s.EncryptionType !== 'KMS') break;
      await new Promise((r) => setTimeout(r, 50));
    }

    const checks = await runDoctor(h.context({ stream: 'doc-b', logGroup: '/vpc/doc-b' }), OPTS);
    const c = byName(checks);
    expect(c['flow log']).toMatchObject({ status: 'fail', detail: expect.stringContaining('cannot deliver: Access error') });
    expect(c['log events']).toMatchObject({ status: 'warn', detail: 'last event ingested 180 min ago' });
    expect(c['subscription filter']).toMatchObject({ status: 'fail', detail: 'pattern names 4 fields but the flow log writes 14: no event matches' });
    expect(c['role trust']).toMatchObject({ status: 'fail', detail: `flowcut-cwl-doc-b does not trust logs.${REGION}.amazonaws.com` });
    expect(c['role permissions']).toMatchObject({ status: 'fail', detail: 'flowcut-cwl-doc-b may not kinesis:PutRecord, kinesis:PutRecords on the stream' });
    expect(c.records).toMatchObject({ status: 'fail', detail: 'no record arrived on any of 1 shard(s) in the last 10 min' });
    expect(c.consumer).toMatchObject({ status: 'warn', detail: expect.stringContaining('holds no leases') });
    expect(c['encryption at rest']).toMatchObject({
      status: 'warn',
      detail: 'doc-b is not encrypted at rest',
      fix: `aws kinesis start-stream-encryption --stream-name doc-b --encryption-type KMS --key-id alias/aws/kinesis --region ${REGION} (the AWS-managed key asks no KMS permission of writers or readers)`,
    });
    for (const x of checks.filter((k) => k.status === 'fail')) expect(x.fix, x.name).toBeTruthy();
    const text = formatChecks(checks);
    expect(text).toContain('FAIL role trust: flowcut-cwl-doc-b does not trust logs.us-east-1.amazonaws.com\n     fix: run flowcut setup again');
    expect(text).toMatch(/5 checks failed\.\n$/);
  });

  it('stops at rejected credentials and says how to fix them', async () => {
    const kinesis = new KinesisClient({ region: REGION, credentials: { accessKeyId: 'x', secretAccessKey: 'y' } });
    const mock = mockClient(kinesis);
    mock.on(DescribeStreamSummaryCommand).rejects(awsError('UnrecognizedClientException', 400, 'The security token included in the request is invalid.'));
    const ctx = new SetupContext(
      { kinesis, dynamodb: h.dynamodb, s3: h.s3.client, iam: h.iam.client, logs: h.logs.client, ec2: h.ec2.client },
      resolveSpec({ stream: 'doc-c', logGroup: '/vpc/doc-c' }),
      REGION,
      { progress: () => {}, sleep: async () => {}, waitTimeoutMs: 1000, pollMs: 1 },
    );
    const checks = await runDoctor(ctx, OPTS);
    expect(checks).toHaveLength(1);
    expect(checks[0]).toMatchObject({ name: 'credentials', status: 'fail', fix: expect.stringContaining('aws sso login') });
    mock.restore();
  });
});
