import type { FieldSpec } from './fields.js';
import type { FlowFormat } from './format.js';

/** Where a group of records came from; shared by every record of one payload, object or file. */
export interface Origin {
  /** What a person would use to find the input: a path, `s3://bucket/key`, `kinesis://stream/shard`. */
  readonly location: string;
  readonly kind: 'file' | 'stdin' | 's3' | 'kinesis' | 'firehose' | 'lambda';
  /** CloudWatch Logs subscription payloads only. */
  logGroup?: string;
  logStream?: string;
  owner?: string;
  /** Kinesis records only. */
  shardId?: string;
  sequenceNumber?: string;
  arrivalMs?: number;
  /** From an S3 key that follows AWS's layouts. */
  s3?: S3KeyInfo;
}

/** What AWS's S3 key layouts tell about an object's records. */
export interface S3KeyInfo {
  account: string;
  region: string;
  flowLogId?: string;
  /** The object's time, from the file name (`YYYYMMDDTHHmmZ`), epoch ms. */
  timeMs?: number;
  hive: boolean;
}

/**
 * Flow records in columns: numeric fields in Float64Arrays (NaN is `-`), string fields in arrays
 * (null is `-`). Columnar so that parsing allocates per batch, not per record, and so that the
 * archive and feature code read whole columns.
 */
export class FlowBatch {
  length = 0;
  readonly capacity: number;
  /** One column per format field, in format order; `numbers[i]` is set when field i is numeric. */
  readonly numbers: (Float64Array | undefined)[];
  readonly strings: ((string | null)[] | undefined)[];
  /** Per record: its origin, and its index within that origin (event index, line number, row). */
  readonly origins: Origin[];
  readonly subIndex: Int32Array;
  /** CloudWatch Logs event timestamp (ms), NaN where the delivery has none. */
  readonly eventTimeMs: Float64Array;

  constructor(
    readonly format: FlowFormat,
    capacity = 4096,
  ) {
    this.capacity = capacity;
    this.numbers = format.fields.map((f) => (f.type === 'string' ? undefined : new Float64Array(capacity)));
    this.strings = format.fields.map((f) => (f.type === 'string' ? new Array<string | null>(capacity).fill(null) : undefined));
    this.origins = new Array<Origin>(capacity);
    this.subIndex = new Int32Array(capacity);
    this.eventTimeMs = new Float64Array(capacity);
  }

  get full(): boolean {
    return this.length >= this.capacity;
  }

  /** Value of format field `pos` at `row`: number, string, or null for `-`. */
  value(row: number, pos: number): number | string | null {
    const num = this.numbers[pos];
    if (num !== undefined) {
      const v = num[row]!;
      return Number.isNaN(v) ? null : v;
    }
    return this.strings[pos]![row] ?? null;
  }

  /** Value of a field by name, or undefined when the format lacks it. */
  get(row: number, name: string): number | string | null | undefined {
    const pos = this.format.indexOf(name);
    return pos < 0 ? undefined : this.value(row, pos);
  }

  /**
   * One record as a plain object keyed by AWS's Parquet/Athena column names, plus the log group
   * and stream it was delivered under, when known. For display and tests, not hot paths.
   */
  toObject(row: number): FlowRecordObject {
    const out: FlowRecordObject = {};
    const fields: readonly FieldSpec[] = this.format.fields;
    for (let i = 0; i < fields.length; i++) out[fields[i]!.column] = this.value(row, i);
    const origin = this.origins[row];
    if (origin?.logGroup !== undefined) out.log_group = origin.logGroup;
    if (origin?.logStream !== undefined) out.log_stream = origin.logStream;
    return out;
  }
}

export type FlowRecordObject = Record<string, number | string | null>;
