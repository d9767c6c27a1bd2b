import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { subscriptionPayload, controlMessagePayload } from '../../src/sim/cloudwatch.js';
import { SHARED } from '../support/collect.js';
import { localKinesisClient, localS3Client, S3RVER_CREDENTIALS, startKinesisLocal, startS3rver, type LocalServer } from '../support/local-servers.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
const SAMPLE = `${SHARED}data/samples/splunk-cloudfwd/cloudwatchlogs_vpcflowlog_lambdaprocessed.sample`;
const run = promisify(execFile);

interface Result {
  code: number;
  stdout: string;
  stderr: string;
}

async function flowcut(args: string[], env: Record<string, string> = {}, stdin?: Buffer): Promise<Result> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '', FORCE_COLOR: '0', ...env } });
  const out: Buffer[] = [], err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  child.stdin.end(stdin ?? '');
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

describe('flowcut cat on files and stdin', () => {
  it('prints JSON lines with AWS column names when piped', async () => {
    const r = await flowcut(['cat', SAMPLE, '--limit', '2']);
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines).toEqual([
      { version: 2, account_id: '251620272209', interface_id: 'eni-b1578161', srcaddr: '172.16.1.167', dstaddr: '172.16.1.32', srcport: 53580, dstport: 53, protocol: 17, packets: 1, bytes: 86, start: 1506905806, end: 1506905858, action: 'ACCEPT', log_status: 'OK' },
      expect.objectContaining({ srcport: 445, dstport: 60287, protocol: 6, bytes: 1636 }),
    ]);
  });

  it('prints an aligned table with ISO times and protocol names, REJECT in red', async () => {
    const r = await flowcut(['cat', SAMPLE, '-o', 'table', '--where', 'action=REJECT', '-n', '3'], { FORCE_COLOR: '1' });
    expect(r.code).toBe(0);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines).toHaveLength(4);
    const plain = lines.map((l) => l.replace(/\x1b\[[0-9;]*m/g, ''));
    expect(plain[0]).toMatch(/^version\s+account_id\s+interface_id\s+srcaddr\s+dstaddr\s+srcport\s+dstport\s+protocol\s+packets\s+bytes\s+start\s+end\s+action\s+log_status$/);
    expect(plain[1]).toMatch(/ TCP | UDP | ICMP /);
    expect(plain[1]).toMatch(/2017-10-0\dT\d\d:\d\d:\d\dZ/);
    const actionCol = plain[0]!.indexOf('action');
    for (const l of plain.slice(1)) expect(l.slice(actionCol, actionCol + 6)).toBe('REJECT');
    expect(lines[1]).toContain('\x1b[31m\x1b[1mREJECT');
  });

  it('counts, filters and writes CSV', async () => {
    const count = await flowcut(['cat', SAMPLE, '-o', 'count', '--where', 'action=REJECT', '--where', 'dstport=445']);
    expect(count.stdout).toBe('14\n');
    expect(count.stderr).toMatch(/5,000 records decoded, 14 written/);
    const csv = await flowcut(['cat', SAMPLE, '-o', 'csv', '-n', '1', '-q']);
    expect(csv.stdout).toBe('version,account_id,interface_id,srcaddr,dstaddr,srcport,dstport,protocol,packets,bytes,start,end,action,log_status\n2,251620272209,eni-b1578161,172.16.1.167,172.16.1.32,53580,53,17,1,86,1506905806,1506905858,ACCEPT,OK\n');
    expect(csv.stderr).toBe('');
  });

  it('keeps bad lines in --rejects, reports their location and goes on', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowcut-cli-'));
    const input = join(dir, 'mixed.log');
    writeFileSync(input, ['2 1 eni-1 1.1.1.1 2.2.2.2 1 2 17 1 2 3 4 ACCEPT OK', '2 1 eni-1 1.1.1.1 2.2.2.2 1 2 17 1 2 3 4 ACCEPT', 'garbage', '2 1 eni-1 1.1.1.1 2.2.2.2 1 2 17 1 2 3 4 REJECT OK'].join('\n'));
    const rejects = join(dir, 'rejects.jsonl');
    const r = await flowcut(['cat', input, '-o', 'count', '--rejects', rejects]);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('2\n');
    expect(r.stderr).toContain(`${input}:2: too few fields: the format has 14, the line has 13`);
    expect(r.stderr).toContain(`${input}:3: version: 'garbage' is not a number`);
    expect(r.stderr).toContain(`2 rejected (kept in ${rejects})`);
    const kept = readFileSync(rejects, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line: number; text: string });
    expect(kept.map((k) => [k.line, k.text])).toEqual([[2, '2 1 eni-1 1.1.1.1 2.2.2.2 1 2 17 1 2 3 4 ACCEPT'], [3, 'garbage']]);
    // Owner only: rejects can hold whole payloads.
    expect(statSync(rejects).mode & 0o777).toBe(0o600);
  });

  it('says so, without a stack trace, when --rejects cannot be written', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowcut-cli-'));
    const input = join(dir, 'bad.log');
    writeFileSync(input, 'garbage\n'.repeat(100));
    const missing = await flowcut(['cat', input, '-o', 'count', '--rejects', join(dir, 'no/such/dir.jsonl')]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/cannot write --rejects .*no\/such\/dir\.jsonl: ENOENT/);
    expect(missing.stderr).not.toMatch(/\n\s+at /);
    const full = await flowcut(['cat', input, '-o', 'count', '--rejects', '/dev/full']);
    expect(full.code).toBe(1);
    expect(full.stderr).toMatch(/cannot write --rejects \/dev\/full: ENOSPC/);
    expect(full.stderr).not.toMatch(/\n\s+at /);
    expect(full.stderr).not.toContain('kept in /dev/full');
  });

  it('keeps the line a truncated gzip on stdin cut off, with its bytes', async () => {
    const lines = Array.from({ length: 2000 }, (_, i) => `2 1 eni-1 1.1.1.1 2.2.2.2 1 ${i} 17 1 2 3 4 ACCEPT OK`).join('\n');
    const gz = gzipSync(lines);
    const dir = mkdtempSync(join(tmpdir(), 'flowcut-cli-'));
    const rejects = join(dir, 'rejects.jsonl');
    const r = await flowcut(['cat', '-', '-o', 'count', '--rejects', rejects], {}, gz.subarray(0, gz.length - 40));
    const kept = readFileSync(rejects, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { line?: number; reason: string; data?: string });
    const records = Number(r.stdout);
    expect(kept).toHaveLength(2);
    expect(kept[0]).toMatchObject({ line: records + 1, reason: expect.stringMatching(/^line cut off: .*truncated/) });
    // Whole lines decoded, plus the kept piece, are exactly what the truncated stream held.
    expect(lines.startsWith(lines.split('\n').slice(0, records).join('\n') + '\n' + Buffer.from(kept[0]!.data!, 'base64').toString())).toBe(true);
    expect(kept[1]!.reason).toMatch(new RegExp(`truncated.*after line ${records}\\)`));
  });

  it('reads `aws kinesis get-records` output from stdin', async () => {
    const data = subscriptionPayload(['2 1 eni-9 1.1.1.1 2.2.2.2 1 22 6 1 2 3 4 REJECT OK'], { logStream: 'eni-9-all', logGroup: 'flows' });
    const json = JSON.stringify({ Records: [{ SequenceNumber: '1', ApproximateArrivalTimestamp: 1.7e9, Data: data.toString('base64'), PartitionKey: 'x' }] });
    const r = await flowcut(['cat', '-'], {}, Buffer.from(json));
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ interface_id: 'eni-9', dstport: 22, action: 'REJECT', log_group: 'flows', log_stream: 'eni-9-all' });
  });

  it('uses --format for headerless custom lines', async () => {
    const r = await flowcut(['cat', '-', '--format', '${interface-id} ${tcp-flags} ${flow-direction}', '-o', 'table'], {}, Buffer.from('eni-1 18 ingress\n'));
    expect(r.stdout).toMatch(/interface_id\s+tcp_flags\s+flow_direction\neni-1\s+SYN\|ACK \(18\)\s+ingress/);
  });

  it.each([
    [['cat', SAMPLE, '--where', 'colour=red'], 2, /unknown field 'colour'/],
    [['cat', SAMPLE, '--format', '${nope}'], 2, /unknown field: nope/],
    [['cat', '/nonexistent/x.log'], 1, /no such file or directory: \/nonexistent\/x.log/],
    [['cat', 'kinesis://s', '--from', 'yesterday'], 2, /--from must be latest, trim-horizon or an ISO time/],
    [['cat', 'ftp://x/y'], 2, /unsupported source 'ftp:\/\/x\/y'/],
    [['cat', SAMPLE, '-o', 'xml'], 1, /argument 'xml' is invalid/],
  ])('explains bad usage: %j', async (args, code, message) => {
    const r = await flowcut(args);
    expect(r.code).toBe(code);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/    at /);
  });

  it('explains itself in --help', async () => {
    const { stdout } = await run(process.execPath, [CLI, 'cat', '--help']);
    for (const text of ['kinesis://STREAM', '--where', '--rejects', '--from', 'trim-horizon', 'Examples:']) expect(stdout).toContain(text);
  });
});

describe('flowcut cat on S3 and Kinesis (local servers)', () => {
  let s3: LocalServer;
  let kinesis: LocalServer;

  beforeAll(async () => {
    [s3, kinesis] = await Promise.all([startS3rver(), startKinesisLocal({ initializeStreams: 'flows:2' })]);
  });
  afterAll(async () => {
    await Promise.all([s3?.stop(), kinesis?.stop()]);
  });

  it('reads every object under an s3:// prefix, text and gzip', async () => {
    const client = localS3Client(s3.endpoint);
    await client.send(new CreateBucketCommand({ Bucket: 'flow-logs' }));
    const key = (n: number) => `AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/01/05/123456789012_vpcflowlogs_us-east-1_fl-0a_20260105T000${n}Z_abc${n}.log.gz`;
    const header = 'version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n';
    const text = readFileSync(SAMPLE, 'utf8');
    await client.send(new PutObjectCommand({ Bucket: 'flow-logs', Key: key(1), Body: gzipSync(header + text) }));
    await client.send(new PutObjectCommand({ Bucket: 'flow-logs', Key: key(2), Body: gzipSync(header + text.split('\n').slice(0, 10).join('\n')) }));
    await client.send(new PutObjectCommand({ Bucket: 'flow-logs', Key: 'elsewhere/x.log', Body: 'not under the prefix' }));
    client.destroy();
    const r = await flowcut(['cat', 's3://flow-logs/AWSLogs/', '-o', 'count', '--where', 'action=REJECT'], {
      AWS_ENDPOINT_URL_S3: s3.endpoint, AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey, AWS_REGION: 'us-east-1',
    });
    expect(r.stderr).toMatch(/5,010 records decoded, 140 written, 2 header lines/);
    expect(r.stdout).toBe('140\n');
  });

  it('tails kinesis://STREAM from the trim horizon, skipping control messages', async () => {
    const client = localKinesisClient(kinesis.endpoint);
    const lines = readFileSync(SAMPLE, 'utf8').split('\n').slice(0, 300);
    const entries = [0, 1, 2].map((k) => ({ Data: subscriptionPayload(lines.slice(k * 100, k * 100 + 100), { logStream: `eni-${k}-all` }), PartitionKey: `eni-${k}` }));
    entries.push({ Data: controlMessagePayload(), PartitionKey: 'control' });
    const put = await client.send(new PutRecordsCommand({ StreamName: 'flows', Records: entries }));
    expect(put.FailedRecordCount).toBe(0);
    client.destroy();
    const r = await flowcut(['cat', 'kinesis://flows', '--from', 'trim-horizon', '--exit-when-idle', '2', '-o', 'jsonl'], {
      AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint, AWS_ACCESS_KEY_ID: 'local', AWS_SECRET_ACCESS_KEY: 'local', AWS_REGION: 'us-east-1',
    });
    expect(r.code).toBe(0);
    const records = r.stdout.trim().split('\n').map((l) => JSON.parse(l) as { log_stream: string; srcaddr: string });
    expect(records).toHaveLength(300);
    expect(new Set(records.map((x) => x.log_stream))).toEqual(new Set(['eni-0-all', 'eni-1-all', 'eni-2-all']));
    expect(r.stderr).toMatch(/300 records decoded, 300 written, .*1 control message skipped/);
  }, 60_000);
});
