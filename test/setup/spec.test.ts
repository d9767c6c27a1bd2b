/** Flag validation, derived names and patterns, and the consumer's least-privilege policy. */
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { consumerPolicy } from '../../src/aws/setup/policies.js';
import { awsCli, shq } from '../../src/aws/setup/shell.js';
import { filterPatternFor, patternFieldCount, resolveSpec, SpecError } from '../../src/aws/setup/spec.js';
import { FlowFormat } from '../../src/flowlog/format.js';
import { registerTeardown } from '../../src/cli/commands/teardown.js';

const PLACE = { partition: 'aws', region: 'eu-west-1', account: '123456789012' };

describe('setup flags', () => {
  it('derives every name from the stream and validates against AWS rules', () => {
    const s = resolveSpec({ stream: 'vpc-flows', logGroup: '/vpc/flows' });
    expect(s).toMatchObject({
      filterName: 'flowcut-vpc-flows',
      roleName: 'flowcut-cwl-vpc-flows',
      leaseTable: 'flowcut-vpc-flows',
      capacity: { mode: 'PROVISIONED', shards: 1 },
      distribution: 'ByLogStream',
      flowLog: undefined,
    });
    expect(resolveSpec({ stream: 's', logGroup: 'g', shards: 'on-demand', distribution: 'random' }).distribution).toBe('Random');
    expect(() => resolveSpec({ stream: 'bad name', logGroup: 'g' })).toThrow(/--stream 'bad name' is not a valid name/);
    expect(() => resolveSpec({ stream: 's'.repeat(60), logGroup: 'g' })).toThrow(/default name 'flowcut-cwl-s+' is not valid .*--role-name/);
    expect(() => resolveSpec({ stream: 's', logGroup: 'g', shards: '0' })).toThrow(SpecError);
    expect(() => resolveSpec({ stream: 's', logGroup: 'g', flowLog: 'i-0123456789abcdef0' })).toThrow(/--flow-log must be a VPC, subnet or network interface id/);
    expect(() => resolveSpec({ stream: 's', logGroup: 'g', logFormat: '${srcaddr}' })).toThrow(/only apply with --flow-log/);
    expect(() => resolveSpec({ stream: 's', logGroup: 'g', archiveBucket: 'Upper_Case' })).toThrow(/--archive-bucket/);
    expect(() => resolveSpec({ stream: 's', logGroup: 'g', flowLog: 'eni-0123456789abcdef0', logRetentionDays: '10' })).toThrow(/--log-retention-days/);
    expect(resolveSpec({ stream: 's', logGroup: 'g', flowLog: 'eni-0123456789abcdef0' }).flowLog).toMatchObject({ resourceType: 'NetworkInterface', trafficType: 'ALL', roleName: 'flowcut-flowlogs-s', retentionDays: 7 });
  });

  it('builds a space-delimited pattern with one name per field of the format', () => {
    const f = FlowFormat.parse('${version} ${interface-id} ${tcp-flags} ${pkt-srcaddr}');
    expect(filterPatternFor(f)).toBe('[version, interface_id, tcp_flags, pkt_srcaddr]');
    expect(patternFieldCount(filterPatternFor(FlowFormat.DEFAULT))).toBe(14);
    expect(patternFieldCount('')).toBeUndefined();
    // '...' matches any number of fields: nothing to compare a record's field count with.
    expect(patternFieldCount('[..., action="REJECT", ...]')).toBeUndefined();
  });

  it('quotes CLI arguments for a POSIX shell', () => {
    expect(shq('plain-arn:aws:x/y')).toBe('plain-arn:aws:x/y');
    expect(shq("it's")).toBe(`'it'\\''s'`);
    expect(shq('')).toBe(`''`);
    expect(awsCli('logs', 'put-x', { a: 'b c', flag: true, off: false, none: undefined }, 'eu-west-1')).toBe("aws logs put-x --a 'b c' --flag --region eu-west-1");
  });
});

describe("the consumer's least-privilege policy", () => {
  it('grants Kinesis reads and EFO on the stream, the lease table, the archive prefix and PutRecords on the output stream, nothing more', () => {
    const spec = resolveSpec({ stream: 'vpc-flows', logGroup: '/vpc/flows', archiveBucket: 'arch', archivePrefix: 'flows', outputStream: 'findings' });
    expect(consumerPolicy(PLACE, spec)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'ReadFlowStream',
          Effect: 'Allow',
          Action: ['kinesis:DescribeStreamSummary', 'kinesis:ListShards', 'kinesis:GetShardIterator', 'kinesis:GetRecords', 'kinesis:RegisterStreamConsumer'],
          Resource: 'arn:aws:kinesis:eu-west-1:123456789012:stream/vpc-flows',
        },
        {
          Sid: 'EnhancedFanOut',
          Effect: 'Allow',
          Action: ['kinesis:DescribeStreamConsumer', 'kinesis:SubscribeToShard'],
          Resource: 'arn:aws:kinesis:eu-west-1:123456789012:stream/vpc-flows/consumer/*',
        },
        {
          Sid: 'Leases',
          Effect: 'Allow',
          Action: ['dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem', 'dynamodb:Scan'],
          Resource: 'arn:aws:dynamodb:eu-west-1:123456789012:table/flowcut-vpc-flows',
        },
        { Sid: 'ArchiveObjects', Effect: 'Allow', Action: ['s3:PutObject', 's3:GetObject', 's3:DeleteObject'], Resource: 'arn:aws:s3:::arch/flows/*' },
        { Sid: 'ArchiveList', Effect: 'Allow', Action: 's3:ListBucket', Resource: 'arn:aws:s3:::arch' },
        { Sid: 'WriteFindings', Effect: 'Allow', Action: 'kinesis:PutRecords', Resource: 'arn:aws:kinesis:eu-west-1:123456789012:stream/findings' },
      ],
    });
  });

  it('leaves out archive and output statements when those resources are not asked for', () => {
    const sids = consumerPolicy(PLACE, resolveSpec({ stream: 's', logGroup: 'g' })).Statement.map((s) => s.Sid);
    expect(sids).toEqual(['ReadFlowStream', 'EnhancedFanOut', 'Leases']);
  });
});

describe('flowcut teardown', () => {
  it('refuses without a terminal and without --yes, before calling AWS', async () => {
    const program = new Command().exitOverride();
    registerTeardown(program);
    const tty = process.stdin.isTTY;
    process.stdin.isTTY = false;
    try {
      await expect(program.parseAsync(['teardown', '--stream', 's', '--log-group', 'g', '--region', 'eu-west-1'], { from: 'user' })).rejects.toThrow(
        /refusing to delete without confirmation: no terminal to ask on; pass --yes/,
      );
    } finally {
      process.stdin.isTTY = tty;
    }
  });
});

describe('an archive bucket in another region', () => {
  it('exists (S3 answers HEAD with 301 and the region in a header), instead of failing setup', async () => {
    const { headBucket } = await import('../../src/aws/setup/steps/bucket.js');
    const sent: unknown[] = [];
    const redirect = Object.assign(new Error('Unknown'), { name: '301', $metadata: { httpStatusCode: 301 }, $response: { headers: { 'x-amz-bucket-region': 'eu-central-1' } } });
    const ctx = { clients: { s3: { send: async (cmd: { input: unknown }) => { sent.push(cmd.input); throw redirect; } } } };
    expect(await headBucket(ctx as unknown as Parameters<typeof headBucket>[0], 'flows-archive')).toEqual({ state: 'exists', region: 'eu-central-1' });
    expect(sent).toEqual([{ Bucket: 'flows-archive' }]);
  });
});
