import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { listS3Objects, parseS3Url, S3UrlError } from './s3.js';
import type { ObjectIn } from './types.js';
import { localS3Client, startS3rver, type LocalServer } from '../../test/support/local-servers.js';

describe('parseS3Url', () => {
  it('splits bucket and prefix', () => {
    expect(parseS3Url('s3://flow-logs/AWSLogs/123/vpcflowlogs/')).toEqual({
      bucket: 'flow-logs',
      prefix: 'AWSLogs/123/vpcflowlogs/',
    });
    expect(parseS3Url('s3://flow-logs')).toEqual({ bucket: 'flow-logs', prefix: '' });
    expect(parseS3Url('s3://flow-logs/')).toEqual({ bucket: 'flow-logs', prefix: '' });
    expect(parseS3Url('s3://b.x/a b/%20')).toEqual({ bucket: 'b.x', prefix: 'a b/%20' });
  });

  it.each([
    ['flow-logs/key', /Not an S3 URL/],
    ['https://flow-logs.s3.amazonaws.com/key', /Not an S3 URL/],
    ['s3:/flow-logs', /Not an S3 URL/],
    ['s3://', /no bucket/],
    ['s3:///key', /no bucket/],
    ['s3://bad bucket/key', /Invalid S3 bucket name/],
    ['s3://-x/key', /Invalid S3 bucket name/],
  ])('rejects %s', (url, msg) => {
    expect(() => parseS3Url(url)).toThrow(S3UrlError);
    expect(() => parseS3Url(url)).toThrow(msg);
  });
});

async function readAll(o: ObjectIn): Promise<Buffer> {
  const parts: Uint8Array[] = [];
  for await (const chunk of o.open()) {
    expect(chunk).toBeInstanceOf(Uint8Array);
    parts.push(chunk);
  }
  return Buffer.concat(parts);
}

async function list(client: S3Client, url: string, pageSize?: number): Promise<ObjectIn[]> {
  const out: ObjectIn[] = [];
  for await (const o of listS3Objects(client, url, pageSize !== undefined ? { pageSize } : {})) out.push(o);
  return out;
}

describe('S3 source against s3rver', () => {
  const bucket = 'flowcut-src-test';
  let server: LocalServer;
  let client: S3Client;
  let listCalls = 0;

  const putObject = (key: string, body: Uint8Array | string, extra: { ContentEncoding?: string } = {}) =>
    client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ...extra }));

  beforeAll(async () => {
    server = await startS3rver({ buckets: [bucket] });
    client = localS3Client(server.endpoint);
    client.middlewareStack.add(
      (next, context) => (args) => {
        if (context.commandName === 'ListObjectsV2Command') listCalls++;
        return next(args);
      },
      { step: 'initialize', name: 'countListCalls' },
    );
  });
  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });

  it('pages through a prefix (MaxKeys forces several pages) in key order', async () => {
    const keys = Array.from({ length: 23 }, (_, i) => `paged/2024/01/${String(i).padStart(3, '0')}.log`);
    for (const k of keys) await putObject(k, `body of ${k}`);
    listCalls = 0;
    const got = await list(client, `s3://${bucket}/paged/`, 5);
    expect(listCalls).toBe(5);
    expect(got.map((o) => o.key)).toEqual(keys);
    expect(got[0]).toMatchObject({ location: `s3://${bucket}/${keys[0]}`, key: keys[0], size: `body of ${keys[0]}`.length });
    expect((await readAll(got[7]!)).toString()).toBe(`body of ${keys[7]}`);
  });

  it('lists flat by literal prefix, deep keys included, directory markers skipped', async () => {
    const keys = [
      'tree/a/b/c/deep.log',
      'tree/a/x.log',
      'tree/top.log',
      'treehouse/not-under-tree-slash.log',
      'other/z.log',
    ];
    for (const k of keys) await putObject(k, k);
    await putObject('tree/a/b/', '');
    await putObject('tree/empty-dir/', '');

    expect((await list(client, `s3://${bucket}/tree/`)).map((o) => o.key)).toEqual([
      'tree/a/b/c/deep.log',
      'tree/a/x.log',
      'tree/top.log',
    ]);
    expect((await list(client, `s3://${bucket}/tree`)).map((o) => o.key)).toEqual([
      'tree/a/b/c/deep.log',
      'tree/a/x.log',
      'tree/top.log',
      'treehouse/not-under-tree-slash.log',
    ]);
    expect((await list(client, `s3://${bucket}/tree/a/b/c/deep`)).map((o) => o.location)).toEqual([
      `s3://${bucket}/tree/a/b/c/deep.log`,
    ]);
    expect(await list(client, `s3://${bucket}/nothing-here/`)).toEqual([]);
    const whole = (await list(client, `s3://${bucket}`)).map((o) => o.key);
    expect(whole).toContain('other/z.log');
    expect(whole.some((k) => k.endsWith('/'))).toBe(false);
  });

  it('streams bodies byte-exact: large binary, gzip, gzip with Content-Encoding, empty', async () => {
    const big = randomBytes(3 * 1024 * 1024 + 17);
    const text = Array.from({ length: 5000 }, (_, i) => `2 123456789012 eni-abc 10.0.0.${i % 255} 10.0.1.1 443 ${i} 6 1 40 1 2 ACCEPT OK`).join('\n');
    const gz = gzipSync(text);
    await putObject('bodies/big.bin', big);
    await putObject('bodies/flows.log.gz', gz);
    // Raw bytes even when S3 metadata says gzip: decoding is the decoders' job.
    await putObject('bodies/encoded.log', gz, { ContentEncoding: 'gzip' });
    await putObject('bodies/empty.log', new Uint8Array(0));

    const got = new Map((await list(client, `s3://${bucket}/bodies/`)).map((o) => [o.key, o]));
    const bigOut = await readAll(got.get('bodies/big.bin')!);
    expect(bigOut.length).toBe(big.length);
    expect(bigOut.equals(big)).toBe(true);
    expect(got.get('bodies/big.bin')!.size).toBe(big.length);

    const gzOut = await readAll(got.get('bodies/flows.log.gz')!);
    expect(gzOut.equals(gz)).toBe(true);
    expect(gunzipSync(gzOut).toString()).toBe(text);
    expect((await readAll(got.get('bodies/encoded.log')!)).equals(gz)).toBe(true);
    expect((await readAll(got.get('bodies/empty.log')!)).length).toBe(0);
  });

  it('can stop reading a body early and open it again', async () => {
    await putObject('early/big.bin', randomBytes(2 * 1024 * 1024));
    const [obj] = await list(client, `s3://${bucket}/early/`);
    let first = 0;
    for await (const chunk of obj!.open()) {
      first = chunk.length;
      break;
    }
    expect(first).toBeGreaterThan(0);
    expect((await readAll(obj!)).length).toBe(2 * 1024 * 1024);
  });

  it('reports a missing bucket as an error', async () => {
    await expect(list(client, 's3://no-such-bucket-here/x')).rejects.toThrow(/NoSuchBucket|does not exist/i);
  });
});
