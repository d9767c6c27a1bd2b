/**
 * PutRecords with the retries AWS's documentation asks for: a call may succeed while some of its
 * entries fail (throttled shard, internal error), and only those are sent again, after a back-off.
 */
import { PutRecordsCommand, type KinesisClient, type PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import { abortableSleep, backoffMs, isThrottle } from './retry.js';

/** Kinesis limits for one PutRecords call. */
export const MAX_PUT_RECORDS = 500;
export const MAX_PUT_BYTES = 5 * 1024 * 1024;
/** Largest data blob of one record (1 MiB, partition key included). */
export const MAX_RECORD_BYTES = 1024 * 1024;

export interface PutResult {
  readonly shardId: string;
  readonly sequenceNumber: string;
}

export interface PutOptions {
  readonly signal?: AbortSignal;
  /** Give up after this many attempts for one entry. Default 20. */
  readonly maxAttempts?: number;
  readonly onRetry?: (failed: number, errorCode: string, delayMs: number) => void;
}

/** Puts up to 500 entries; resolves with each entry's shard and sequence number, in order. */
export async function putRecordsWithRetry(
  client: Pick<KinesisClient, 'send'>,
  streamName: string,
  entries: readonly PutRecordsRequestEntry[],
  opts: PutOptions = {},
): Promise<PutResult[]> {
  const signal = opts.signal ?? new AbortController().signal;
  const maxAttempts = opts.maxAttempts ?? 20;
  const results = new Array<PutResult | undefined>(entries.length);
  let pending = entries.map((_, i) => i);
  for (let attempt = 0; pending.length > 0; attempt++) {
    if (attempt >= maxAttempts) throw new Error(`PutRecords: ${pending.length} record(s) still failing after ${maxAttempts} attempts`);
    let res;
    try {
      res = await client.send(new PutRecordsCommand({ StreamName: streamName, Records: pending.map((i) => entries[i]!) }), { abortSignal: signal });
    } catch (err) {
      if (!isThrottle(err)) throw err;
      const delayMs = backoffMs(attempt);
      opts.onRetry?.(pending.length, (err as Error).name, delayMs);
      await abortableSleep(delayMs, signal);
      continue;
    }
    const failed: number[] = [];
    let code = '';
    (res.Records ?? []).forEach((r, k) => {
      const i = pending[k]!;
      if (r.ErrorCode || !r.SequenceNumber || !r.ShardId) {
        failed.push(i);
        code ||= r.ErrorCode ?? 'unknown';
      } else {
        results[i] = { shardId: r.ShardId, sequenceNumber: r.SequenceNumber };
      }
    });
    pending = failed;
    if (pending.length > 0) {
      const delayMs = backoffMs(attempt);
      opts.onRetry?.(pending.length, code, delayMs);
      await abortableSleep(delayMs, signal);
    }
  }
  return results as PutResult[];
}
