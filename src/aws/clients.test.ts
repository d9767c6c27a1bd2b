import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { CreateStreamCommand, ListStreamsCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import {
  AwsConfigError,
  configuredEndpoint,
  createKinesisClient,
  createS3Client,
  isLocalEndpoint,
} from './clients.js';
import {
  S3RVER_CREDENTIALS,
  startKinesisLocal,
  startS3rver,
  type KinesisLocal,
  type LocalServer,
} from '../../test/support/local-servers.js';

const saved = { ...process.env };
/** An environment with no AWS configuration at all (no region, no profile files, no IMDS). */
function bareEnv(extra: Record<string, string> = {}): void {
  for (const k of Object.keys(process.env)) if (k.startsWith('AWS_')) delete process.env[k];
  Object.assign(process.env, {
    AWS_CONFIG_FILE: '/nonexistent/flowcut/config',
    AWS_SHARED_CREDENTIALS_FILE: '/nonexistent/flowcut/credentials',
    AWS_EC2_METADATA_DISABLED: 'true',
    ...extra,
  });
}
beforeEach(() => bareEnv());
afterEach(() => {
  for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
  Object.assign(process.env, saved);
});

describe('endpoint detection', () => {
  it('follows the SDK precedence: option, service variable, global variable', () => {
    const env = { AWS_ENDPOINT_URL: 'http://all:1', AWS_ENDPOINT_URL_KINESIS: 'http://kin:2' };
    expect(configuredEndpoint('kinesis', {}, env)).toBe('http://kin:2');
    expect(configuredEndpoint('s3', {}, env)).toBe('http://all:1');
    expect(configuredEndpoint('s3', { endpoint: 'https://opt:3' }, env)).toBe('https://opt:3');
    expect(configuredEndpoint('s3', {}, { ...env, AWS_ENDPOINT_URL_S3: 'http://s3:4' })).toBe('http://s3:4');
    expect(configuredEndpoint('s3', {}, {})).toBeUndefined();
    expect(configuredEndpoint('kinesis', {}, { ...env, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' })).toBeUndefined();
  });

  it.each([
    ['http://127.0.0.1:4568', true],
    ['https://localhost:4567', true],
    ['https://[::1]:4567', true],
    ['https://127.5.0.1', true],
    ['http://localstack:4566', true],
    ['https://kinesis.eu-west-1.amazonaws.com', false],
    ['https://s3.example.com', false],
    ['not a url', false],
  ])('isLocalEndpoint(%s) = %s', (url, local) => {
    expect(isLocalEndpoint(url)).toBe(local);
  });

  it('rejects a malformed endpoint with a clear error', () => {
    expect(() => createS3Client({ endpoint: 'localhost:9000' })).toThrow(AwsConfigError);
    expect(() => createKinesisClient({ endpoint: 'ftp://x' })).toThrow(/Invalid kinesis endpoint URL/);
    // Credentials in a bad URL stay out of the message (it may be logged).
    for (const endpoint of ['ftp://user:p4ssw0rdXYZ@127.0.0.1:9/', 'user:p4ssw0rdXYZ@127.0.0.1', 'http//user:p4ssw0rdXYZ@host', 'ftp://user:p4ss@w0rdXYZ@host/x']) {
      expect(() => createKinesisClient({ endpoint }), endpoint).toThrow(/Invalid kinesis endpoint URL/);
      try {
        createKinesisClient({ endpoint });
      } catch (e) {
        expect((e as Error).message).not.toContain('p4ssw0rdXYZ');
      }
    }
  });
});

describe('region', () => {
  it('tells how to set a region when none is configured for real AWS', async () => {
    // .invalid never resolves, so even a regression cannot send anything anywhere.
    const client = createKinesisClient({
      endpoint: 'https://kinesis.flowcut.invalid',
      credentials: { accessKeyId: 'a', secretAccessKey: 'b' },
      maxAttempts: 1,
    });
    const err = await client.send(new ListStreamsCommand({})).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AwsConfigError);
    expect((err as Error).message).toMatch(/--region/);
    expect((err as Error).message).toMatch(/AWS_REGION/);
    client.destroy();
  });

  it('uses AWS_REGION from the environment and --region over it', async () => {
    bareEnv({ AWS_REGION: 'eu-central-1' });
    expect(await createS3Client().config.region()).toBe('eu-central-1');
    expect(await createS3Client({ region: 'ap-south-1' }).config.region()).toBe('ap-south-1');
  });

  it('defaults to us-east-1 for a local endpoint', async () => {
    expect(await createKinesisClient({ endpoint: 'http://127.0.0.1:1' }).config.region()).toBe('us-east-1');
    bareEnv({ AWS_ENDPOINT_URL: 'http://127.0.0.1:1' });
    expect(await createS3Client().config.region()).toBe('us-east-1');
  });

  it('keeps SDK defaults for real AWS: HTTP/2 Kinesis handler, virtual-hosted S3', async () => {
    const k = createKinesisClient({ region: 'eu-west-1' });
    expect(k.config.requestHandler).not.toBeInstanceOf(NodeHttpHandler);
    const s = createS3Client({ region: 'eu-west-1' });
    expect(s.config.forcePathStyle).toBeFalsy();
    expect(await s.config.requestChecksumCalculation()).toBe('WHEN_SUPPORTED');
    k.destroy();
    s.destroy();
  });
});

describe('clients against local servers (endpoints from the environment)', () => {
  let kinesis: KinesisLocal;
  let s3: LocalServer;
  beforeAll(async () => {
    [kinesis, s3] = await Promise.all([startKinesisLocal(), startS3rver()]);
  });
  afterAll(async () => {
    await Promise.all([kinesis?.stop(), s3?.stop()]);
  });

  it('Kinesis: AWS_ENDPOINT_URL_KINESIS is honoured and large PutRecords work over HTTP/1.1', async () => {
    bareEnv({ AWS_ENDPOINT_URL_KINESIS: kinesis.endpoint, AWS_ACCESS_KEY_ID: 'k', AWS_SECRET_ACCESS_KEY: 's' });
    const client = createKinesisClient();
    expect(client.config.requestHandler).toBeInstanceOf(NodeHttpHandler);
    await client.send(new CreateStreamCommand({ StreamName: 'clients-test', ShardCount: 1 }));
    expect((await client.send(new ListStreamsCommand({}))).StreamNames).toContain('clients-test');
    // > 235 KB request bodies died with ERR_HTTP2_ERROR on the SDK's default HTTP/2 handler.
    const res = await client.send(
      new PutRecordsCommand({
        StreamName: 'clients-test',
        Records: Array.from({ length: 40 }, (_, i) => ({ Data: randomBytes(10_000), PartitionKey: `k${i}` })),
      }),
    );
    expect(res.FailedRecordCount ?? 0).toBe(0);
    expect(res.Records).toHaveLength(40);
    client.destroy();
  });

  it('S3: AWS_ENDPOINT_URL is honoured, path-style used, streamed uploads stored byte-exact', async () => {
    bareEnv({
      AWS_ENDPOINT_URL: s3.endpoint,
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
    });
    const client = createS3Client();
    await client.send(new CreateBucketCommand({ Bucket: 'clients-test' }));
    const body = randomBytes(700_000);
    // A stream body is what triggered s3rver's verbatim aws-chunked framing with SDK defaults.
    await client.send(
      new PutObjectCommand({ Bucket: 'clients-test', Key: 'a/b.bin', Body: Readable.from([body]), ContentLength: body.length }),
    );
    const got = await client.send(new GetObjectCommand({ Bucket: 'clients-test', Key: 'a/b.bin' }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    expect(bytes.length).toBe(body.length);
    expect(bytes.equals(body)).toBe(true);
    client.destroy();
  });
});
