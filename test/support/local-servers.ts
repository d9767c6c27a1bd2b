/**
 * Local AWS emulators for integration tests: kinesis-local (kinesis-mock) and s3rver, each a
 * child process on 127.0.0.1 with ephemeral ports. Test files start what they need in
 * beforeAll and stop it in afterAll; unit tests pay nothing.
 *
 * Quirks handled here are documented in shared/reference/local-aws.md.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { createServer } from 'node:net';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { ListBucketsCommand, S3Client } from '@aws-sdk/client-s3';
import { createKinesisClient, createS3Client } from '../../src/aws/clients.js';

const require = createRequire(import.meta.url);
const PRELOAD = join(dirname(fileURLToPath(import.meta.url)), 'child-preload.cjs');
const HOST = '127.0.0.1';

export interface LocalServer {
  readonly endpoint: string;
  readonly pid: number;
  /** Milliseconds from spawn to the first healthy answer. */
  readonly startMs: number;
  stop(): Promise<void>;
}

export interface KinesisLocal extends LocalServer {
  /**
   * Moves the server's clock forward by the `clockStepMs` it was started with (e.g. past the
   * 300 s shard-iterator lifetime). Only available when started with `clockStepMs`.
   */
  advanceClock(): Promise<void>;
}

// Children are killed synchronously on exit so a crashing test file leaves nothing behind; the
// preload's parent watch covers the cases where exit hooks never run (SIGKILL).
const live = new Set<ChildProcess>();
let hooksInstalled = false;
function track(child: ChildProcess): void {
  live.add(child);
  child.once('exit', () => live.delete(child));
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.once('exit', () => {
    for (const c of live) c.kill('SIGKILL');
  });
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      for (const c of live) c.kill('SIGKILL');
      process.kill(process.pid, sig);
    });
  }
}

/** A port that was free a moment ago: listen on 0, read the port, close. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen(0, HOST, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr !== null ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no port assigned'))));
    });
  });
}

interface Spawned {
  child: ChildProcess;
  output(): string;
  exited: Promise<number | null>;
}

function spawnNode(script: string, args: string[], env: Record<string, string>, nodeFlags: string[] = []): Spawned {
  const child = spawn(process.execPath, [...nodeFlags, '-r', PRELOAD, script, ...args], {
    env: { ...process.env, FLOWCUT_PARENT_PID: String(process.pid), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  track(child);
  // Keep only the tail of the output: enough to explain a failed start, never unbounded.
  let out = '';
  const keep = (b: Buffer) => {
    out = (out + b.toString('utf8')).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out, exited };
}

async function stopChild(s: Spawned, graceMs = 3000): Promise<void> {
  const { child } = s;
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const exitedInTime = await Promise.race([s.exited.then(() => true), sleep(graceMs).then(() => false)]);
  // kinesis-local can ignore SIGTERM (and SIGINT) for >10 s after heavy use.
  if (!exitedInTime) {
    child.kill('SIGKILL');
    await s.exited;
  }
}

async function waitHealthy(s: Spawned, name: string, probe: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let exitCode: number | null | undefined;
  void s.exited.then((c) => (exitCode = c));
  for (;;) {
    if (exitCode !== undefined || s.child.exitCode !== null) {
      throw new Error(`${name} exited (code ${exitCode ?? s.child.exitCode}) before becoming healthy:\n${s.output()}`);
    }
    if (await probe().catch(() => false)) return;
    if (Date.now() > deadline) {
      await stopChild(s, 500);
      throw new Error(`${name} not healthy after ${timeoutMs} ms:\n${s.output()}`);
    }
    await sleep(50);
  }
}

function httpGetStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method: 'GET', timeout: 1000, agent: false }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.once('timeout', () => req.destroy(new Error('timeout')));
    req.once('error', reject);
    req.end();
  });
}

export interface KinesisLocalOptions {
  /** `INITIALIZE_STREAMS`, e.g. "flows:2,other:1". */
  readonly initializeStreams?: string;
  /** Enables `advanceClock()`, moving the server's clock by this much per call. */
  readonly clockStepMs?: number;
  /** Extra environment for kinesis-mock (SHARD_LIMIT, *_DURATION, ...). */
  readonly env?: Record<string, string>;
}

export async function startKinesisLocal(opts: KinesisLocalOptions = {}): Promise<KinesisLocal> {
  const script = require.resolve('kinesis-local/main.js');
  // Ports are only probably free (another process may grab one between probe and bind), so
  // retry a failed start a couple of times with fresh ports.
  for (let attempt = 1; ; attempt++) {
    const [plainPort, tlsPort] = [await freePort(), await freePort()];
    const started = Date.now();
    const s = spawnNode(script, [], {
      KINESIS_MOCK_CERT_PATH: join(dirname(script), 'server.json'),
      KINESIS_MOCK_PLAIN_PORT: String(plainPort),
      KINESIS_MOCK_TLS_PORT: String(tlsPort),
      LOG_LEVEL: 'WARN',
      ROOT_LOG_LEVEL: 'ERROR',
      // Streams and reshards complete at once instead of after 500 ms each.
      CREATE_STREAM_DURATION: '0ms',
      DELETE_STREAM_DURATION: '0ms',
      SPLIT_SHARD_DURATION: '0ms',
      MERGE_SHARDS_DURATION: '0ms',
      UPDATE_SHARD_COUNT_DURATION: '0ms',
      REGISTER_STREAM_CONSUMER_DURATION: '0ms',
      DEREGISTER_STREAM_CONSUMER_DURATION: '0ms',
      SHOULD_PERSIST_DATA: 'false',
      AWS_REGION: 'us-east-1',
      FLOWCUT_BIND_HOST: HOST,
      ...(opts.initializeStreams ? { INITIALIZE_STREAMS: opts.initializeStreams } : {}),
      ...(opts.clockStepMs ? { FLOWCUT_CLOCK_STEP_MS: String(opts.clockStepMs) } : {}),
      ...opts.env,
    });
    const endpoint = `http://${HOST}:${plainPort}`;
    try {
      await waitHealthy(s, 'kinesis-local', async () => (await httpGetStatus(`${endpoint}/healthcheck`)) === 200);
    } catch (err) {
      if (attempt < 3 && /EADDRINUSE/.test(String(err))) continue;
      throw err;
    }
    const startMs = Date.now() - started;
    let clockAcks = 0;
    const ackWaiters: Array<() => void> = [];
    s.child.stdout?.on('data', (b: Buffer) => {
      for (const _ of b.toString('utf8').matchAll(/FLOWCUT_CLOCK /g)) {
        clockAcks++;
        ackWaiters.shift()?.();
      }
    });
    return {
      endpoint,
      pid: s.child.pid ?? -1,
      startMs,
      stop: () => stopChild(s),
      async advanceClock() {
        if (!opts.clockStepMs) throw new Error('startKinesisLocal({ clockStepMs }) is needed for advanceClock()');
        const before = clockAcks;
        const acked = new Promise<void>((resolve) => ackWaiters.push(resolve));
        s.child.kill('SIGUSR2');
        await Promise.race([acked, sleep(5000).then(() => Promise.reject(new Error('clock jump not acknowledged')))]);
        if (clockAcks <= before) throw new Error('clock jump not acknowledged');
      },
    };
  }
}

export interface S3rverOptions {
  /** Buckets to create at startup (`--configure-bucket`). */
  readonly buckets?: readonly string[];
}

export const S3RVER_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

export async function startS3rver(opts: S3rverOptions = {}): Promise<LocalServer> {
  const script = require.resolve('s3rver/bin/s3rver.js');
  const dir = await mkdtemp(join(tmpdir(), 'flowcut-s3rver-'));
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const started = Date.now();
    const args = ['-a', HOST, '-p', String(port), '-d', dir, '--silent'];
    for (const b of opts.buckets ?? []) args.push('--configure-bucket', b);
    // s3rver encrypts ListObjectsV2 continuation tokens with DES, which OpenSSL 3 only has in
    // its legacy provider: without it every truncated listing fails with InternalError.
    const s = spawnNode(script, args, {}, ['--openssl-legacy-provider']);
    const endpoint = `http://${HOST}:${port}`;
    const probeClient = localS3Client(endpoint, { maxAttempts: 1 });
    try {
      await waitHealthy(s, 's3rver', async () => {
        await probeClient.send(new ListBucketsCommand({}));
        return true;
      });
    } catch (err) {
      if (attempt < 3 && /EADDRINUSE/.test(String(err))) continue;
      await rm(dir, { recursive: true, force: true });
      throw err;
    } finally {
      probeClient.destroy();
    }
    const startMs = Date.now() - started;
    return {
      endpoint,
      pid: s.child.pid ?? -1,
      startMs,
      async stop() {
        await stopChild(s);
        await rm(dir, { recursive: true, force: true });
      },
    };
  }
}

/** A Kinesis client for a local endpoint, built by the production factory. */
export function localKinesisClient(endpoint: string, extra: { maxAttempts?: number } = {}): KinesisClient {
  return createKinesisClient({
    endpoint,
    region: 'us-east-1',
    // Explicit so the default chain never probes IMDS (or anything off this machine).
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    ...extra,
  });
}

/** An S3 client for s3rver, built by the production factory (s3rver only knows S3RVER keys). */
export function localS3Client(endpoint: string, extra: { maxAttempts?: number } = {}): S3Client {
  return createS3Client({ endpoint, region: 'us-east-1', credentials: { ...S3RVER_CREDENTIALS }, ...extra });
}
