/**
 * Enhanced fan-out against kinesis-local (over h2c with the GOAWAY workaround): records arrive
 * through SubscribeToShard, resubscription continues exactly after the last record, and the end
 * of a split shard is found through ListShards (kinesis-local's EFO never signals it).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type KinesisClient, SplitShardCommand } from '@aws-sdk/client-kinesis';
import { createKinesisEfoClient } from '../../src/aws/clients.js';
import { efoReader } from '../../src/sources/kinesis/efo-reader.js';
import type { ReaderEvent, ShardBatch } from '../../src/sources/kinesis/records.js';
import type { KinesisLocal } from '../support/local-servers.js';
import { useKinesisLocal } from '../support/local-aws.js';
import { createStream, HALF, putText } from './helpers.js';

const dec = new TextDecoder();

describe('enhanced fan-out reader', () => {
  let server: KinesisLocal;
  let client: KinesisClient;
  let efo: KinesisClient;
  useKinesisLocal({}, (s, c) => ((server = s), (client = c)));
  beforeAll(() => {
    efo = createKinesisEfoClient({ endpoint: server.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
  });
  afterAll(() => efo?.destroy());

  it('reads, resubscribes without loss or duplicates, and ends a split shard', async () => {
    const stream = await createStream(client, 1, 'efo');
    const first = await putText(client, stream, Array.from({ length: 5 }, (_, i) => ({ data: `a${i}`, hashKey: 0n })));
    const shardId = first[0]!.shardId;
    // Short subscriptions so a resubscription happens during the test.
    const read = await efoReader(efo, { streamName: stream, consumerName: 'flowcut-test', listShardsClient: client, subscriptionMs: 2500, shardEndCheckMs: 300 });
    const events: ReaderEvent[] = [];
    const stop = new AbortController();
    const it = read({ streamName: stream, shardId, start: { type: 'TRIM_HORIZON' }, signal: stop.signal, onEvent: (e) => events.push(e) })[Symbol.asyncIterator]();
    const got: string[] = [];
    let last: ShardBatch | undefined;
    const deadline = Date.now() + 40_000;
    let putMore = false;
    let split = false;
    while (Date.now() < deadline) {
      const r = await it.next();
      if (r.done) break;
      last = r.value;
      got.push(...last.records.map((x) => dec.decode(x.data)));
      if (got.length >= 5 && !putMore && events.some((e) => e.type === 'resubscribed')) {
        putMore = true;
        await putText(client, stream, Array.from({ length: 5 }, (_, i) => ({ data: `b${i}`, hashKey: 0n })));
      }
      if (got.length >= 10 && !split) {
        split = true;
        await client.send(new SplitShardCommand({ StreamName: stream, ShardToSplit: shardId, NewStartingHashKey: HALF.toString() }));
      }
      if (last.shardEnd) break;
    }
    stop.abort();
    expect(got).toEqual(['a0', 'a1', 'a2', 'a3', 'a4', 'b0', 'b1', 'b2', 'b3', 'b4']);
    expect(events.some((e) => e.type === 'resubscribed')).toBe(true);
    expect(last?.shardEnd).toBe(true);
    expect(last!.childShards.map((c) => c.ParentShards)).toEqual([[shardId], [shardId]]);
  });
});
