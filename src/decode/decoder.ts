import type { FlowBatch, Origin } from '../flowlog/batch.js';
import type { FlowFormat } from '../flowlog/format.js';
import { LineParser } from '../flowlog/parser.js';
import { DecodeStats, type RecordSink } from '../flowlog/sink.js';
import type { KinesisRecordIn, ObjectIn } from '../sources/types.js';
import { SubscriptionPayloadDecoder } from './cloudwatch.js';
import { envelopeItems, envelopeKind, type EnvelopeItem, type EnvelopeKind } from './envelopes.js';
import { DecodeError, DEFAULT_LIMITS, type DecodeLimits } from './errors.js';
import { gunzipCapped, gunzipStream, isGzip } from './gzip.js';
import { decodeParquet, isParquet } from './parquet.js';
import { PeekableStream, readAll } from './peek.js';
import { parseFlowLogKey } from './s3-key.js';

/**
 * What the bytes hold. `auto` detects it from the bytes: gzip is inflated first, `PAR1` is Parquet,
 * JSON is a subscription payload or one of the envelopes, anything else is flow-log lines.
 */
export const INPUT_KINDS = ['auto', 'cwl', 'get-records', 'lambda', 'lambda-kinesis', 'firehose', 'lines', 'parquet'] as const;
export type InputKind = (typeof INPUT_KINDS)[number];

export interface DecoderOptions {
  /** Format for lines until a header says otherwise; default AWS's v2 default format. */
  format?: FlowFormat;
  input?: InputKind;
  limits?: Partial<DecodeLimits>;
  batchSize?: number;
  /**
   * Awaited after each chunk of a streamed object, so a consumer can write out what was decoded
   * (back-pressure) or stop early by throwing.
   */
  drain?: () => Promise<void>;
}

const ENVELOPE_OF: Partial<Record<InputKind, EnvelopeKind>> = {
  'get-records': 'kinesis-get-records',
  lambda: 'lambda-awslogs',
  'lambda-kinesis': 'lambda-kinesis',
  firehose: 'firehose-http',
};

/** Nesting allowed: an envelope holds gzip holding JSON; deeper means something is wrong. */
const MAX_DEPTH = 3;
const NESTED_TOO_DEEPLY = 'payload nested too deeply (gzip or base64 inside each other)';

/**
 * Turns any delivery of VPC Flow Logs into record batches for one sink. Bad lines and payloads go
 * to the sink's rejects with their location; decoding always goes on with the next input.
 */
export class FlowDecoder {
  readonly parser: LineParser;
  readonly stats: DecodeStats;
  private readonly cwl: SubscriptionPayloadDecoder;
  private readonly limits: DecodeLimits;
  private readonly input: InputKind;

  constructor(sink: RecordSink, options: DecoderOptions = {}) {
    this.stats = new DecodeStats();
    this.parser = new LineParser(sink, { ...(options.format ? { format: options.format } : {}), ...(options.batchSize ? { batchSize: options.batchSize } : {}) }, this.stats);
    this.cwl = new SubscriptionPayloadDecoder(this.parser);
    this.limits = { ...DEFAULT_LIMITS, ...options.limits };
    this.input = options.input ?? 'auto';
    this.drain = options.drain ?? (async () => {});
  }

  private readonly drain: () => Promise<void>;

  /** One Kinesis record (normally a gzip'd CloudWatch Logs subscription payload). */
  decodeKinesisRecord(rec: KinesisRecordIn): void {
    const origin: Origin = {
      location: `kinesis://${rec.streamName}/${rec.shardId}/${rec.sequenceNumber}`,
      kind: 'kinesis',
      shardId: rec.shardId,
      sequenceNumber: rec.sequenceNumber,
      arrivalMs: rec.arrivalMs,
    };
    this.decodePayload(Buffer.from(rec.data.buffer, rec.data.byteOffset, rec.data.byteLength), origin);
  }

  /**
   * A whole payload held in memory. Errors become rejects carrying the payload (base64) so nothing
   * accepted is lost.
   */
  decodePayload(buf: Buffer, origin: Origin, depth = 0): void {
    const outer = this.parser.keepPayload;
    this.parser.keepPayload = buf;
    if (depth === 0) this.parser.beginListing(origin);
    this.parser.beginInput();
    try {
      this.payload(buf, origin, depth);
    } catch (err) {
      if (!(err instanceof DecodeError)) throw err;
      // Whole, unless a reject inside it (a bad line or event) already carries it.
      const kept = this.parser.keepPayload === buf;
      this.parser.rejectInput(origin, kept ? err.message : `${err.message} (the payload is kept with an earlier reject of ${origin.location})`, printable(buf), undefined, kept ? buf : undefined);
    } finally {
      this.parser.keepPayload = outer;
      if (depth === 0) this.parser.endListing();
    }
  }

  /** An object or file, streamed: text objects of any size never sit whole in memory. */
  async decodeObject(obj: ObjectIn): Promise<void> {
    const s3 = obj.location.startsWith('s3://') ? parseFlowLogKey(obj.key) : parseFlowLogKey(obj.key.replaceAll('\\', '/'));
    const origin: Origin = {
      location: obj.location,
      kind: obj.location.startsWith('s3://') ? 's3' : obj.location === '-' ? 'stdin' : 'file',
      ...(s3 ? { s3 } : {}),
    };
    this.stats.objects++;
    this.parser.beginListing(origin);
    this.parser.beginInput();
    try {
      let stream = new PeekableStream(obj.open());
      let first = await stream.peek(4);
      if (isGzip(first)) {
        stream = new PeekableStream(gunzipStream(stream, this.limits.maxStreamedBytes));
        first = await stream.peek(64);
      } else {
        first = await stream.peek(64);
      }
      const kind = this.input === 'auto' ? sniff(first) : this.input;
      if (kind === 'lines') {
        // A byte-order mark (Windows editors write one) would hide the header line.
        if (hasBom(first)) stream.skip(3);
        await this.lines(stream, origin);
      } else if (kind === 'parquet') {
        const buf = await readAll(stream, this.limits.maxInflatedBytes, 'Parquet object');
        if (!isParquet(buf)) throw new DecodeError('not a Parquet file (no PAR1 magic)');
        await decodeParquet(buf, origin, this.parser, this.limits.maxInflatedBytes);
      } else {
        const buf = await readAll(stream, this.limits.maxInflatedBytes, 'JSON input');
        let items: EnvelopeItem[] | undefined;
        try {
          // Gzip inside gzip, as a forced --input may hold: unwrapped here, so that its envelope's
          // items are decoded one at a time like any other's.
          let inner = buf;
          for (let depth = 1; isGzip(inner); depth++) {
            if (depth >= MAX_DEPTH) throw new DecodeError(NESTED_TOO_DEEPLY);
            inner = gunzipCapped(inner, this.limits.maxInflatedBytes);
          }
          items = this.jsonItems(inner, origin, kind);
        } catch (err) {
          if (!(err instanceof DecodeError)) throw err;
          // Files and S3 objects stay where they are; stdin exists nowhere else, so keep it.
          this.parser.rejectInput(origin, err.message, printable(buf), undefined, origin.kind === 'stdin' ? buf : undefined);
        }
        // Each item may inflate to maxInflatedBytes: the records of one are handed over before
        // the next is decoded, so a small object of many such items never holds them all.
        for (const item of items ?? []) {
          this.decodePayload(item.data, itemOrigin(origin, item), 2);
          await this.drain();
        }
      }
    } catch (err) {
      if (!(err instanceof DecodeError) && !(err instanceof RangeError)) throw err;
      this.parser.rejectInput(origin, (err as Error).message, '');
    } finally {
      // Also when the read fails or the caller stops early: the count of unlisted rejects is kept.
      this.parser.endListing();
    }
  }

  /** Hands over every record parsed so far. */
  /** A batch the sink is done with (nothing reads it any more): reused for later records. */
  recycle(batch: FlowBatch): void {
    this.parser.recycle(batch);
  }

  flush(): void {
    this.parser.flush();
  }

  private payload(buf: Buffer, origin: Origin, depth: number, forced: InputKind = depth === 0 ? this.input : 'auto'): void {
    if (depth > MAX_DEPTH) throw new DecodeError(NESTED_TOO_DEEPLY);
    if (isGzip(buf)) {
      this.payload(gunzipCapped(buf, this.limits.maxInflatedBytes), origin, depth + 1, forced === 'auto' ? 'auto' : forced);
      return;
    }
    const kind = forced === 'auto' ? sniff(buf.subarray(0, 64)) : forced;
    switch (kind) {
      case 'lines':
        this.bufferLines(buf, origin);
        return;
      case 'parquet':
        throw new DecodeError('Parquet inside a stream record is not a flow-log delivery');
      case 'cwl':
        this.cwl.decode(buf, origin);
        return;
      default:
        this.json(buf, origin, depth, kind);
    }
  }

  private json(buf: Buffer, origin: Origin, depth: number, kind: InputKind): void {
    for (const item of this.jsonItems(buf, origin, kind)) this.decodePayload(item.data, itemOrigin(origin, item), depth + 1);
  }

  /**
   * Decodes JSON that is itself a subscription payload; for an envelope, returns its items, still
   * to be decoded. Throws DecodeError for JSON that is neither.
   */
  private jsonItems(buf: Buffer, origin: Origin, kind: InputKind): EnvelopeItem[] {
    if (kind === 'cwl' || (kind === 'auto' && looksLikeSubscriptionPayload(buf))) {
      this.cwl.decode(buf, origin);
      return [];
    }
    let value: unknown;
    try {
      value = JSON.parse(buf.toString('utf8'));
    } catch (err) {
      throw new DecodeError(`not valid JSON: ${(err as Error).message}`);
    }
    const envelope = ENVELOPE_OF[kind] ?? envelopeKind(value);
    if (envelope === undefined) {
      if (typeof value === 'object' && value !== null && 'messageType' in value) {
        this.cwl.decode(buf, origin);
        return [];
      }
      throw new DecodeError('JSON that is none of: CloudWatch Logs subscription payload, aws kinesis get-records output, Lambda awslogs or Kinesis event, Firehose HTTP request');
    }
    return [...envelopeItems(envelope, value)];
  }

  private bufferLines(buf: Buffer, origin: Origin): void {
    let p = hasBom(buf) ? 3 : 0;
    let lineNo = 0;
    while (p < buf.length) {
      let nl = buf.indexOf(0x0a, p);
      if (nl < 0) nl = buf.length;
      lineNo++;
      if (nl - p > this.limits.maxLineBytes) {
        this.parser.rejectInput(origin, `line is longer than ${this.limits.maxLineBytes} bytes`, buf.toString('utf8', p, p + 200), lineNo);
      } else {
        this.parser.parseLine(buf, p, nl, origin, lineNo);
      }
      p = nl + 1;
    }
  }

  private async lines(chunks: AsyncIterable<Buffer>, origin: Origin): Promise<void> {
    const max = this.limits.maxLineBytes;
    const parser = this.parser;
    let carry: Buffer | undefined; // the start of a line that continues in the next chunk
    let tooLong: string | undefined; // the head of a line being skipped for its length
    let lineNo = 1;
    const rejectLong = (): void => {
      parser.rejectInput(origin, `line is longer than ${max} bytes`, tooLong ?? '', lineNo++);
      tooLong = undefined;
    };
    try {
      for await (const chunk of chunks) {
        let p = 0;
        if (tooLong !== undefined || carry !== undefined) {
          const nl = chunk.indexOf(0x0a);
          const upto = nl < 0 ? chunk.length : nl;
          if (tooLong === undefined && carry!.length + upto > max) {
            tooLong = carry!.toString('utf8', 0, 200);
            carry = undefined;
          }
          if (tooLong !== undefined) {
            if (nl < 0) continue;
            rejectLong();
          } else if (nl < 0) {
            carry = Buffer.concat([carry!, chunk]);
            continue;
          } else {
            const line = Buffer.concat([carry!, chunk.subarray(0, nl + 1)]);
            parser.parseLines(line, 0, line.length, origin, lineNo);
            lineNo += parser.linesParsed;
            carry = undefined;
          }
          p = nl + 1;
        }
        const rest = parser.parseLines(chunk, p, chunk.length, origin, lineNo);
        lineNo += parser.linesParsed;
        if (rest < chunk.length) {
          // Copied: the producer may reuse the chunk's memory.
          if (chunk.length - rest > max) tooLong = chunk.toString('utf8', rest, rest + 200);
          else carry = Buffer.from(chunk.subarray(rest));
        }
        await this.drain();
      }
    } catch (err) {
      if (!(err instanceof DecodeError) && !(err instanceof RangeError)) throw err;
      // The input broke off (truncated or corrupt gzip): the line it cut is kept, not dropped.
      if (carry !== undefined) parser.rejectInput(origin, `line cut off: ${err.message}`, carry.toString('utf8', 0, 512), lineNo, origin.kind === 'stdin' ? carry : undefined);
      throw new DecodeError(`${err.message} (${lineNo > 1 ? `after line ${lineNo - 1}` : 'in its first line'})`);
    }
    if (tooLong !== undefined) rejectLong();
    else if (carry !== undefined) parser.parseLine(carry, 0, carry.length, origin, lineNo);
  }
}

function itemOrigin(container: Origin, item: EnvelopeItem): Origin {
  return {
    location: container.location + item.where,
    kind: item.kind,
    ...(item.sequenceNumber === undefined ? {} : { sequenceNumber: item.sequenceNumber }),
    ...(item.arrivalMs === undefined ? {} : { arrivalMs: item.arrivalMs }),
  };
}

/** The start of a payload as text, for a person reading a reject. */
function printable(buf: Buffer): string {
  const head = buf.subarray(0, 512);
  return isGzip(head) || head.includes(0) ? `(binary, ${buf.length} bytes)` : head.toString('utf8');
}

function hasBom(buf: Buffer): boolean {
  return buf.length >= 3 && buf[0] === 0xef && buf[1] === 0xbb && buf[2] === 0xbf;
}

/** Guesses the input kind from its first bytes (after any gzip layer). */
export function sniff(head: Buffer): InputKind {
  if (isParquet(head)) return 'parquet';
  let i = 0;
  while (i < head.length && (head[i] === 0x20 || head[i] === 0x0a || head[i] === 0x0d || head[i] === 0x09 || head[i] === 0xef || head[i] === 0xbb || head[i] === 0xbf)) i++;
  const c = head[i];
  return c === 0x7b || c === 0x5b ? 'auto' : 'lines';
}

/** CloudWatch Logs writes `messageType` first; a cheap look before any JSON parsing. */
function looksLikeSubscriptionPayload(buf: Buffer): boolean {
  const end = Math.min(buf.length, 128);
  return buf.subarray(0, end).includes('"messageType"');
}
