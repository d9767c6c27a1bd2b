/**
 * Reads one shard with GetRecords: follows MillisBehindLatest (no pause while behind, a poll
 * interval once caught up), stays under 5 calls/s per shard, backs off on throttling, renews an
 * expired iterator after the last record seen, and reports the shard's end with its children.
 */
import { GetRecordsCommand, GetShardIteratorCommand, type KinesisClient } from '@aws-sdk/client-kinesis';
import { shardIteratorRequest } from '../kinesis-tail.js';
import type { KinesisRecordIn } from '../types.js';
import type { ShardBatch, ShardReadOptions } from './records.js';
import { toRecordIn } from './records.js';
import { abortableSleep, backoffMs, errorName, isThrottle, MIN_CALL_SPACING_MS } from './retry.js';

/** Only `send` is used, so tests can wrap a real client to inject failures. */
export type KinesisSender = Pick<KinesisClient, 'send'>;

export interface PollingOptions {
  /** Wait between calls once caught up (MillisBehindLatest 0 and nothing returned). Default 1 s. */
  readonly idlePollMs?: number;
  /** GetRecords Limit, 1..10000. Default 10000 (a full shard second is 1000 records or 2 MB). */
  readonly limit?: number;
  /** Minimum spacing of GetRecords calls on one shard. Default 200 ms (the 5/s limit). */
  readonly minCallSpacingMs?: number;
}

export function pollingReader(client: KinesisSender, popts: PollingOptions = {}) {
  const idlePollMs = popts.idlePollMs ?? 1000;
  const limit = popts.limit ?? 10_000;
  const spacingMs = popts.minCallSpacingMs ?? MIN_CALL_SPACING_MS;

  return async function* readShard(opts: ShardReadOptions): AsyncGenerator<ShardBatch> {
    const { streamName, shardId, start, signal } = opts;
    const emit = opts.onEvent ?? (() => {});
    // Resume point for iterator renewal: the last record seen, else the lease's position.
    let lastSeq = start.type === 'AFTER_SEQUENCE_NUMBER' ? start.sequenceNumber : undefined;
    const original =
      start.type === 'AT_TIMESTAMP' ? { type: 'AT_TIMESTAMP' as const, timestamp: start.timestamp } : { type: start.type === 'LATEST' ? ('LATEST' as const) : ('TRIM_HORIZON' as const) };

    const getIterator = async (): Promise<string | undefined> => {
      for (let attempt = 0; ; attempt++) {
        try {
          const res = await client.send(new GetShardIteratorCommand(shardIteratorRequest(streamName, shardId, original, lastSeq)), { abortSignal: signal });
          return res.ShardIterator;
        } catch (err) {
          if (signal.aborted || !isThrottle(err)) throw err;
          const delayMs = backoffMs(attempt);
          emit({ type: 'throttled', shardId, errorName: errorName(err), delayMs });
          await abortableSleep(delayMs, signal);
        }
      }
    };

    let iterator = await getIterator();
    let throttles = 0;
    let lastCall = 0;
    while (iterator !== undefined) {
      const wait = lastCall + spacingMs - Date.now();
      if (wait > 0) await abortableSleep(wait, signal);
      lastCall = Date.now();
      let res;
      try {
        res = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }), { abortSignal: signal });
      } catch (err) {
        if (signal.aborted) throw err;
        const name = errorName(err);
        if (name === 'ExpiredIteratorException') {
          // Iterators live 5 minutes; a slow sink can outlast one. Resume after the last record.
          iterator = await getIterator();
          emit({ type: 'iterator-renewed', shardId, ...(lastSeq !== undefined ? { afterSequenceNumber: lastSeq } : {}) });
          continue;
        }
        if (isThrottle(err)) {
          const delayMs = backoffMs(throttles++);
          emit({ type: 'throttled', shardId, errorName: name, delayMs });
          await abortableSleep(delayMs, signal);
          continue;
        }
        throw err;
      }
      throttles = 0;
      const records: KinesisRecordIn[] = [];
      for (const r of res.Records ?? []) {
        const rec = toRecordIn(streamName, shardId, r);
        if (rec) records.push(rec);
      }
      if (records.length > 0) lastSeq = records[records.length - 1]!.sequenceNumber;
      const behind = res.MillisBehindLatest ?? 0;
      iterator = res.NextShardIterator ?? undefined;
      const shardEnd = iterator === undefined;
      yield { records, millisBehindLatest: behind, shardEnd, childShards: shardEnd ? (res.ChildShards ?? []) : [] };
      if (!shardEnd && records.length === 0 && behind === 0) await abortableSleep(idlePollMs, signal);
    }
  };
}
