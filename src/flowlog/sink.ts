import type { FlowBatch } from './batch.js';

/** A line, payload or object that could not be turned into records, with where it was. */
export interface Reject {
  /** Path, `s3://…` or `kinesis://stream/shard/sequence`. */
  readonly location: string;
  /** 1-based line number within the location, or event index for subscription payloads. */
  readonly line?: number;
  readonly reason: string;
  /** The offending text (truncated when huge), for people. */
  readonly text: string;
  /** The whole payload, base64, when it came from a stream or stdin and exists nowhere else. */
  readonly data?: string;
}

/** Where a reject stands, for a person: `file:line`, or the location alone. */
export function rejectPlace(r: Reject): string {
  return r.line === undefined ? r.location : `${r.location}:${r.line}`;
}

/** Counters every decoder keeps, for `--output count`, stderr summaries and metrics. */
export class DecodeStats {
  records = 0;
  rejected = 0;
  headers = 0;
  /** NODATA and SKIPDATA records (they are records too, and are also counted in `records`). */
  nodata = 0;
  skipdata = 0;
  /** CloudWatch Logs CONTROL_MESSAGE payloads, skipped. */
  controlMessages = 0;
  payloads = 0;
  objects = 0;
}

/**
 * Where decoded records go. Batches are handed over: the sink owns them after the call, until it
 * gives one back to the decoder (FlowDecoder.recycle) when nothing reads it any more.
 */
export interface RecordSink {
  batch(batch: FlowBatch): void;
  reject(reject: Reject): void;
}

/** Longest text kept with a reject; a huge bad line must not become a huge error. */
export const MAX_REJECT_TEXT = 4096;

export function clip(text: string): string {
  return text.length <= MAX_REJECT_TEXT ? text : `${text.slice(0, MAX_REJECT_TEXT)}… (${text.length} chars)`;
}
