/**
 * Replay builds what CloudWatch Logs would put into the stream, and puts it there: payloads per
 * log stream and time window, ≤ 1 MB, the control message first, paced by timestamps.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzipSync } from 'node:zlib';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { cloudWatchPayloads, controlPayload, replayPayloads, type LogEvent } from '../../src/pipeline/replay.js';
import { checkpointInterval, loadRunConfig, startPosition } from '../../src/pipeline/config.js';
import { pollingReader } from '../../src/sources/kinesis/polling-reader.js';
import { listAllShards } from '../../src/sources/kinesis/shard-sync.js';
import { FlowDecoder } from '../../src/decode/decoder.js';
import { CollectingSink } from '../support/collect.js';
import type { KinesisLocal } from '../support/local-servers.js';
import { useKinesisLocal } from '../support/local-aws.js';
import { createStream } from './helpers.js';

const ev = (logStream: string, t: number, message = `2 123456789012 ${logStream.replace('-all', '')} 10.0.0.1 10.0.0.2 1 2 6 1 40 ${t / 1000} ${t / 1000} ACCEPT OK`): LogEvent => ({
  message,
  timestampMs: t,
  logStream,
  logGroup: 'g',
  owner: '123456789012',
});

interface Json {
  messageType: string;
  logStream: string;
  logGroup: string;
  logEvents: Array<{ timestamp: number; message: string; extractedFields?: Record<string, string> }>;
}
const open = (data: Buffer) => JSON.parse(gunzipSync(data).toString('utf8')) as Json;

describe('CloudWatch payloads', () => {
  it('groups events by log stream and time window, in delivery order', () => {
    const t0 = 1_767_600_000_000;
    const events = [ev('eni-a-all', t0), ev('eni-b-all', t0 + 1000), ev('eni-a-all', t0 + 2000), ev('eni-a-all', t0 + 61_000), ev('eni-b-all', t0 + 62_000)];
    const ps = [...cloudWatchPayloads(events, { windowMs: 60_000 })];
    expect(ps.map((p) => [p.logStream, p.events])).toEqual([
      ['eni-a-all', 2],
      ['eni-b-all', 1],
      ['eni-a-all', 1],
      ['eni-b-all', 1],
    ]);
    const j = open(ps[0]!.data);
    expect(j.messageType).toBe('DATA_MESSAGE');
    expect(j.logStream).toBe('eni-a-all');
    expect(j.logEvents.map((e) => e.timestamp)).toEqual([t0, t0 + 2000]);
    expect(j.logEvents[0]!.extractedFields!.interfaceid).toBe('eni-a');
    expect(open(controlPayload().data).messageType).toBe('CONTROL_MESSAGE');
  });

  it("batches within PutLogEvents' limits and keeps every record within 1 MiB", () => {
    const t0 = 1_767_600_000_000;
    // 2.4 MB of messages: split by the 1,048,576-byte batch budget (message + 26 bytes each).
    const long = 'x'.repeat(2000);
    const big = Array.from({ length: 1200 }, (_, i) => ev('eni-a-all', t0 + i, `${long} ${i}`));
    const ps = [...cloudWatchPayloads(big)];
    // ~2,030 bytes each against 1,048,576: 516 per batch.
    expect(ps.map((p) => p.events)).toEqual([516, 516, 168]);
    expect(ps.reduce((n, p) => n + p.events, 0)).toBe(1200);
    // 10,000 events at most.
    const many = Array.from({ length: 25_000 }, (_, i) => ev('eni-a-all', t0 + (i % 50), `m${i}`));
    expect([...cloudWatchPayloads(many)].map((p) => p.events)).toEqual([10_000, 10_000, 5000]);
    // With a larger batch budget, incompressible messages make a gzip over 1 MiB: halved until it fits.
    const noise = Array.from({ length: 2000 }, (_, i) => ev('eni-a-all', t0 + i, randomBytes(1125).toString('base64')));
    const split = [...cloudWatchPayloads(noise, { maxBatchBytes: 4 << 20 })];
    expect(split.length).toBeGreaterThan(1);
    for (const p of split) expect(p.data.length).toBeLessThanOrEqual(1024 * 1024 - 256);
    expect(split.flatMap((p) => open(p.data).logEvents.map((e) => e.message))).toEqual(noise.map((e) => e.message));
  });
});

describe('replay into kinesis-local', () => {
  let server: KinesisLocal;
  let client: KinesisClient;
  let dir: string;
  useKinesisLocal({}, (s, c) => ((server = s), (client = c)));
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowcut-replay-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  async function readAll(stream: string) {
    const out: Buffer[] = [];
    for (const s of await listAllShards(client, stream)) {
      const stop = new AbortController();
      for await (const b of pollingReader(client, { idlePollMs: 10, minCallSpacingMs: 0 })({ streamName: stream, shardId: s.ShardId!, start: { type: 'TRIM_HORIZON' }, signal: stop.signal })) {
        out.push(...b.records.map((r) => Buffer.from(r.data)));
        if (b.millisBehindLatest === 0 && b.records.length === 0) break;
      }
    }
    return out;
  }

  it('paces by timestamps at the given speed, control message first', async () => {
    const stream = await createStream(client, 1, 'rp');
    const t0 = 1_767_600_000_000;
    // 3 payloads, 30 s of event time apart; at 100x that is 0.3 s apart.
    const events = [ev('eni-a-all', t0), ev('eni-a-all', t0 + 30_000), ev('eni-a-all', t0 + 60_000)];
    const payloads = [controlPayload(), ...cloudWatchPayloads(events, { windowMs: 1000 })];
    const started = Date.now();
    const s = await replayPayloads(client, payloads, { streamName: stream, speed: 100 });
    const took = Date.now() - started;
    expect(s.payloads).toBe(4);
    expect(took).toBeGreaterThanOrEqual(550);
    expect(took).toBeLessThan(3000);
    const got = (await readAll(stream)).map(open);
    expect(got.map((g) => g.messageType)).toEqual(['CONTROL_MESSAGE', 'DATA_MESSAGE', 'DATA_MESSAGE', 'DATA_MESSAGE']);
  });

  it('flowcut replay puts a file as CloudWatch payloads that decode back to the same records', async () => {
    const CLI = new URL('../../dist/cli/main.js', import.meta.url).pathname;
    const stream = await createStream(client, 2, 'rpcli');
    const file = join(dir, 'flows.log');
    const lines = [
      '2 123456789012 eni-0aa 10.0.0.1 10.0.0.2 443 50000 6 10 5000 1767600000 1767600060 ACCEPT OK',
      '2 123456789012 eni-0bb 10.0.0.3 10.0.0.4 22 50001 6 1 40 1767600001 1767600061 REJECT OK',
      '2 123456789012 eni-0aa 10.0.0.1 10.0.0.5 443 50002 6 3 300 1767600002 1767600062 ACCEPT OK',
      '2 123456789012 eni-0cc - - - - - - - 1767600000 1767600060 - NODATA',
    ];
    await writeFile(file, lines.join('\n') + '\n');
    const env = { ...process.env, AWS_ENDPOINT_URL_KINESIS: server.endpoint, AWS_ACCESS_KEY_ID: 'x', AWS_SECRET_ACCESS_KEY: 'y', AWS_REGION: 'us-east-1' };
    const { stderr } = await promisify(execFile)(process.execPath, [CLI, 'replay', file, '--stream', stream, '--as-fast-as-possible', '--control-message'], { env });
    expect(stderr).toMatch(/put 4 flow records in 4 CloudWatch payloads/);
    const payloads = await readAll(stream);
    const kinds = payloads.map((p) => open(p));
    expect(kinds.filter((k) => k.messageType === 'DATA_MESSAGE').map((k) => k.logStream).sort()).toEqual(['eni-0aa-all', 'eni-0bb-all', 'eni-0cc-all']);
    const sink = new CollectingSink();
    const decoder = new FlowDecoder(sink);
    for (const p of payloads) decoder.decodePayload(p, { location: 'test', kind: 'kinesis' });
    decoder.flush();
    expect(decoder.stats.controlMessages).toBe(1);
    const back = sink.records.map((r) => [r.interface_id, r.srcport, r.bytes, r.log_status, r.log_stream]);
    expect(back.sort()).toEqual(
      [
        ['eni-0aa', 443, 5000, 'OK', 'eni-0aa-all'],
        ['eni-0aa', 443, 300, 'OK', 'eni-0aa-all'],
        ['eni-0bb', 22, 40, 'OK', 'eni-0bb-all'],
        ['eni-0cc', null, null, 'NODATA', 'eni-0cc-all'],
      ].sort(),
    );
  });
});

describe('run configuration', () => {
  it('layers config file < FLOWCUT_* < options and explains mistakes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flowcut-cfg-'));
    const path = join(dir, 'flowcut.json');
    await writeFile(path, JSON.stringify({ stream: 'from-file', app: 'app-file', failoverMs: 5000, from: 'latest' }));
    const cfg = loadRunConfig({ from: 'trim-horizon' }, path, { FLOWCUT_APP: 'app-env', FLOWCUT_FAILOVER_MS: '2500' });
    expect(cfg).toMatchObject({ stream: 'from-file', app: 'app-env', failoverMs: 2500, from: 'trim-horizon', consumer: 'polling' });
    expect(checkpointInterval(cfg)).toBe(10_000);
    // The 60 s default that an archive brings yields to a value from any layer, the file's too.
    expect(checkpointInterval({ ...cfg, archive: 'a' })).toBe(60_000);
    await writeFile(path, JSON.stringify({ checkpointIntervalMs: 2000, from: '2026-01-01T00:00:00Z' }));
    const fromFile = loadRunConfig({ archive: 'a' }, path, {});
    expect(checkpointInterval(fromFile)).toBe(2000);
    expect([startPosition(fromFile, true), startPosition(loadRunConfig({}, undefined, {}), true), startPosition(loadRunConfig({}, undefined, {}), false)]).toEqual(['2026-01-01T00:00:00Z', 'trim-horizon', 'latest']);
    expect(() => loadRunConfig({}, undefined, { FLOWCUT_FROM: 'yesterday' })).toThrow(/from \(from environment variable FLOWCUT_FROM\): must be 'trim-horizon', 'latest' or an ISO time/);
    expect(() => loadRunConfig({ consumer: 'push' }, undefined, {})).toThrow(/consumer \(from option --consumer\)/);
    expect(cfg).toMatchObject({ archiveCompression: 'zstd', archiveZstdLevel: 2 });
    expect(loadRunConfig({ archiveCompression: 'snappy' }, undefined, { FLOWCUT_ARCHIVE_ZSTD_LEVEL: '9' })).toMatchObject({ archiveCompression: 'snappy', archiveZstdLevel: 9 });
    expect(() => loadRunConfig({ archiveCompression: 'lz4' }, undefined, {})).toThrow(/archiveCompression \(from option --archive-compression\)/);
    expect(() => loadRunConfig({}, undefined, { FLOWCUT_ARCHIVE_ZSTD_LEVEL: '30' })).toThrow(/archiveZstdLevel \(from environment variable FLOWCUT_ARCHIVE_ZSTD_LEVEL\)/);
    await writeFile(path, JSON.stringify({ stream: 's', shards: 4 }));
    expect(() => loadRunConfig({}, path, {})).toThrow(/unknown setting\(s\) "shards"/);
    await writeFile(path, '{ nope');
    expect(() => loadRunConfig({}, path, {})).toThrow(/cannot read config file/);
    await rm(dir, { recursive: true, force: true });
  });
});
