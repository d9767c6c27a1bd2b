import { z } from 'zod';
import { DecodeError, describeIssues } from './errors.js';

/**
 * The JSON envelopes that carry flow-log payloads base64-encoded. Each yields the payloads (raw
 * bytes, usually gzip'd subscription JSON or plain lines) with what identifies them.
 */
export interface EnvelopeItem {
  readonly data: Buffer;
  /** Appended to the container's location: `#Records[3]`. */
  readonly where: string;
  readonly kind: 'kinesis' | 'lambda' | 'firehose';
  readonly shardId?: string;
  readonly sequenceNumber?: string;
  readonly arrivalMs?: number;
}

export type EnvelopeKind = 'kinesis-get-records' | 'lambda-awslogs' | 'lambda-kinesis' | 'firehose-http';

const base64 = z.string().regex(/^[A-Za-z0-9+/=\s]*$/, 'not base64');

/** `aws kinesis get-records` output. */
const GetRecordsSchema = z.object({
  Records: z.array(
    z.object({
      SequenceNumber: z.string(),
      ApproximateArrivalTimestamp: z.union([z.number(), z.string()]).optional(),
      Data: base64,
      PartitionKey: z.string().optional(),
    }),
  ),
});

/** A Lambda event from a CloudWatch Logs subscription. */
const LambdaAwslogsSchema = z.object({ awslogs: z.object({ data: base64 }) });

/** A Lambda event from a Kinesis event source mapping. */
const LambdaKinesisSchema = z.object({
  Records: z.array(
    z.object({
      eventSourceARN: z.string().optional(),
      kinesis: z.object({ data: base64, sequenceNumber: z.string(), approximateArrivalTimestamp: z.number().optional() }),
    }),
  ),
});

/** A Firehose HTTP endpoint delivery request. */
const FirehoseSchema = z.object({ requestId: z.string(), timestamp: z.number(), records: z.array(z.object({ data: base64 })) });

/** Recognises an envelope by its keys; undefined when the JSON is none of them. */
export function envelopeKind(value: unknown): EnvelopeKind | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
  const v = value as Record<string, unknown>;
  if ('awslogs' in v) return 'lambda-awslogs';
  if ('requestId' in v && 'records' in v) return 'firehose-http';
  if (Array.isArray(v.Records)) {
    const first = v.Records[0] as Record<string, unknown> | undefined;
    return first !== undefined && 'kinesis' in first ? 'lambda-kinesis' : 'kinesis-get-records';
  }
  return undefined;
}

/** Validates an envelope and lists its payloads; throws a readable zod-derived message when invalid. */
export function envelopeItems(kind: EnvelopeKind, value: unknown): EnvelopeItem[] {
  switch (kind) {
    case 'kinesis-get-records':
      return check(GetRecordsSchema, value, 'aws kinesis get-records output').Records.map((r, i) => ({
        data: Buffer.from(r.Data, 'base64'),
        where: `#Records[${i}]`,
        kind: 'kinesis' as const,
        sequenceNumber: r.SequenceNumber,
        ...(r.ApproximateArrivalTimestamp === undefined ? {} : { arrivalMs: arrival(r.ApproximateArrivalTimestamp) }),
      }));
    case 'lambda-awslogs':
      return [{ data: Buffer.from(check(LambdaAwslogsSchema, value, 'Lambda awslogs event').awslogs.data, 'base64'), where: '#awslogs', kind: 'lambda' }];
    case 'lambda-kinesis':
      return check(LambdaKinesisSchema, value, 'Lambda Kinesis event').Records.map((r, i) => ({
        data: Buffer.from(r.kinesis.data, 'base64'),
        where: `#Records[${i}]`,
        kind: 'kinesis' as const,
        sequenceNumber: r.kinesis.sequenceNumber,
        ...(r.kinesis.approximateArrivalTimestamp === undefined ? {} : { arrivalMs: r.kinesis.approximateArrivalTimestamp * 1000 }),
      }));
    case 'firehose-http':
      return check(FirehoseSchema, value, 'Firehose HTTP endpoint request').records.map((r, i) => ({
        data: Buffer.from(r.data, 'base64'),
        where: `#records[${i}]`,
        kind: 'firehose' as const,
      }));
  }
}

/** The CLI prints epoch seconds (possibly fractional) or an ISO string, depending on version. */
function arrival(v: number | string): number {
  return typeof v === 'number' ? v * 1000 : Date.parse(v);
}

function check<T>(schema: z.ZodType<T>, value: unknown, what: string): T {
  const r = schema.safeParse(value);
  if (!r.success) throw new DecodeError(`not a valid ${what}: ${describeIssues(r.error)}`);
  return r.data;
}
