import { createHash } from 'node:crypto';

/**
 * Units of input and positions within them. A unit is what an input checkpoint is kept for: a
 * Kinesis shard (position: sequence number and event index) or an input object (position: the
 * record's ordinal in it). Output names are derived from units and positions (and a shard's
 * lease tenure), never from clocks, so rewriting the same input range gives the same names.
 */

export interface KinesisPosition {
  readonly kind: 'kinesis';
  readonly streamName: string;
  readonly shardId: string;
  readonly sequenceNumber: string;
  /** Index of the record within the Kinesis record (CloudWatch event index). */
  readonly subIndex: number;
}

export interface ObjectPosition {
  readonly kind: 'object';
  readonly objectId: string;
  readonly location: string;
  /** 0-based ordinal of the record among the object's records. */
  readonly ordinal: number;
}

export type Position = KinesisPosition | ObjectPosition;

/** An input object being archived: `objectId` must be stable for the same input (see objectIdOf). */
export interface ObjectUnit {
  readonly objectId: string;
  readonly location: string;
}

export function hashHex(text: string, chars = 16): string {
  return createHash('sha256').update(text).digest('hex').slice(0, chars);
}

/** Stable id of an input object: its canonical location (absolute path or s3://bucket/key). */
export function objectIdOf(location: string): string {
  return hashHex(location, 20);
}

function slug(s: string, max = 40): string {
  return s.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, max);
}

export function kinesisTag(streamName: string, shardId: string): string {
  return `k-${slug(streamName)}-${slug(shardId)}-${hashHex(`${streamName}/${shardId}`, 8)}`;
}

export function objectTag(objectId: string): string {
  return `o-${objectId}`;
}

export function unitTag(p: Position): string {
  return p.kind === 'kinesis' ? kinesisTag(p.streamName, p.shardId) : objectTag(p.objectId);
}

/** Name part for a position: sortable, path-safe. */
export function positionName(p: Position): string {
  return p.kind === 'kinesis' ? `${p.sequenceNumber}-${String(p.subIndex).padStart(6, '0')}` : String(p.ordinal).padStart(12, '0');
}

/** KCL's checkpoint of a finished shard: it covers every position of the shard. */
export const SHARD_END_CHECKPOINT = 'SHARD_END';

/** True when Kinesis checkpoint `checkpoint` (null: none yet) covers `sequenceNumber`. */
export function checkpointCovers(checkpoint: string | null, sequenceNumber: string): boolean {
  return checkpoint !== null && (checkpoint === SHARD_END_CHECKPOINT || compareSequence(sequenceNumber, checkpoint) <= 0);
}

/** Compares Kinesis sequence numbers (decimal strings of up to 128 bits). */
export function compareSequence(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

export function comparePositions(a: Position, b: Position): number {
  if (a.kind === 'kinesis' && b.kind === 'kinesis') return compareSequence(a.sequenceNumber, b.sequenceNumber) || a.subIndex - b.subIndex;
  if (a.kind === 'object' && b.kind === 'object') return a.ordinal - b.ordinal;
  throw new Error('positions of different kinds do not compare');
}

/** `kinesis://stream/shard/sequence` (the decoder's location for a Kinesis record) → stream name. */
export function streamNameOf(location: string): string | undefined {
  const m = /^kinesis:\/\/([^/]+)\//.exec(location);
  return m?.[1];
}
