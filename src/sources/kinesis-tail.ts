/**
 * Live tail of every shard of a Kinesis stream, for a human-facing `cat`: no leases, no
 * checkpoints. One polling loop per shard feeds the consumer; order is kept within a shard and
 * shards interleave freely.
 *
 * Resharding: the shard list is refreshed periodically and whenever a shard ends. A child shard
 * is only read after every parent it has that we are reading has reached SHARD_END (GetRecords
 * returned no NextShardIterator), so per-partition-key order survives a split or merge.
 */
import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  type GetShardIteratorCommandInput,
  type KinesisClient,
  ListShardsCommand,
  type Shard,
  type ShardIteratorType,
} from '@aws-sdk/client-kinesis';
import type { KinesisRecordIn } from './types.js';
import { abortableSleep, backoffMs, errorName, MIN_CALL_SPACING_MS, Stopped, THROTTLE_ERRORS } from './kinesis/retry.js';

export type TailFrom = 'latest' | 'trim-horizon' | Date;

export interface TailKinesisOptions {
  readonly streamName: string;
  readonly from: TailFrom;
  readonly signal?: AbortSignal;
  /** Wait between GetRecords calls on a shard that is caught up. Default 1000 ms. */
  readonly pollIntervalMs?: number;
  /** Stop after yielding this many records. */
  readonly maxRecords?: number;
  /** Stop once every shard has been caught up with no new records for this long. */
  readonly idleExitMs?: number;
  /** How often to look for new shards. Default 10 s. */
  readonly shardRefreshMs?: number;
  /** GetRecords Limit (1..10000). Default 1000. */
  readonly getRecordsLimit?: number;
  /** Diagnostics (for --verbose): shards starting/ending, iterator renewals, throttling. */
  readonly onEvent?: (event: TailEvent) => void;
}

export type TailEvent =
  | { readonly type: 'shard-start'; readonly shardId: string; readonly iteratorType: ShardIteratorType }
  | { readonly type: 'shard-end'; readonly shardId: string; readonly childShardIds: readonly string[] }
  | { readonly type: 'iterator-renewed'; readonly shardId: string; readonly afterSequenceNumber?: string }
  | { readonly type: 'throttled'; readonly shardId: string; readonly errorName: string; readonly delayMs: number };

/** Where a shard's reading starts; `afterSequenceNumber` wins once a record has been seen. */
export interface ShardStart {
  readonly type: 'LATEST' | 'TRIM_HORIZON' | 'AT_TIMESTAMP';
  readonly timestamp?: Date;
}

/**
 * The GetShardIterator request for a shard: resume after the last record seen, else the original
 * start. Used both for the first iterator and to renew an expired one.
 */
export function shardIteratorRequest(
  streamName: string,
  shardId: string,
  start: ShardStart,
  lastSequenceNumber?: string,
): GetShardIteratorCommandInput {
  if (lastSequenceNumber !== undefined) {
    return {
      StreamName: streamName,
      ShardId: shardId,
      ShardIteratorType: 'AFTER_SEQUENCE_NUMBER',
      StartingSequenceNumber: lastSequenceNumber,
    };
  }
  return {
    StreamName: streamName,
    ShardId: shardId,
    ShardIteratorType: start.type,
    ...(start.type === 'AT_TIMESTAMP' ? { Timestamp: start.timestamp } : {}),
  };
}

interface Batch {
  readonly records: KinesisRecordIn[];
  readonly consumed: () => void;
}

type ShardState = 'waiting' | 'reading' | 'done';

interface ShardEntry {
  readonly id: string;
  parents: string[];
  closed: boolean;
  state: ShardState;
  /** Set once the shard has answered at least one GetRecords. */
  polled: boolean;
  /** Last GetRecords was empty with MillisBehindLatest 0. */
  caughtUp: boolean;
}

/**
 * Tails every shard of `streamName`. Ends on abort (no error), after `maxRecords`, or when idle
 * for `idleExitMs`; API errors other than throttling and iterator expiry end it with that error.
 */
export async function* tailKinesis(
  client: KinesisClient,
  opts: TailKinesisOptions,
): AsyncGenerator<KinesisRecordIn, void, undefined> {
  const { streamName } = opts;
  const pollIntervalMs = opts.pollIntervalMs ?? 1000;
  const shardRefreshMs = opts.shardRefreshMs ?? 10_000;
  const limit = opts.getRecordsLimit ?? 1000;
  const emit = opts.onEvent ?? (() => {});

  // One controller stops everything: the caller's signal, the consumer breaking out of its
  // loop (generator return), maxRecords, idle exit, or a fatal error.
  const stop = new AbortController();
  const onOuterAbort = () => stop.abort();
  opts.signal?.addEventListener('abort', onOuterAbort, { once: true });
  if (opts.signal?.aborted) stop.abort();

  const initialStart: ShardStart =
    opts.from === 'latest'
      ? { type: 'LATEST' }
      : opts.from === 'trim-horizon'
        ? { type: 'TRIM_HORIZON' }
        : { type: 'AT_TIMESTAMP', timestamp: opts.from };
  // Shards that appear after we started hold only records written after we started.
  const laterStart: ShardStart = opts.from === 'latest' ? { type: 'TRIM_HORIZON' } : initialStart;

  const shards = new Map<string, ShardEntry>();
  const queue: Batch[] = [];
  const workers = new Set<Promise<void>>();
  let fatal: { error: unknown } | undefined;
  let lastActivity = Date.now();
  let wake: (() => void) | undefined;
  const notify = () => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  stop.signal.addEventListener('abort', notify, { once: true });
  const fail = (error: unknown) => {
    fatal ??= { error };
    stop.abort();
    notify();
  };

  async function listShards(): Promise<Shard[]> {
    const all: Shard[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        // ListShards rejects StreamName together with NextToken.
        new ListShardsCommand(token !== undefined ? { NextToken: token } : { StreamName: streamName }),
        { abortSignal: stop.signal },
      );
      all.push(...(page.Shards ?? []));
      token = page.NextToken;
    } while (token !== undefined);
    return all;
  }

  function addShards(list: Shard[], atStartup: boolean): void {
    for (const s of list) {
      if (!s.ShardId) continue;
      const existing = shards.get(s.ShardId);
      const parents = [s.ParentShardId, s.AdjacentParentShardId].filter((p): p is string => !!p);
      const closed = s.SequenceNumberRange?.EndingSequenceNumber !== undefined;
      if (existing) {
        existing.closed ||= closed;
        continue;
      }
      const entry: ShardEntry = { id: s.ShardId, parents, closed, state: 'waiting', polled: false, caughtUp: false };
      // From LATEST, a shard that is already closed can never yield anything new.
      if (atStartup && opts.from === 'latest' && closed) entry.state = 'done';
      shards.set(s.ShardId, entry);
    }
    startReadyShards(atStartup);
  }

  const startedAtStartup = new Set<string>();
  // ChildShards from the last GetRecords of a closed shard, for the shard-end event.
  const childShardsOf = new Map<string, string[]>();
  function startReadyShards(atStartup: boolean): void {
    for (const entry of shards.values()) {
      if (entry.state !== 'waiting') continue;
      // A parent we don't know (aged out of retention) or have finished doesn't block.
      const blocked = entry.parents.some((p) => {
        const parent = shards.get(p);
        return parent !== undefined && parent.state !== 'done';
      });
      if (blocked) continue;
      if (atStartup) startedAtStartup.add(entry.id);
      entry.state = 'reading';
      lastActivity = Date.now();
      const start = startedAtStartup.has(entry.id) ? initialStart : laterStart;
      const w = readShard(entry, start).catch((err: unknown) => {
        if (!(err instanceof Stopped) && !stop.signal.aborted) fail(err);
      });
      workers.add(w);
      void w.finally(() => workers.delete(w));
    }
  }

  async function refreshShards(atStartup: boolean): Promise<void> {
    let list: Shard[];
    try {
      list = await listShards();
    } catch (err) {
      // ListShards is limited per stream; the periodic refresh will try again.
      if (!atStartup && THROTTLE_ERRORS.has(errorName(err))) return;
      throw err;
    }
    addShards(list, atStartup);
  }

  async function getIterator(entry: ShardEntry, start: ShardStart, lastSeq?: string): Promise<string | undefined> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await client.send(
          new GetShardIteratorCommand(shardIteratorRequest(streamName, entry.id, start, lastSeq)),
          { abortSignal: stop.signal },
        );
        return res.ShardIterator;
      } catch (err) {
        if (stop.signal.aborted) throw new Stopped();
        if (!THROTTLE_ERRORS.has(errorName(err))) throw err;
        const delayMs = backoffMs(attempt);
        emit({ type: 'throttled', shardId: entry.id, errorName: errorName(err), delayMs });
        await abortableSleep(delayMs, stop.signal);
      }
    }
  }

  async function readShard(entry: ShardEntry, start: ShardStart): Promise<void> {
    let lastSeq: string | undefined;
    let iterator = await getIterator(entry, start);
    // After the iterator exists, so a LATEST tail has really started when this is seen.
    emit({ type: 'shard-start', shardId: entry.id, iteratorType: start.type });
    let throttles = 0;
    let lastCall = 0;
    while (iterator !== undefined) {
      if (stop.signal.aborted) throw new Stopped();
      const spacing = lastCall + MIN_CALL_SPACING_MS - Date.now();
      if (spacing > 0) await abortableSleep(spacing, stop.signal);
      lastCall = Date.now();
      let res: Awaited<ReturnType<typeof getRecords>>;
      try {
        res = await getRecords(iterator);
      } catch (err) {
        if (stop.signal.aborted) throw new Stopped();
        const name = errorName(err);
        if (name === 'ExpiredIteratorException') {
          iterator = await getIterator(entry, start, lastSeq);
          emit({ type: 'iterator-renewed', shardId: entry.id, ...(lastSeq ? { afterSequenceNumber: lastSeq } : {}) });
          continue;
        }
        if (THROTTLE_ERRORS.has(name)) {
          const delayMs = backoffMs(throttles++);
          emit({ type: 'throttled', shardId: entry.id, errorName: name, delayMs });
          await abortableSleep(delayMs, stop.signal);
          continue;
        }
        throw err;
      }
      throttles = 0;
      entry.polled = true;
      const records: KinesisRecordIn[] = [];
      for (const r of res.Records ?? []) {
        if (r.SequenceNumber === undefined) continue;
        records.push({
          streamName,
          shardId: entry.id,
          sequenceNumber: r.SequenceNumber,
          partitionKey: r.PartitionKey ?? '',
          arrivalMs: r.ApproximateArrivalTimestamp?.getTime() ?? Date.now(),
          data: r.Data ?? new Uint8Array(0),
        });
      }
      const behind = res.MillisBehindLatest ?? 0;
      entry.caughtUp = records.length === 0 && behind === 0;
      if (records.length > 0) {
        lastSeq = records[records.length - 1]?.sequenceNumber;
        lastActivity = Date.now();
        // Backpressure: at most one undelivered batch per shard.
        await new Promise<void>((consumed) => {
          queue.push({ records, consumed });
          notify();
        });
        if (stop.signal.aborted) throw new Stopped();
      }
      iterator = res.NextShardIterator ?? undefined;
      if (iterator === undefined) break;
      if (behind === 0) await abortableSleep(pollIntervalMs, stop.signal);
    }
    // SHARD_END: the shard is closed and fully read; its children may start now.
    entry.state = 'done';
    entry.caughtUp = true;
    const children = (childShardsOf.get(entry.id) ?? []).slice();
    emit({ type: 'shard-end', shardId: entry.id, childShardIds: children });
    lastActivity = Date.now();
    await refreshShards(false);
    notify();
  }

  async function getRecords(iterator: string) {
    const res = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: limit }), {
      abortSignal: stop.signal,
    });
    if (res.ChildShards && res.ChildShards.length > 0) {
      for (const c of res.ChildShards) {
        for (const p of c.ParentShards ?? []) {
          if (!c.ShardId) continue;
          const list = childShardsOf.get(p) ?? [];
          if (!list.includes(c.ShardId)) list.push(c.ShardId);
          childShardsOf.set(p, list);
        }
      }
    }
    return res;
  }

  function isIdle(now: number): boolean {
    if (opts.idleExitMs === undefined || queue.length > 0) return false;
    if (now - lastActivity < opts.idleExitMs) return false;
    for (const s of shards.values()) {
      if (s.state === 'reading' && !(s.polled && s.caughtUp)) return false;
    }
    return true;
  }

  let refresher: ReturnType<typeof setInterval> | undefined;
  let yielded = 0;
  try {
    try {
      await refreshShards(true);
    } catch (err) {
      if (stop.signal.aborted && !fatal) return;
      throw err;
    }
    refresher = setInterval(() => {
      refreshShards(false).catch((err: unknown) => {
        if (!stop.signal.aborted) fail(err);
      });
    }, shardRefreshMs);

    for (;;) {
      if (fatal) throw fatal.error;
      if (stop.signal.aborted) return;
      const batch = queue.shift();
      if (batch) {
        try {
          for (const [i, record] of batch.records.entries()) {
            // Release the shard reader before the last record is handed out, so it fetches
            // the next batch while the consumer works (one batch of lookahead per shard).
            if (i === batch.records.length - 1) batch.consumed();
            yield record;
            yielded++;
            if (opts.maxRecords !== undefined && yielded >= opts.maxRecords) return;
            if (stop.signal.aborted) return;
          }
        } finally {
          batch.consumed();
        }
        continue;
      }
      if (opts.maxRecords !== undefined && yielded >= opts.maxRecords) return;
      if (isIdle(Date.now())) return;
      // Sleep until a batch arrives, something fails, or it's time to re-check idleness.
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 50);
        wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  } finally {
    if (refresher !== undefined) clearInterval(refresher);
    opts.signal?.removeEventListener('abort', onOuterAbort);
    stop.abort();
    for (const b of queue.splice(0)) b.consumed();
    await Promise.allSettled([...workers]);
  }
}
