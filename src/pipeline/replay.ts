/**
 * Puts flow logs into a Kinesis stream exactly as a CloudWatch Logs subscription filter does:
 * gzip JSON DATA_MESSAGE payloads, one log stream per network interface (`eni-…-all`), each
 * payload holding one log stream's events of one time window (≤ 1 MB), optionally preceded by
 * the CONTROL_MESSAGE a new subscription sends. Payloads are put at the pace their timestamps
 * say (scaled by a speed factor) or as fast as the stream takes them.
 */
import type { KinesisClient, PutRecordsRequestEntry } from '@aws-sdk/client-kinesis';
import type { FlowBatch } from '../flowlog/batch.js';
import { controlMessagePayload, subscriptionPayload } from '../sim/cloudwatch.js';
import { MAX_PUT_BYTES, MAX_PUT_RECORDS, MAX_RECORD_BYTES, putRecordsWithRetry } from '../sources/kinesis/put-records.js';
import { abortableSleep, Stopped } from '../sources/kinesis/retry.js';

/** One flow-log line as CloudWatch Logs holds it. */
export interface LogEvent {
  readonly message: string;
  readonly timestampMs: number;
  readonly logStream: string;
  readonly logGroup: string;
  readonly owner: string;
}

export interface Payload {
  readonly data: Buffer;
  readonly logStream: string;
  readonly events: number;
  /** When CloudWatch would deliver it: its newest event's time. */
  readonly timestampMs: number;
  readonly control?: boolean;
}

/** The events of a decoded batch, as lines in the batch's own format ('-' for missing values). */
export function logEventsOf(batch: FlowBatch, defaults: { logGroup?: string; owner?: string } = {}): LogEvent[] {
  const out: LogEvent[] = [];
  const fields = batch.format.fields.length;
  const endPos = batch.format.indexOf('end');
  const eniPos = batch.format.indexOf('interface-id');
  const accountPos = batch.format.indexOf('account-id');
  for (let r = 0; r < batch.length; r++) {
    const parts = new Array<string>(fields);
    for (let i = 0; i < fields; i++) {
      const v = batch.value(r, i);
      parts[i] = v === null ? '-' : String(v);
    }
    const origin = batch.origins[r];
    const ev = batch.eventTimeMs[r]!;
    const end = endPos >= 0 ? batch.value(r, endPos) : null;
    const eni = eniPos >= 0 ? batch.value(r, eniPos) : null;
    const account = accountPos >= 0 ? batch.value(r, accountPos) : null;
    out.push({
      message: parts.join(' '),
      // CloudWatch's own timestamp when the input had one; else the flow's end, as AWS sets it.
      timestampMs: !Number.isNaN(ev) ? ev : typeof end === 'number' ? end * 1000 : Date.now(),
      logStream: origin?.logStream ?? (typeof eni === 'string' ? `${eni}-all` : 'unknown-all'),
      logGroup: origin?.logGroup ?? defaults.logGroup ?? 'vpc-flow-logs',
      owner: origin?.owner ?? (typeof account === 'string' ? account : (defaults.owner ?? '123456789012')),
    });
  }
  return out;
}

export interface BatcherOptions {
  /** Events of one log stream within this much time share a payload. Default 60 s. */
  readonly windowMs?: number;
  /** Default 10,000 (PutLogEvents' limit, so CloudWatch never delivers more). */
  readonly maxEvents?: number;
  /**
   * PutLogEvents' batch budget: message bytes + 26 per event, 1,048,576 by default. Each gzip'd
   * payload is also kept within a Kinesis record (1 MiB): one that isn't is split in two.
   */
  readonly maxBatchBytes?: number;
}

interface Open {
  readonly events: LogEvent[];
  readonly firstMs: number;
  bytes: number;
}

/** CloudWatch Logs counts 26 bytes per event on top of its message. */
const EVENT_OVERHEAD = 26;
/** Room for the partition key, which counts towards the record's 1 MiB. */
const KEY_ROOM = 256;

function encode(events: readonly LogEvent[]): Payload[] {
  const first = events[0]!;
  const data = subscriptionPayload(
    events.map((e) => e.message),
    { logStream: first.logStream, logGroup: first.logGroup, owner: first.owner, timestampMs: (_l, i) => events[i]!.timestampMs },
  );
  if (data.length > MAX_RECORD_BYTES - KEY_ROOM && events.length > 1) {
    // Incompressible messages: halve until each part fits a Kinesis record.
    const mid = events.length >> 1;
    return [...encode(events.slice(0, mid)), ...encode(events.slice(mid))];
  }
  if (data.length > MAX_RECORD_BYTES - KEY_ROOM) throw new Error(`one log event is too large for a Kinesis record (${data.length} bytes gzip'd)`);
  return [{ data, logStream: first.logStream, events: events.length, timestampMs: events[events.length - 1]!.timestampMs }];
}

/**
 * Groups time-ordered events into payloads. A log stream's payload closes when its window has
 * passed in event time, or when it is full; payloads come out in closing order.
 */
export function* cloudWatchPayloads(events: Iterable<LogEvent>, opts: BatcherOptions = {}): Generator<Payload> {
  const windowMs = opts.windowMs ?? 60_000;
  const maxEvents = opts.maxEvents ?? 10_000;
  const maxBytes = opts.maxBatchBytes ?? 1_048_576;
  // Insertion order = order of first event = order of window end: the head closes first.
  const open = new Map<string, Open>();
  const close = (key: string, o: Open): Payload[] => {
    open.delete(key);
    return encode(o.events);
  };
  for (const e of events) {
    for (const [key, o] of open) {
      if (e.timestampMs < o.firstMs + windowMs) break;
      yield* close(key, o);
    }
    const key = `${e.logGroup}\u0000${e.logStream}`;
    const size = Buffer.byteLength(e.message) + EVENT_OVERHEAD;
    let o = open.get(key);
    if (o && (o.events.length >= maxEvents || o.bytes + size > maxBytes)) {
      yield* close(key, o);
      o = undefined;
    }
    if (!o) {
      o = { events: [], firstMs: e.timestampMs, bytes: 0 };
      open.set(key, o);
    }
    o.events.push(e);
    o.bytes += size;
  }
  for (const [key, o] of open) yield* close(key, o);
}

export function controlPayload(): Payload {
  return { data: controlMessagePayload(), logStream: '', events: 0, timestampMs: Date.now(), control: true };
}

export type Distribution = 'by-log-stream' | 'random';

export interface ReplayOptions {
  readonly streamName: string;
  /** 1 = original speed; 60 = an hour in a minute. Ignored when asFastAsPossible. */
  readonly speed?: number;
  readonly asFastAsPossible?: boolean;
  /** CloudWatch's subscription `distribution`: partition key = log stream (default) or random. */
  readonly distribution?: Distribution;
  readonly signal?: AbortSignal;
  readonly onProgress?: (p: { payloads: number; events: number; bytes: number }) => void;
  readonly onRetry?: (failed: number, errorCode: string, delayMs: number) => void;
}

export interface ReplaySummary {
  payloads: number;
  events: number;
  bytes: number;
  elapsedMs: number;
}

/** Puts the payloads in order, paced by their timestamps, batching what is due together. */
export async function replayPayloads(client: Pick<KinesisClient, 'send'>, payloads: Iterable<Payload>, o: ReplayOptions): Promise<ReplaySummary> {
  const signal = o.signal ?? new AbortController().signal;
  const speed = o.asFastAsPossible ? Infinity : (o.speed ?? 1);
  const started = Date.now();
  const summary: ReplaySummary = { payloads: 0, events: 0, bytes: 0, elapsedMs: 0 };
  let firstMs: number | undefined;
  let batch: Payload[] = [];
  let batchBytes = 0;
  let seq = 0;
  const key = (p: Payload) => (o.distribution === 'random' || p.control ? `${Math.random()}`.slice(2) + String(seq++) : p.logStream);
  const put = async () => {
    if (batch.length === 0) return;
    const entries: PutRecordsRequestEntry[] = batch.map((p) => ({ Data: p.data, PartitionKey: key(p) }));
    await putRecordsWithRetry(client, o.streamName, entries, { signal, ...(o.onRetry ? { onRetry: o.onRetry } : {}) });
    for (const p of batch) {
      summary.payloads++;
      summary.events += p.events;
      summary.bytes += p.data.length;
    }
    batch = [];
    batchBytes = 0;
    o.onProgress?.({ payloads: summary.payloads, events: summary.events, bytes: summary.bytes });
  };
  try {
    for (const p of payloads) {
      if (signal.aborted) break;
      if (!p.control && Number.isFinite(speed)) {
        firstMs ??= p.timestampMs;
        const due = started + (p.timestampMs - firstMs) / speed;
        // Send what is due before waiting for the next one; small waits just batch up.
        if (due - Date.now() > 50) {
          await put();
          const wait = due - Date.now();
          if (wait > 0) await abortableSleep(wait, signal);
        }
      }
      if (batch.length >= MAX_PUT_RECORDS || batchBytes + p.data.length + 256 > MAX_PUT_BYTES) await put();
      batch.push(p);
      batchBytes += p.data.length + 256;
      // The control message goes alone and first, as CloudWatch sends it on subscribing.
      if (p.control) await put();
    }
    if (!signal.aborted) await put();
  } catch (err) {
    if (!(err instanceof Stopped)) throw err;
  }
  summary.elapsedMs = Date.now() - started;
  return summary;
}
