/**
 * Reads shards with enhanced fan-out: registers (or finds) a stream consumer, then
 * SubscribeToShard, resubscribing from the continuation sequence number when a subscription
 * ends (AWS ends each after 5 minutes; we also end it ourselves at 5 minutes) or fails.
 *
 * Shard end: AWS's last event has ChildShards and no continuation. kinesis-local never sends it
 * after a split, so when events come back empty and caught up, ListShards is asked (at most every
 * few seconds) whether the shard is closed; a closed shard that is caught up twice in a row
 * is finished, with its children taken from the same listing.
 */
import {
  DescribeStreamConsumerCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  RegisterStreamConsumerCommand,
  type StartingPosition,
  SubscribeToShardCommand,
  type ChildShard,
} from '@aws-sdk/client-kinesis';
import type { KinesisRecordIn } from '../types.js';
import type { ShardBatch, ShardReadOptions, ShardReader } from './records.js';
import { toRecordIn } from './records.js';
import { abortableSleep, backoffMs, errorName, isThrottle, Stopped } from './retry.js';
import { listAllShards, parentsOf } from './shard-sync.js';

export interface EfoOptions {
  readonly streamName: string;
  readonly consumerName: string;
  /** For ListShards (any unary client; the EFO client works too). */
  readonly listShardsClient?: Pick<KinesisClient, 'send'>;
  /** Resubscribe after this long. Default 5 minutes (AWS's subscription lifetime). */
  readonly subscriptionMs?: number;
  /** Minimum spacing of ListShards checks per shard. Default 5 s. */
  readonly shardEndCheckMs?: number;
  readonly signal?: AbortSignal;
}

/** Registers the consumer if needed and waits until it is ACTIVE; returns its ARN. */
export async function ensureStreamConsumer(client: Pick<KinesisClient, 'send'>, streamName: string, consumerName: string, signal?: AbortSignal): Promise<string> {
  const summary = await client.send(new DescribeStreamSummaryCommand({ StreamName: streamName }), { abortSignal: signal });
  const streamArn = summary.StreamDescriptionSummary?.StreamARN;
  if (!streamArn) throw new Error(`stream ${streamName} has no ARN`);
  try {
    await client.send(new RegisterStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: consumerName }), { abortSignal: signal });
  } catch (err) {
    if (errorName(err) !== 'ResourceInUseException') throw err; // already registered: fine
  }
  for (let i = 0; ; i++) {
    const d = await client.send(new DescribeStreamConsumerCommand({ StreamARN: streamArn, ConsumerName: consumerName }), { abortSignal: signal });
    const c = d.ConsumerDescription;
    if (c?.ConsumerStatus === 'ACTIVE' && c.ConsumerARN) return c.ConsumerARN;
    if (i > 120) throw new Error(`stream consumer ${consumerName} not ACTIVE after 60 s`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

function startingPosition(start: ShardReadOptions['start'], continuation: string | undefined): StartingPosition {
  if (continuation !== undefined) return { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: continuation };
  switch (start.type) {
    case 'AFTER_SEQUENCE_NUMBER':
      return { Type: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: start.sequenceNumber };
    case 'AT_TIMESTAMP':
      return { Type: 'AT_TIMESTAMP', Timestamp: start.timestamp };
    default:
      return { Type: start.type };
  }
}

export async function efoReader(client: KinesisClient, o: EfoOptions): Promise<ShardReader> {
  const consumerArn = await ensureStreamConsumer(o.listShardsClient ?? client, o.streamName, o.consumerName, o.signal);
  const lister = o.listShardsClient ?? client;
  const lifetimeMs = o.subscriptionMs ?? 5 * 60_000;
  const checkMs = o.shardEndCheckMs ?? 5000;

  return async function* readShard(opts: ShardReadOptions): AsyncGenerator<ShardBatch> {
    const { shardId, signal, streamName } = opts;
    const emit = opts.onEvent ?? (() => {});
    // Where to resume: the last continuation (AWS's own resume point), else the lease's start.
    let continuation: string | undefined;
    let failures = 0;
    let lastCheck = 0;
    let caughtUpClosed = 0;
    for (;;) {
      if (signal.aborted) throw new Stopped();
      const sub = new AbortController();
      const onAbort = () => sub.abort();
      signal.addEventListener('abort', onAbort, { once: true });
      const timer = setTimeout(() => sub.abort(), lifetimeMs);
      let reason = 'subscription ended';
      try {
        const res = await client.send(
          new SubscribeToShardCommand({ ConsumerARN: consumerArn, ShardId: shardId, StartingPosition: startingPosition(opts.start, continuation) }),
          { abortSignal: sub.signal },
        );
        if (!res.EventStream) throw new Error('SubscribeToShard returned no event stream');
        for await (const ev of res.EventStream) {
          const e = ev.SubscribeToShardEvent;
          if (!e) continue; // a modelled error event surfaces as an exception from the iterator
          failures = 0;
          const records: KinesisRecordIn[] = [];
          for (const r of e.Records ?? []) {
            const rec = toRecordIn(streamName, shardId, r);
            if (rec) records.push(rec);
          }
          const behind = e.MillisBehindLatest ?? 0;
          if (e.ContinuationSequenceNumber) continuation = e.ContinuationSequenceNumber;
          let end = !e.ContinuationSequenceNumber && (e.ChildShards?.length ?? 0) > 0;
          let children: readonly ChildShard[] = e.ChildShards ?? [];
          if (!end && records.length === 0 && behind === 0 && Date.now() - lastCheck >= checkMs) {
            lastCheck = Date.now();
            const closed = await closedShard(lister, streamName, shardId, signal);
            caughtUpClosed = closed ? caughtUpClosed + 1 : 0;
            if (closed && caughtUpClosed >= 2) {
              end = true;
              children = closed.children;
            }
          } else if (records.length > 0) {
            caughtUpClosed = 0;
          }
          yield { records, millisBehindLatest: behind, shardEnd: end, childShards: end ? children : [] };
          if (end) return;
        }
      } catch (err) {
        if (signal.aborted) throw new Stopped();
        if (!sub.signal.aborted) {
          reason = errorName(err) || String(err);
          // ResourceInUse: our previous subscription is still closing; throttles: 1/s per shard.
          const delayMs = backoffMs(failures++);
          if (isThrottle(err) || errorName(err) === 'ResourceInUseException') emit({ type: 'throttled', shardId, errorName: errorName(err), delayMs });
          else if (failures > 10) throw err;
          await abortableSleep(delayMs, signal);
        } else {
          reason = 'resubscribing after 5 minutes';
        }
      } finally {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
      }
      emit({ type: 'resubscribed', shardId, reason });
    }
  };
}

/** The shard's children if ListShards says it is closed, else undefined. */
async function closedShard(client: Pick<KinesisClient, 'send'>, streamName: string, shardId: string, signal: AbortSignal): Promise<{ children: ChildShard[] } | undefined> {
  const shards = await listAllShards(client, streamName, signal);
  const me = shards.find((s) => s.ShardId === shardId);
  if (!me || me.SequenceNumberRange?.EndingSequenceNumber === undefined) return undefined;
  const children = shards
    .filter((s) => parentsOf(s).includes(shardId))
    .map((s) => ({ ShardId: s.ShardId!, ParentShards: parentsOf(s), HashKeyRange: s.HashKeyRange! }));
  return { children };
}
