/**
 * `flowcut run` keeps what it cannot decode: each bad Kinesis record is reported with its
 * location and written, whole, to the dead-letter file before the checkpoint moves past it (once
 * checkpointed, the record is gone from the stream when retention ends). Needs `npm run build`.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { PutRecordCommand } from '@aws-sdk/client-kinesis';
import { describe, expect, it } from 'vitest';
import { cloudWatchPayloads, replayPayloads } from '../../src/pipeline/replay.js';
import { LeaseTable } from '../../src/sources/kinesis/lease-table.js';
import { createStream, until } from './helpers.js';
import { simEvents, useRunWorkers } from './workers.js';

describe('flowcut run with payloads it cannot decode', () => {
  const { aws, start } = useRunWorkers();

  it('reports each with its location and keeps it whole in --rejects before checkpointing past it', async () => {
    const { kinesis, dynamo } = aws;
    const stream = await createStream(kinesis, 1, 'runrej');
    const app = `app-${stream}`;
    const events = simEvents().slice(0, 300);
    await replayPayloads(kinesis, cloudWatchPayloads(events.slice(0, 150)), { streamName: stream, asFastAsPossible: true });
    const full = gzipSync(JSON.stringify({ messageType: 'DATA_MESSAGE', owner: '1', logGroup: 'g', logStream: 's', subscriptionFilters: ['f'], logEvents: [{ id: '1', timestamp: 1, message: 'x' }] }));
    const bad = [Buffer.from('\x00\x01 not a payload'), full.subarray(0, full.length - 9)];
    const badSeqs: string[] = [];
    for (const data of bad) badSeqs.push((await kinesis.send(new PutRecordCommand({ StreamName: stream, PartitionKey: 'p', Data: data }))).SequenceNumber!);
    await replayPayloads(kinesis, cloudWatchPayloads(events.slice(150)), { streamName: stream, asFastAsPossible: true });

    const rejects = join(mkdtempSync(join(tmpdir(), 'flowcut-run-rejects-')), 'dead', 'letters.jsonl');
    const w = start({ id: 'r1', stream, app, kinesis: aws.kinesisEndpoint, dynamo: aws.dynamoEndpoint, failoverMs: 5000, extra: ['--output', 'jsonl', '--rejects', rejects] });
    await until(() => w.records.length >= events.length, 30_000, () => `all ${events.length} records, have ${w.records.length}\n${w.stderr()}`);
    const lastSeq = w.records.map((r) => r.seq).sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1)).at(-1)!;
    const table = new LeaseTable(dynamo, app);
    await until(async () => (await table.listLeases())[0]?.checkpoint === lastSeq, 30_000, () => `a checkpoint at ${lastSeq}\n${w.stderr()}`);

    // The checkpoint is past both bad records, and the process still runs: they are on disk.
    expect(w.child.exitCode).toBeNull();
    const kept = readFileSync(rejects, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { location: string; reason: string; data?: string });
    const locations = badSeqs.map((s) => `kinesis://${stream}/shardId-000000000000/${s}`);
    expect(kept.map((k) => k.location)).toEqual([locations[0], locations[1]]);
    expect(kept.map((k) => Buffer.from(k.data ?? '', 'base64'))).toEqual(bad);
    expect(kept[1]!.reason).toMatch(/gzip/);
    for (const l of locations) expect(w.stderr()).toContain(`rejected ${l}`);

    w.child.kill('SIGTERM');
    await w.exited;
    expect(w.child.exitCode, w.stderr()).toBe(0);
    expect(w.stderr()).toContain(`${events.length} records, 2 rejected (kept in ${rejects})`);
  });

  it("stops cleanly when a Ctrl-C's copies arrive together (terminal and wrapper), releasing its lease", async () => {
    const { kinesis, dynamo } = aws;
    const stream = await createStream(kinesis, 1, 'runsig');
    const app = `app-${stream}`;
    const w = start({ id: 's1', stream, app, kinesis: aws.kinesisEndpoint, dynamo: aws.dynamoEndpoint, failoverMs: 5000 });
    await until(() => w.stderr().includes('lease shardId-000000000000 taken'), 30_000, () => `the lease\n${w.stderr()}`);
    w.child.kill('SIGINT');
    w.child.kill('SIGINT');
    await w.exited;
    expect(w.child.exitCode, w.stderr()).toBe(0);
    expect(w.stderr()).toContain('flowcut: stopped:');
    expect((await new LeaseTable(dynamo, app).listLeases())[0]!.leaseOwner).toBeUndefined();
  });
});
