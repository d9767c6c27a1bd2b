/**
 * The polling shard reader against kinesis-local: throttling (injected, since kinesis-local
 * never throttles) and iterator expiry (real, by moving kinesis-local's clock 5+ minutes).
 */
import { describe, expect, it } from 'vitest';
import { type KinesisClient, ProvisionedThroughputExceededException, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { pollingReader, type KinesisSender } from '../../src/sources/kinesis/polling-reader.js';
import type { ReaderEvent, ShardBatch } from '../../src/sources/kinesis/records.js';
import type { KinesisLocal } from '../support/local-servers.js';
import { useKinesisLocal } from '../support/local-aws.js';
import { createStream, HALF, putText } from './helpers.js';

const dec = new TextDecoder();

describe('polling reader', () => {
  let server: KinesisLocal;
  let client: KinesisClient;
  // Each advanceClock() jumps past the 300 s iterator lifetime.
  useKinesisLocal({ clockStepMs: 301_000 }, (s, c) => ((server = s), (client = c)));

  it('backs off on ProvisionedThroughputExceededException and loses nothing', async () => {
    const stream = await createStream(client, 1, 'thr');
    const put = await putText(client, stream, Array.from({ length: 30 }, (_, i) => ({ data: `r${i}`, hashKey: 0n })));
    // A wrapper over the real client's send: the first 3 GetRecords are refused as AWS would.
    let refusals = 3;
    let getRecordsCalls = 0;
    const throttling: KinesisSender = {
      send: ((cmd: { constructor: { name: string } }, o?: unknown) => {
        if (cmd.constructor.name === 'GetRecordsCommand') {
          getRecordsCalls++;
          if (refusals-- > 0) {
            return Promise.reject(new ProvisionedThroughputExceededException({ message: 'Rate exceeded for shard', $metadata: {} }));
          }
        }
        return (client.send as (c: unknown, o?: unknown) => Promise<unknown>)(cmd, o);
      }) as KinesisSender['send'],
    };
    const events: ReaderEvent[] = [];
    const stop = new AbortController();
    const got: string[] = [];
    const read = pollingReader(throttling, { limit: 10, idlePollMs: 20, minCallSpacingMs: 0 });
    for await (const b of read({ streamName: stream, shardId: put[0]!.shardId, start: { type: 'TRIM_HORIZON' }, signal: stop.signal, onEvent: (e) => events.push(e) })) {
      got.push(...b.records.map((r) => dec.decode(r.data)));
      if (got.length >= 30) break;
    }
    expect(got).toEqual(put.map((p) => p.data));
    const throttled = events.filter((e) => e.type === 'throttled');
    expect(throttled).toHaveLength(3);
    // Exponential: the third back-off is at least as long as the first could be at most.
    expect(throttled.map((e) => (e.type === 'throttled' ? e.delayMs : 0))[2]).toBeGreaterThanOrEqual(500);
    expect(getRecordsCalls).toBeGreaterThanOrEqual(6);
  });

  it('renews an expired iterator after the last record read, without loss or duplicates', async () => {
    const stream = await createStream(client, 1, 'exp');
    const first = await putText(client, stream, Array.from({ length: 5 }, (_, i) => ({ data: `a${i}`, hashKey: 0n })));
    const events: ReaderEvent[] = [];
    const stop = new AbortController();
    const it = pollingReader(client, { limit: 5, idlePollMs: 20, minCallSpacingMs: 0 })({
      streamName: stream,
      shardId: first[0]!.shardId,
      start: { type: 'TRIM_HORIZON' },
      signal: stop.signal,
      onEvent: (e) => events.push(e),
    })[Symbol.asyncIterator]();
    const got: string[] = [];
    const next = async () => (await it.next()).value as ShardBatch;
    while (got.length < 5) got.push(...(await next()).records.map((r) => dec.decode(r.data)));
    // The reader now holds an iterator for what follows; let 5+ minutes pass on the server.
    await server.advanceClock();
    await putText(client, stream, Array.from({ length: 5 }, (_, i) => ({ data: `b${i}`, hashKey: 0n })));
    while (got.length < 10) got.push(...(await next()).records.map((r) => dec.decode(r.data)));
    await it.return?.(undefined);
    expect(got).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2', 'b3', 'b4']);
    expect(events).toContainEqual({ type: 'iterator-renewed', shardId: first[0]!.shardId, afterSequenceNumber: first[4]!.sequenceNumber });
  });

  it('reports the end of a split shard with its children', async () => {
    const stream = await createStream(client, 1, 'end');
    const put = await putText(client, stream, [{ data: 'x', hashKey: 0n }]);
    const shardId = put[0]!.shardId;
    await client.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: shardId, NewStartingHashKey: HALF.toString() }));
    const batches: ShardBatch[] = [];
    for await (const b of pollingReader(client, { idlePollMs: 20, minCallSpacingMs: 0 })({ streamName: stream, shardId, start: { type: 'TRIM_HORIZON' }, signal: new AbortController().signal })) {
      batches.push(b);
    }
    expect(batches.flatMap((b) => b.records.map((r) => dec.decode(r.data)))).toEqual(['x']);
    const last = batches[batches.length - 1]!;
    expect(last.shardEnd).toBe(true);
    expect(last.childShards).toHaveLength(2);
    for (const c of last.childShards) expect(c.ParentShards).toEqual([shardId]);
  });
});
