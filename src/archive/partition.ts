import type { FlowBatch, Origin } from '../flowlog/batch.js';

/**
 * Where a record goes: AWS's Hive-compatible layout for flow logs delivered to S3, by event time.
 *   AWSLogs/aws-account-id=A/aws-service=vpcflowlogs/aws-region=R/year=YYYY/month=MM/day=DD/hour=HH/
 */
export interface Partition {
  readonly account: string;
  readonly region: string;
  /** Hours since the epoch (UTC). */
  readonly hour: number;
  /** The directory, relative to the archive root, with a trailing slash. */
  readonly path: string;
}

export const PARTITION_ROOT = 'AWSLogs/';

export function partitionPath(account: string, region: string, hour: number): string {
  const d = new Date(hour * 3_600_000);
  const p2 = (n: number): string => String(n).padStart(2, '0');
  return `${PARTITION_ROOT}aws-account-id=${account}/aws-service=vpcflowlogs/aws-region=${region}/year=${d.getUTCFullYear()}/month=${p2(d.getUTCMonth() + 1)}/day=${p2(d.getUTCDate())}/hour=${p2(d.getUTCHours())}/`;
}

/** Reads a partition directory back (for queries, compaction, retention); undefined if not one. */
export function parsePartitionPath(path: string): Omit<Partition, 'path'> | undefined {
  const m = /aws-account-id=([^/]+)\/aws-service=vpcflowlogs\/aws-region=([^/]+)\/year=(\d{4})\/month=(\d{2})\/day=(\d{2})\/hour=(\d{2})\//.exec(path);
  if (!m) return undefined;
  return { account: m[1]!, region: m[2]!, hour: Date.UTC(+m[3]!, +m[4]! - 1, +m[5]!, +m[6]!) / 3_600_000 };
}

const SAFE = /^[A-Za-z0-9_.-]+$/;

/** Path-safe partition values: anything odd (or empty) becomes 'unknown' rather than a new directory level. */
function safe(v: string | null | undefined): string {
  return v && SAFE.test(v) && v !== '.' && v !== '..' ? v : 'unknown';
}

/**
 * Assigns each record of a batch to a partition. Event time is the record's `start`, else `end`,
 * else the CloudWatch event time, else the Kinesis arrival or S3 key time: all facts of the input,
 * never the clock, so a replay puts every record where the first run did. Account: `account_id`,
 * else the S3 key, else 'unknown'; region: `region`, else the S3 key, else the configured default.
 */
export class Partitioner {
  private readonly cache = new Map<string, Partition>();
  private last: Partition | undefined;

  constructor(private readonly defaultRegion = 'unknown') {}

  /** Fills `out[row]` with an index into `parts` (appending new partitions); returns `parts`. */
  assign(batch: FlowBatch, from: number, to: number, out: Int32Array, parts: Partition[]): void {
    const f = batch.format;
    const start = col(batch, f.indexOf('start'));
    const end = col(batch, f.indexOf('end'));
    const accountPos = f.indexOf('account-id');
    const regionPos = f.indexOf('region');
    const accounts = accountPos < 0 ? undefined : batch.strings[accountPos];
    const regions = regionPos < 0 ? undefined : batch.strings[regionPos];
    let lastIndex = -1;
    for (let r = from; r < to; r++) {
      let sec = start ? start[r]! : NaN;
      if (sec !== sec && end) sec = end[r]!;
      const origin = batch.origins[r]!;
      if (sec !== sec) sec = fallbackSeconds(batch.eventTimeMs[r]!, origin);
      const hour = Math.floor(sec / 3600);
      const account = accounts?.[r] ?? origin.s3?.account ?? null;
      const region = regions?.[r] ?? (origin.s3?.region || null);
      const p = this.last;
      // Consecutive records nearly always share a partition (and the parser interns strings).
      if (p !== undefined && p.hour === hour && p.account === (account ?? 'unknown') && p.region === (region ?? this.defaultRegion) && lastIndex >= 0 && parts[lastIndex] === p) {
        out[r] = lastIndex;
        continue;
      }
      const part = this.lookup(safe(account), region === null ? safe(this.defaultRegion) : safe(region), hour);
      let idx = parts.indexOf(part);
      if (idx < 0) idx = parts.push(part) - 1;
      out[r] = idx;
      this.last = part;
      lastIndex = idx;
    }
  }

  private lookup(account: string, region: string, hour: number): Partition {
    const key = `${account}\u0000${region}\u0000${hour}`;
    let p = this.cache.get(key);
    if (p === undefined) {
      if (this.cache.size > 10_000) this.cache.clear();
      p = { account, region, hour, path: partitionPath(account, region, hour) };
      this.cache.set(key, p);
    }
    return p;
  }
}

function col(batch: FlowBatch, pos: number): Float64Array | undefined {
  return pos < 0 ? undefined : batch.numbers[pos];
}

function fallbackSeconds(eventTimeMs: number, origin: Origin): number {
  if (eventTimeMs === eventTimeMs) return eventTimeMs / 1000;
  if (origin.arrivalMs !== undefined && origin.arrivalMs === origin.arrivalMs) return origin.arrivalMs / 1000;
  if (origin.s3?.timeMs !== undefined) return origin.s3.timeMs / 1000;
  // No time at all: the epoch, deterministically, where `flowcut query` still finds it.
  return 0;
}
