import { spawn } from 'node:child_process';
import { copyFileSync, mkdtempSync, readdirSync, readFileSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeParquet } from '../../src/archive/parquet/writer.js';
import { localS3Client, S3RVER_CREDENTIALS, startS3rver, type LocalServer } from '../support/local-servers.js';

const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;

async function flowcut(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { env: { ...process.env, NO_COLOR: '1', ...env } });
  const out: Buffer[] = [], err: Buffer[] = [];
  child.stdout.on('data', (d: Buffer) => out.push(d));
  child.stderr.on('data', (d: Buffer) => err.push(d));
  child.stdin.end();
  const code = await new Promise<number>((resolve) => child.on('close', (c) => resolve(c ?? -1)));
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => (statSync(join(dir, n)).isDirectory() ? walk(join(dir, n)) : [join(dir, n)]));
}

const tmp = mkdtempSync(join(tmpdir(), 'flowcut-archive-cli-'));
const input = join(tmp, 'input');
/** Distinct records and their total, from `flowcut cat` on the same input (the reference decoder). */
let expected: { records: number; bytes: number; rejected: number };

const COUNT_SQL = `SELECT count(*) AS n, count(DISTINCT source_location || '#' || sub_index) AS d, sum(bytes) AS bytes FROM flows`;

beforeAll(async () => {
  // Two hours of simulated traffic in AWS's S3 layout (.log.gz with headers), plus a bad line.
  const sim = await flowcut(['simulate', '--minutes', '150', '--as', 's3', '--out', input]);
  expect(sim.code).toBe(0);
  writeFileSync(join(input, 'extra.log'), '2 123456789012 eni-0abc 10.0.0.1 10.0.0.2 1 2 6 3 400 1767571200 1767571260 ACCEPT OK\nthis is not a flow log\n');
  const lines = (await flowcut(['cat', input, '-o', 'jsonl', '-q'])).stdout.trim().split('\n').map((l) => JSON.parse(l) as { bytes: number | null });
  expected = { records: lines.length, bytes: lines.reduce((s, l) => s + (l.bytes ?? 0), 0), rejected: 1 };
}, 60_000);

afterAll(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('flowcut archive and query on local disk', () => {
  const archive = join(tmp, 'archive');

  it('archives every record once, and a second run (and --force) leaves one copy', async () => {
    const rejects = join(tmp, 'rejects.jsonl');
    const first = await flowcut(['archive', input, '--to', archive, '--rejects', rejects]);
    expect(first.code).toBe(0);
    expect(first.stderr).toMatch(/2 object\(s\) archived/);
    expect(first.stderr).toMatch(/1 rejected \(kept in/);
    expect(readFileSync(rejects, 'utf8')).toContain('this is not a flow log');

    const again = await flowcut(['archive', input, '--to', archive]);
    expect(again.code).toBe(0);
    expect(again.stderr).toMatch(/0 object\(s\) archived.*2 already archived/);
    const forced = await flowcut(['archive', input, '--to', archive, '--force', '--chunk-records', '700']);
    expect(forced.code).toBe(0);
    // Smaller chunks give other file names: the old files must have been replaced, not kept.
    const q = await flowcut(['query', COUNT_SQL, '--archive', archive]);
    expect(q.code).toBe(0);
    expect(JSON.parse(q.stdout)).toEqual({ n: expected.records, d: expected.records, bytes: expected.bytes });

    const files = walk(archive).map((f) => relative(archive, f));
    expect(files.filter((f) => f.endsWith('.parquet')).every((f) => /^AWSLogs\/aws-account-id=123456789012\/aws-service=vpcflowlogs\/aws-region=[a-z0-9-]+\/year=2026\/month=01\/day=05\/hour=\d\d\/[^/]+\.parquet$/.test(f))).toBe(true);
    expect(files.some((f) => f.startsWith('_flowcut/manifests/') && f.endsWith('.json'))).toBe(false);
  });

  it('refuses to archive an object again once compaction merged it with others, and says why', async () => {
    const merged = join(tmp, 'archive-compacted');
    expect((await flowcut(['archive', input, '--to', merged, '-q', '--chunk-records', '700'])).code).toBe(0);
    const compact = await flowcut(['archive', 'compact', '--archive', merged, '--min-age', '0']);
    expect(compact.code, compact.stderr).toBe(0);
    expect(compact.stderr).toMatch(/compacted [1-9]\d* partition/);
    const forced = await flowcut(['archive', input, '--to', merged, '--force']);
    expect(forced.code).toBe(1);
    expect(forced.stderr).toMatch(/not archived again: it was archived before and its files were since compacted into .*c-[0-9a-f]+\.parquet/);
    // The simulated object is refused; extra.log, alone in its partition, was not compacted and goes through.
    expect(forced.stderr).toMatch(/1 object\(s\) archived.*1 refused/);
    const q = await flowcut(['query', COUNT_SQL, '--archive', merged]);
    expect(JSON.parse(q.stdout)).toEqual({ n: expected.records, d: expected.records, bytes: expected.bytes });
  });

  it('writes ZSTD pages by default and SNAPPY on request; a bad --zstd-level is an error', async () => {
    const snappy = join(tmp, 'archive-snappy');
    expect((await flowcut(['archive', input, '--to', snappy, '-q', '--compression', 'snappy'])).code).toBe(0);
    const codecs = async (dir: string) => (await flowcut(['query', `SELECT DISTINCT compression FROM parquet_metadata('${dir}/AWSLogs/**/*.parquet') ORDER BY 1`, '--archive', dir, '-o', 'csv'])).stdout.trim().split('\n');
    expect(await codecs(archive)).toEqual(['compression', 'ZSTD']);
    expect(await codecs(snappy)).toEqual(['compression', 'SNAPPY']);
    const q = await flowcut(['query', COUNT_SQL, '--archive', snappy]);
    expect(JSON.parse(q.stdout)).toEqual({ n: expected.records, d: expected.records, bytes: expected.bytes });
    const bad = await flowcut(['archive', input, '--to', join(tmp, 'never'), '--zstd-level', '0']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--zstd-level must be an integer from 1 to 22, got '0'/);
  });

  it('keeps AWS column types, and hive keys do not replace file columns', async () => {
    const q = await flowcut(['query', `SELECT column_name, column_type FROM (DESCRIBE flows) WHERE column_name IN ('version','srcport','protocol','packets','start','account_id','region','aws_account_id','aws_region','hour','sub_index') ORDER BY 1`, '--archive', archive, '-o', 'csv']);
    expect(q.stdout.trim().split('\n')).toEqual([
      'column_name,column_type', 'account_id,VARCHAR', 'aws_account_id,VARCHAR', 'aws_region,VARCHAR', 'hour,INTEGER', 'packets,BIGINT',
      'protocol,INTEGER', 'region,VARCHAR', 'srcport,INTEGER', 'start,BIGINT', 'sub_index,INTEGER', 'version,INTEGER',
    ]);
    const acc = await flowcut(['query', `SELECT DISTINCT account_id FROM flows`, '--archive', archive, '-o', 'csv']);
    expect(acc.stdout).toContain('123456789012');
  });

  it('prunes partitions by --since/--until and answers the ready-made questions', async () => {
    const all = await flowcut(['query', 'SELECT count(*) n FROM flows', '--archive', archive]);
    const hour = await flowcut(['query', 'SELECT count(*) n, min(start) lo, max(start) hi FROM flows', '--archive', archive, '--since', '2026-01-05T01:00Z', '--until', '2026-01-05T02:00Z']);
    const allFiles = Number(/from (\d+) file/.exec(all.stderr)![1]);
    expect(Number(/from (\d+) file/.exec(hour.stderr)![1])).toBeLessThan(allFiles);
    const h = JSON.parse(hour.stdout) as { n: number; lo: number; hi: number };
    expect(h.n).toBeGreaterThan(0);
    expect(h.lo).toBeGreaterThanOrEqual(Date.UTC(2026, 0, 5, 1) / 1000);
    expect(h.hi).toBeLessThan(Date.UTC(2026, 0, 5, 2) / 1000);

    const top = await flowcut(['query', 'top-talkers', '--archive', archive, '-o', 'jsonl', '-n', '1']);
    const direct = await flowcut(['query', 'SELECT srcaddr, sum(bytes) b FROM flows GROUP BY 1 ORDER BY 2 DESC LIMIT 1', '--archive', archive]);
    expect((JSON.parse(top.stdout) as { srcaddr: string }).srcaddr).toBe((JSON.parse(direct.stdout) as { srcaddr: string }).srcaddr);
    const rej = await flowcut(['query', 'rejected-ports', '--archive', archive, '-o', 'csv', '-n', '3']);
    expect(rej.stdout.split('\n')[0]).toBe('dstport,protocol,flows,sources,packets');
    const eni = await flowcut(['query', 'eni', 'eni-0a1b2c3d4e5f60005', '--archive', archive, '-o', 'table']);
    expect(eni.code).toBe(0);
    expect(eni.stdout).toMatch(/^srcaddr\s+dstaddr\s+dstport/);
  });

  it('records an object as archived only once its rejects are kept: after a failed rejects file, a retry archives it again', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'flowcut-archive-rejects-'));
    const mixed = join(dir, 'mixed.log');
    writeFileSync(mixed, '2 123456789012 eni-0abc 10.0.0.1 10.0.0.2 1 2 6 3 400 1767571200 1767571260 ACCEPT OK\nthis is not a flow log\n');
    const full = await flowcut(['archive', mixed, '--to', join(dir, 'archive'), '--rejects', '/dev/full']);
    expect(full.code).toBe(1);
    expect(full.stderr).toMatch(/cannot write --rejects \/dev\/full: ENOSPC/);
    const rejects = join(dir, 'rejects.jsonl');
    const retry = await flowcut(['archive', mixed, '--to', join(dir, 'archive'), '--rejects', rejects]);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stderr).toMatch(/1 object\(s\) archived, 1 records, .*1 rejected/);
    expect(readFileSync(rejects, 'utf8')).toContain('this is not a flow log');
    const q = await flowcut(['query', 'SELECT count(*) AS n FROM flows', '--archive', join(dir, 'archive')]);
    expect(JSON.parse(q.stdout)).toEqual({ n: 1 });
  });

  it('counts every reject of an object, also past the ones it lists', async () => {
    const dir = mkdtempSync(join(tmp, 'bad-'));
    const bad = join(dir, 'bad.log');
    writeFileSync(bad, `${Array.from({ length: 150 }, (_, i) => `bad line ${i}`).join('\n')}\n`);
    const rejects = join(dir, 'rejects.jsonl');
    const r = await flowcut(['archive', bad, '--to', join(dir, 'archive'), '--rejects', rejects]);
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/150 rejected \(kept in/);
    const kept = readFileSync(rejects, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { reason: string });
    expect(kept).toHaveLength(101);
    expect(kept[100]!.reason).toMatch(/^50 more rejects in this input, counted but not listed one by one \(the first 100 are\); the first of them at .*bad\.log:101$/);
  });

  it('puts every record of a batch spanning thousands of partitions into its own partition', async () => {
    // 2,000 lines, each its own account and hour, in no order: one batch, 2,000 partitions.
    const dir = mkdtempSync(join(tmp, 'many-'));
    const lines = Array.from({ length: 2000 }, (_, i) => {
      const k = (i * 7919) % 2000;
      const start = 1767571200 + k * 3600;
      return `2 ${String(100000000000 + k)} eni-0abc 10.0.0.1 10.0.0.2 1 ${k} 6 3 400 ${start} ${start + 60} ACCEPT OK`;
    });
    writeFileSync(join(dir, 'many.log'), `${lines.join('\n')}\n`);
    const to = join(dir, 'archive');
    const r = await flowcut(['archive', dir, '--to', to]);
    expect(r.code).toBe(0);
    expect(walk(to).filter((f) => f.endsWith('.parquet'))).toHaveLength(2000);
    const sql =
      "SELECT count(*) AS n, count(DISTINCT dstport) AS ports, count(*) FILTER (WHERE aws_account_id <> account_id OR hour::INT <> hour(to_timestamp(start) AT TIME ZONE 'UTC')) AS misplaced FROM flows";
    const q = await flowcut(['query', sql, '--archive', to, '-o', 'csv']);
    expect(q.stdout.trim().split('\n')).toEqual(['n,ports,misplaced', '2000,2000,0']);
  });

  it('says there is no archive at a path that does not exist, rather than answering with nothing', async () => {
    const missing = join(tmp, 'no-such-archive');
    for (const args of [['query', COUNT_SQL], ['query', 'top-talkers'], ['archive', 'compact'], ['archive', 'retain', '--retain-days', '3']]) {
      const r = await flowcut([...args, '--archive', missing]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toContain(`no archive at ${missing}: not a directory`);
      expect(r.stdout).toBe('');
    }
  });

  it('reports and skips foreign, non-Parquet and truncated files instead of failing', async () => {
    const dir = join(archive, 'AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=01/day=05/hour=00');
    const victim = walk(dir).find((f) => f.endsWith('.parquet'))!;
    writeFileSync(join(dir, 'junk.parquet'), 'not parquet at all');
    writeFileSync(join(dir, 'notes.txt'), 'hello');
    writeFileSync(join(dir, 'foreign.parquet'), encodeParquet([{ name: 'x', type: 'int32' }], [{ numbers: new Float64Array([1, 2]) }], 2));
    copyFileSync(victim, join(dir, 'truncated.parquet'));
    truncateSync(join(dir, 'truncated.parquet'), Math.floor(statSync(victim).size / 2));
    const q = await flowcut(['query', COUNT_SQL, '--archive', archive]);
    expect(q.code).toBe(0);
    expect(JSON.parse(q.stdout)).toEqual({ n: expected.records, d: expected.records, bytes: expected.bytes });
    for (const name of ['junk.parquet', 'notes.txt', 'foreign.parquet', 'truncated.parquet']) expect(q.stderr).toMatch(new RegExp(`skipped .*${name.replace('.', '\\.')}: `));
  });
});

describe('flowcut archive and query against s3rver', () => {
  let server: LocalServer;
  let s3: S3Client;
  let env: Record<string, string>;

  beforeAll(async () => {
    server = await startS3rver();
    s3 = localS3Client(server.endpoint);
    for (const b of ['logs', 'archive']) await s3.send(new CreateBucketCommand({ Bucket: b }));
    for (const f of walk(input)) {
      await s3.send(new PutObjectCommand({ Bucket: 'logs', Key: `in/${relative(input, f)}`, Body: readFileSync(f) }));
    }
    env = { AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId, AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey, AWS_REGION: 'us-east-1', AWS_ENDPOINT_URL: server.endpoint };
  }, 60_000);
  afterAll(async () => {
    s3?.destroy();
    await server?.stop();
  });

  it('run refuses a missing or forbidden archive bucket at once, naming it, instead of retrying for ever', async () => {
    // Nothing else is reached: the bucket is checked before any lease or stream call.
    const run = (bucket: string, extra: Record<string, string> = {}) => flowcut(['run', '--stream', 'flows', '--archive', `s3://${bucket}/flowcut/`], { ...env, AWS_ENDPOINT_URL_KINESIS: 'http://127.0.0.1:9', AWS_ENDPOINT_URL_DYNAMODB: 'http://127.0.0.1:9', ...extra });
    const missing = await run('no-such-bucket');
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain('archive bucket no-such-bucket does not exist (flowcut setup --archive-bucket no-such-bucket creates it)');
    const forbidden = await run('archive', { AWS_ACCESS_KEY_ID: 'someone-else' });
    expect(forbidden.code).toBe(1);
    expect(forbidden.stderr).toContain('archive bucket archive: access denied');
  });

  it('archives an S3 prefix to S3 once, resumes, and queries only the needed partitions', async () => {
    const first = await flowcut(['archive', 's3://logs/in/', '--to', 's3://archive/flows'], env);
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/2 object\(s\) archived/);
    const again = await flowcut(['archive', 's3://logs/in/', '--to', 's3://archive/flows'], env);
    expect(again.stderr).toMatch(/2 already archived/);
    const q = await flowcut(['query', COUNT_SQL, '--archive', 's3://archive/flows'], env);
    expect(q.code, q.stderr).toBe(0);
    expect(JSON.parse(q.stdout)).toEqual({ n: expected.records, d: expected.records, bytes: expected.bytes });
    const all = Number(/from (\d+) file/.exec(q.stderr)![1]);
    const hour = await flowcut(['query', 'SELECT count(*) n FROM flows', '--archive', 's3://archive/flows', '--since', '2026-01-05T00:00Z', '--until', '2026-01-05T01:00Z'], env);
    expect(Number(/from (\d+) file/.exec(hour.stderr)![1])).toBeLessThan(all);
  }, 60_000);
});
