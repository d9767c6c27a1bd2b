/**
 * What every source yields: raw bytes with where they came from. Sources know nothing of
 * flow logs; decoders (src/decode) turn the bytes into records.
 */

/** One Kinesis record as read from a shard. `data` is the raw record payload (not base64). */
export interface KinesisRecordIn {
  readonly streamName: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** Set for records of an aggregated (KPL) record; undefined otherwise. */
  readonly subSequenceNumber?: number;
  readonly partitionKey: string;
  /** ApproximateArrivalTimestamp, epoch milliseconds. */
  readonly arrivalMs: number;
  readonly data: Uint8Array;
}

/** One object of an object store or file system, read whole or streamed. */
export interface ObjectIn {
  /** `s3://bucket/key`, a file path, or `-` for stdin: what a person would use to find it. */
  readonly location: string;
  /** Key or path relative to the source root; for S3, the full key. */
  readonly key: string;
  readonly size?: number;
  /** Streams the raw (still compressed) bytes. */
  open(): AsyncIterable<Uint8Array>;
}
