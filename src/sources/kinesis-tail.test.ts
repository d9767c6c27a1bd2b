import { describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ListShardsCommand,
  PutRecordsCommand,
  SplitShardCommand,
} from '@aws-sdk/client-kinesis';
import { shardIteratorRequest, tailKinesis, type TailEvent, type TailKinesisOptions } from './kinesis-tail.js';
import type { KinesisRecordIn } from './types.js';
import type { KinesisLocal } from '../../test/support/local-servers.js';
import { useKinesisLocal } from '../../test/support/local-aws.js';

const enc = new TextEncoder();
const dec = new TextDecoder();
/** Start of the upper half of the hash key space: the split point of a 2-shard stream. */
const HALF = (2n ** 127n).toString();

interface Put {
  shardId: string;
  sequenceNumber: string;
  partitionKey: string;
  data: string;
}

let streamCounter = 0;
async function createStream(client: KinesisClient, shards: number): Promise<string> {
  const name = `tail-${process.pid}-${++streamCounter}`;
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  for (let i = 0; i < 100; i++) {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return name;
    await sleep(50);
  }
  throw new Error(`stream ${name} not ACTIVE`);
}

/** Puts records (hash keys chosen to hit shards deterministically) and returns where they went. */
async function put(
  client: KinesisClient,
  stream: string,
  items: Array<{ data: string; partitionKey: string; hashKey?: string }>,
): Promise<Put[]> {
  const res = await client.send(
    new PutRecordsCommand({
      StreamName: stream,
      Records: items.map((i) => ({
        Data: enc.encode(i.data),
        PartitionKey: i.partitionKey,
        ...(i.hashKey !== undefined ? { ExplicitHashKey: i.hashKey } : {}),
      })),
    }),
  );
  expect(res.FailedRecordCount ?? 0).toBe(0);
  return (res.Records ?? []).map((r, i) => ({
    shardId: r.ShardId!,
    sequenceNumber: r.SequenceNumber!,
    partitionKey: items[i]!.partitionKey,
    data: items[i]!.data,
  }));
}

function items(tag: string, n: number, hashKeys: string[] = ['0', HALF]) {
  return Array.from({ length: n }, (_, i) => ({
    data: `${tag}-${i}`,
    partitionKey: `pk-${tag}-${i}`,
    hashKey: hashKeys[i % hashKeys.length]!,
  }));
}

function view(r: KinesisRecordIn): Put {
  return { shardId: r.shardId, sequenceNumber: r.sequenceNumber, partitionKey: r.partitionKey, data: dec.decode(r.data) };
}

function byShard(list: Put[]): Map<string, Put[]> {
  const m = new Map<string, Put[]>();
  for (const p of list) m.set(p.shardId, [...(m.get(p.shardId) ?? []), p]);
  return m;
}

async function collect(client: KinesisClient, opts: TailKinesisOptions): Promise<KinesisRecordIn[]> {
  const out: KinesisRecordIn[] = [];
  for await (const r of tailKinesis(client, opts)) out.push(r);
  return out;
}

function waitFor(events: TailEvent[], pred: (e: TailEvent) => boolean, count: number, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  return (async () => {
    while (events.filter(pred).length < count) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for events; got ${JSON.stringify(events)}`);
      await sleep(20);
    }
  })();
}

describe('shardIteratorRequest', () => {
  it('resumes after the last sequence number, else uses the original start', () => {
    const ts = new Date('2024-01-02T03:04:05Z');
    expect(shardIteratorRequest('s', 'shardId-1', { type: 'AT_TIMESTAMP', timestamp: ts })).toEqual({
      StreamName: 's',
      ShardId: 'shardId-1',
      ShardIteratorType: 'AT_TIMESTAMP',
      Timestamp: ts,
    });
    expect(shardIteratorRequest('s', 'shardId-1', { type: 'LATEST' }, '4960')).toEqual({
      StreamName: 's',
      ShardId: 'shardId-1',
      ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
      StartingSequenceNumber: '4960',
    });
    expect(shardIteratorRequest('s', 'shardId-1', { type: 'TRIM_HORIZON' }).ShardIteratorType).toBe('TRIM_HORIZON');
  });
});

describe('tailKinesis against kinesis-local', () => {
  let server: KinesisLocal;
  let client: KinesisClient;

  useKinesisLocal({}, (s, c) => ((server = s), (client = c)));

  it('from trim-horizon reads every record of a 2-shard stream in per-shard order, then idles out', async () => {
    const stream = await createStream(client, 2);
    const puts = [...(await put(client, stream, items('a', 12))), ...(await put(client, stream, items('b', 9)))];
    expect(new Set(puts.map((p) => p.shardId)).size).toBe(2);

    const t0 = Date.now();
    const got = await collect(client, { streamName: stream, from: 'trim-horizon', pollIntervalMs: 100, idleExitMs: 800 });
    expect(Date.now() - t0).toBeLessThan(10_000);

    expect(got).toHaveLength(puts.length);
    expect(got.every((r) => r.streamName === stream)).toBe(true);
    expect(got.every((r) => r.arrivalMs > Date.now() - 60_000 && r.arrivalMs <= Date.now())).toBe(true);
    expect(got.every((r) => r.subSequenceNumber === undefined)).toBe(true);
    // Interleaving between shards is free; within a shard the order must be the put order.
    expect(byShard(got.map(view))).toEqual(byShard(puts));
  });

  it('from latest returns only records put after the tail started, and stops at maxRecords', async () => {
    const stream = await createStream(client, 2);
    await put(client, stream, items('old', 6));
    const events: TailEvent[] = [];
    const pending = collect(client, {
      streamName: stream,
      from: 'latest',
      pollIntervalMs: 100,
      maxRecords: 6,
      onEvent: (e) => events.push(e),
    });
    await waitFor(events, (e) => e.type === 'shard-start' && e.iteratorType === 'LATEST', 2);
    const fresh = await put(client, stream, items('new', 6));
    const got = await pending;
    expect(got.map(view).sort((x, y) => x.data.localeCompare(y.data))).toEqual(
      [...fresh].sort((x, y) => x.data.localeCompare(y.data)),
    );
  });

  it('from a timestamp returns only records that arrived at or after it', async () => {
    const stream = await createStream(client, 2);
    await put(client, stream, items('before', 4));
    await sleep(300);
    const from = new Date();
    await sleep(300);
    const after = await put(client, stream, items('after', 5));
    const got = await collect(client, { streamName: stream, from, pollIntervalMs: 100, idleExitMs: 800 });
    expect(byShard(got.map(view))).toEqual(byShard(after));
  });

  it('stops cleanly on abort, both mid-stream and while waiting for records', async () => {
    const stream = await createStream(client, 2);
    await put(client, stream, items('x', 10));

    const ac = new AbortController();
    const got: KinesisRecordIn[] = [];
    for await (const r of tailKinesis(client, { streamName: stream, from: 'trim-horizon', signal: ac.signal })) {
      got.push(r);
      if (got.length === 3) ac.abort();
    }
    expect(got).toHaveLength(3);

    // Caught up and sleeping in a long poll interval: abort must not wait for it.
    const idle = new AbortController();
    const events: TailEvent[] = [];
    const pending = collect(client, {
      streamName: stream,
      from: 'latest',
      signal: idle.signal,
      pollIntervalMs: 60_000,
      onEvent: (e) => events.push(e),
    });
    await waitFor(events, (e) => e.type === 'shard-start', 2);
    await sleep(200);
    const t0 = Date.now();
    idle.abort();
    expect(await pending).toEqual([]);
    expect(Date.now() - t0).toBeLessThan(1000);
  });

  it('breaking out of the loop stops the shard readers', async () => {
    const stream = await createStream(client, 2);
    await put(client, stream, items('y', 8));
    let n = 0;
    for await (const _ of tailKinesis(client, { streamName: stream, from: 'trim-horizon' })) {
      if (++n === 2) break;
    }
    expect(n).toBe(2);
  });

  it('surfaces API errors (unknown stream) instead of hanging', async () => {
    await expect(collect(client, { streamName: 'no-such-stream', from: 'latest', idleExitMs: 500 })).rejects.toThrow(
      /not found|ResourceNotFound|does not exist/i,
    );
  });

  it('reads children only after the parent has ended (split before the tail started)', async () => {
    const stream = await createStream(client, 1);
    const parentPuts = await put(client, stream, items('parent', 6, ['1', HALF, '5']));
    const parentId = parentPuts[0]!.shardId;
    await client.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: parentId, NewStartingHashKey: HALF }));
    await waitActive(client, stream);
    const childPuts = await put(client, stream, items('child', 8, ['1', HALF]));
    expect(new Set(childPuts.map((p) => p.shardId)).size).toBe(2);
    expect(childPuts.some((p) => p.shardId === parentId)).toBe(false);

    const events: TailEvent[] = [];
    const got = await collect(client, {
      streamName: stream,
      from: 'trim-horizon',
      pollIntervalMs: 50,
      idleExitMs: 800,
      onEvent: (e) => events.push(e),
    });
    const seen = got.map(view);
    expect(seen.slice(0, parentPuts.length)).toEqual(parentPuts);
    expect(byShard(seen.slice(parentPuts.length))).toEqual(byShard(childPuts));
    const end = events.find((e) => e.type === 'shard-end' && e.shardId === parentId);
    expect(end && end.type === 'shard-end' ? [...end.childShardIds].sort() : []).toEqual(
      [...new Set(childPuts.map((p) => p.shardId))].sort(),
    );
    // Children must not even have started before the parent ended.
    const endIdx = events.findIndex((e) => e.type === 'shard-end' && e.shardId === parentId);
    const childStarts = events
      .map((e, i) => [e, i] as const)
      .filter(([e]) => e.type === 'shard-start' && e.shardId !== parentId);
    expect(childStarts).toHaveLength(2);
    expect(childStarts.every(([, i]) => i > endIdx)).toBe(true);
  });

  it('follows a SplitShard that happens during a trim-horizon tail', async () => {
    const stream = await createStream(client, 1);
    const parentPuts = await put(client, stream, items('p', 5, ['7']));
    const parentId = parentPuts[0]!.shardId;
    const got: Put[] = [];
    let childPuts: Put[] = [];
    for await (const r of tailKinesis(client, {
      streamName: stream,
      from: 'trim-horizon',
      pollIntervalMs: 50,
      shardRefreshMs: 200,
      idleExitMs: 1500,
    })) {
      got.push(view(r));
      if (got.length === parentPuts.length) {
        await client.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: parentId, NewStartingHashKey: HALF }));
        await waitActive(client, stream);
        childPuts = await put(client, stream, items('c', 6, ['3', HALF]));
      }
    }
    expect(got.slice(0, parentPuts.length)).toEqual(parentPuts);
    expect(byShard(got.slice(parentPuts.length))).toEqual(byShard(childPuts));
    const shards = await client.send(new ListShardsCommand({ StreamName: stream }));
    for (const id of new Set(childPuts.map((p) => p.shardId))) {
      expect(shards.Shards?.find((s) => s.ShardId === id)?.ParentShardId).toBe(parentId);
    }
  });
});

async function waitActive(client: KinesisClient, stream: string): Promise<void> {
  for (let i = 0; i < 100; i++) {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return;
    await sleep(50);
  }
  throw new Error(`stream ${stream} not ACTIVE`);
}

// Own server: moving its clock 301 s forward would break the timestamp tests above.
describe('tailKinesis iterator expiry (kinesis-local with a movable clock)', () => {
  let server: KinesisLocal;
  let client: KinesisClient;

  useKinesisLocal({ clockStepMs: 301_000 }, (s, c) => ((server = s), (client = c)));

  it('renews an expired iterator after the last record seen, without loss or duplicates', async () => {
    const stream = await createStream(client, 1);
    const first = await put(client, stream, items('first', 4, ['1']));
    const events: TailEvent[] = [];
    const got: Put[] = [];
    let second: Put[] = [];
    for await (const r of tailKinesis(client, {
      streamName: stream,
      from: 'trim-horizon',
      pollIntervalMs: 100,
      maxRecords: 8,
      onEvent: (e) => events.push(e),
    })) {
      got.push(view(r));
      if (got.length === first.length) {
        // The iterator the tail holds was issued before the jump, so its next use expires. A
        // jump landing while a GetRecords is in flight can yield a post-jump iterator: retry.
        for (let i = 0; i < 3 && !events.some((e) => e.type === 'iterator-renewed'); i++) {
          await server.advanceClock();
          await waitFor(events, (e) => e.type === 'iterator-renewed', 1, 2000).catch(() => {});
        }
        second = await put(client, stream, items('second', 4, ['1']));
      }
    }
    expect(got).toEqual([...first, ...second]);
    const renewed = events.find((e) => e.type === 'iterator-renewed');
    expect(renewed).toEqual({
      type: 'iterator-renewed',
      shardId: first[0]!.shardId,
      afterSequenceNumber: first[first.length - 1]!.sequenceNumber,
    });
  });
});
