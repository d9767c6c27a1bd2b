import { z } from 'zod';
import type { Origin } from '../flowlog/batch.js';
import type { LineParser } from '../flowlog/parser.js';
import { DecodeError, describeIssues } from './errors.js';

/**
 * CloudWatch Logs subscription payloads (the inflated JSON a Kinesis record or a Lambda `awslogs`
 * event holds). The fast path scans the bytes once, never building the JSON tree, and hands each
 * event's `message` bytes straight to the line parser; `extractedFields` (the same values again,
 * when the filter pattern is space-delimited) are skipped, not parsed. Anything the scanner does
 * not expect falls back to JSON.parse with a schema, so odd but valid JSON still decodes.
 */

const Q = 0x22; // "
const BS = 0x5c; // \

class ScanError extends Error {}

const KEY_MESSAGE_TYPE = Buffer.from('messageType');
const KEY_OWNER = Buffer.from('owner');
const KEY_LOG_GROUP = Buffer.from('logGroup');
const KEY_LOG_STREAM = Buffer.from('logStream');
const KEY_LOG_EVENTS = Buffer.from('logEvents');
const EV_ID = Buffer.from('{"id":"');
const CWL_ID_LENGTH = 56;
const EV_TS = Buffer.from('","timestamp":');
const EV_MSG = Buffer.from(',"message":"');
const EV_EXTRACTED = Buffer.from(',"extractedFields":{');
const EV_NEXT = Buffer.from('}},{"id":"');
const EV_LAST = Buffer.from('}}]');

type Matcher = (view: DataView, p: number) => boolean;

/**
 * A test that `pattern` stands at `p`, compiled to a few 4-byte compares: walking the events
 * checks about 60 bytes of fixed layout per event, and a loop over them byte by byte was a tenth
 * of the decoding time.
 */
function compileMatcher(pattern: Buffer): Matcher {
  const n = pattern.length;
  const tests: string[] = [];
  let i = 0;
  for (; i + 4 <= n; i += 4) tests.push(`view.getUint32(p + ${i}, true) === ${pattern.readUInt32LE(i)}`);
  for (; i + 2 <= n; i += 2) tests.push(`view.getUint16(p + ${i}, true) === ${pattern.readUInt16LE(i)}`);
  for (; i < n; i++) tests.push(`view.getUint8(p + ${i}) === ${pattern[i]!}`);
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from constant patterns only
  return new Function('view', 'p', `return p >= 0 && p + ${n} <= view.byteLength && ${tests.join(' && ')};`) as Matcher;
}

const AT_EV_ID = compileMatcher(EV_ID);
const AT_EV_TS = compileMatcher(EV_TS);
const AT_EV_MSG = compileMatcher(EV_MSG);
const AT_EV_EXTRACTED = compileMatcher(EV_EXTRACTED);
const AT_EV_NEXT = compileMatcher(EV_NEXT);

/** Scratch for one payload's events, reused across payloads. */
class EventRanges {
  count = 0;
  start = new Int32Array(2048);
  end = new Int32Array(2048);
  escaped = new Uint8Array(2048);
  time = new Float64Array(2048);

  push(s: number, e: number, esc: boolean, t: number): void {
    if (this.count === this.start.length) this.grow();
    const i = this.count++;
    this.start[i] = s;
    this.end[i] = e;
    this.escaped[i] = esc ? 1 : 0;
    this.time[i] = t;
  }

  private grow(): void {
    const n = this.start.length * 2;
    const s = new Int32Array(n), e = new Int32Array(n), x = new Uint8Array(n), t = new Float64Array(n);
    s.set(this.start); e.set(this.end); x.set(this.escaped); t.set(this.time);
    this.start = s; this.end = e; this.escaped = x; this.time = t;
  }
}

interface PayloadHead {
  messageType?: string;
  owner?: string;
  logGroup?: string;
  logStream?: string;
}

export type PayloadOutcome = 'data' | 'control';

/**
 * Decodes every subscription payload in `json` (usually one; Firehose-to-S3 concatenates them)
 * into `parser`. `base` is the origin of the bytes (Kinesis record, file); each payload gets its
 * own origin carrying the log group and stream. A payload that is not a subscription payload is a
 * DecodeError; bad flow lines inside are rejects, and decoding goes on.
 */
export class SubscriptionPayloadDecoder {
  private readonly events = new EventRanges();

  constructor(private readonly parser: LineParser) {}

  decode(json: Buffer, base: Origin): void {
    let p = skipWs(json, 0);
    let index = 0;
    const whole = this.parser.keepPayload;
    while (p < json.length) {
      const origin: Origin = index === 0 ? { ...base } : { ...base, location: `${base.location}#${index}` };
      if (index > 0) this.parser.beginInput(); // a bad header line in one payload says nothing of the next
      try {
        if (json[p] !== 0x7b) throw new DecodeError(`expected a CloudWatch Logs subscription payload (a JSON object) at byte ${p}`);
        p = skipWs(json, this.decodeOne(json, p, origin));
      } catch (err) {
        if (!(err instanceof DecodeError) || index === 0) throw err;
        // The payloads before this one are records already: keep this one and what follows it
        // (nothing can tell where a broken payload ends), not the whole input again.
        // Files and S3 objects stay where they are; a stream's record exists nowhere else, unless
        // a bad line before this point already took the whole record to the dead letters.
        const keptWhole = whole !== undefined && this.parser.keepPayload === undefined;
        const keep = base.kind !== 'file' && base.kind !== 's3' && !keptWhole;
        const where = `payload ${index}, at byte ${p}; the ${index} before it were decoded${keptWhole ? `; the whole record is kept with an earlier reject of ${base.location}` : ''}`;
        this.parser.rejectInput(origin, `${err.message} (${where})`, json.toString('utf8', p, p + 512), undefined, keep ? json.subarray(p) : undefined);
        return;
      }
      index++;
    }
    if (index === 0) throw new DecodeError('empty payload');
  }

  /** Decodes the payload starting at `start`; returns the index just past it. */
  private decodeOne(buf: Buffer, start: number, origin: Origin): number {
    const stats = this.parser.stats;
    stats.payloads++;
    this.streamed = 0;
    let head: PayloadHead;
    let end: number;
    try {
      [head, end] = this.scan(buf, start, buf.length, origin);
    } catch (err) {
      if (!(err instanceof ScanError)) throw err;
      end = findObjectEnd(buf, start);
      const done = this.streamed;
      const noted = (reason: string) => (done > 0 ? `${reason} (its first ${done} events were decoded before the problem was found)` : reason);
      if (end < 0) throw new DecodeError(noted('truncated JSON: the subscription payload does not end'));
      try {
        this.decodeSlow(buf.subarray(start, end), origin, done);
      } catch (slowErr) {
        if (slowErr instanceof DecodeError) throw new DecodeError(noted(slowErr.message));
        throw slowErr;
      }
      return end;
    }
    if (head.messageType === 'CONTROL_MESSAGE') {
      stats.controlMessages++;
      return end;
    }
    if (head.messageType !== 'DATA_MESSAGE') {
      throw new DecodeError(`not a CloudWatch Logs subscription payload (messageType ${JSON.stringify(head.messageType ?? null)})`);
    }
    setHead(origin, head);
    const ev = this.events;
    for (let i = 0; i < ev.count; i++) {
      if (ev.escaped[i] === 1) {
        const text = JSON.parse(buf.toString('utf8', ev.start[i]! - 1, ev.end[i]! + 1)) as string;
        this.parser.parseString(text, origin, i + 1, ev.time[i]!);
      } else {
        this.parser.parseLine(buf, ev.start[i]!, ev.end[i]!, origin, i + 1, ev.time[i]!);
      }
    }
    return end;
  }

  /** Events of the current payload already parsed in the single pass. */
  private streamed = 0;

  /** Finds the head fields and every event's message range; throws ScanError on any surprise. */
  private scan(buf: Buffer, start: number, end: number, origin: Origin): [PayloadHead, number] {
    const head: PayloadHead = {};
    this.events.count = 0;
    let p = start + 1;
    let sawEvents = false;
    for (;;) {
      p = skipWs(buf, p);
      if (buf[p] === 0x7d) break;
      const ks = p + 1;
      const ke = stringEnd(buf, p, end);
      p = skipWs(buf, ke + 1);
      if (buf[p] !== 0x3a) throw new ScanError();
      p = skipWs(buf, p + 1);
      if (keyIs(buf, ks, ke, KEY_LOG_EVENTS)) {
        const back = buf.indexOf(BS, p);
        const plain = back < 0 || back >= end;
        // Known data, no escapes: parse each message in place as it is found (one pass). Else
        // collect the messages first and parse them once the payload is known to be data.
        p = this.walkEvents(buf, p, end, plain, plain && head.messageType === 'DATA_MESSAGE' ? origin : undefined);
        sawEvents = true;
      } else if (keyIs(buf, ks, ke, KEY_MESSAGE_TYPE)) {
        [head.messageType, p] = readString(buf, p, end);
      } else if (keyIs(buf, ks, ke, KEY_OWNER)) {
        [head.owner, p] = readString(buf, p, end);
      } else if (keyIs(buf, ks, ke, KEY_LOG_GROUP)) {
        [head.logGroup, p] = readString(buf, p, end);
      } else if (keyIs(buf, ks, ke, KEY_LOG_STREAM)) {
        [head.logStream, p] = readString(buf, p, end);
      } else {
        p = skipValue(buf, p, end);
      }
      p = skipWs(buf, p);
      if (buf[p] === 0x2c) {
        p++;
        continue;
      }
      if (buf[p] === 0x7d) break;
      throw new ScanError();
    }
    if (head.messageType === 'DATA_MESSAGE' && !sawEvents) throw new ScanError();
    return [head, p + 1];
  }

  /**
   * Walks the events of `logEvents`, relying on the exact layout CloudWatch Logs writes:
   * `{"id":"…","timestamp":N,"message":"…"}` optionally followed by `,"extractedFields":{…}` before
   * the closing brace (the extracted fields are jumped over, see skipExtracted). Any other layout
   * throws ScanError and the payload takes the JSON.parse path. Returns the index past the array.
   *
   * With `streamInto`, the payload is known to be data and has no escapes (so no quote is inside a
   * message): each message is parsed where it stands, the parser finding its closing quote, and
   * `streamed` counts the events parsed so that the JSON.parse path can skip them after a surprise.
   * Without it, the messages' ranges are collected to be parsed once the payload is known.
   */
  private walkEvents(buf: Buffer, p: number, end: number, plain: boolean, streamInto?: Origin): number {
    if (buf[p] !== 0x5b) throw new ScanError();
    p++;
    if (buf[p] === 0x5d) return p + 1;
    const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    for (let n = 1; ; n++) {
      if (!AT_EV_ID(view, p)) throw new ScanError();
      p += EV_ID.length;
      if (plain && buf[p + CWL_ID_LENGTH] === Q) {
        // CloudWatch event ids are 56 digits: check the quote where it should be, not search for it.
        p += CWL_ID_LENGTH;
      } else {
        p = stringEnd(buf, p - 1, end);
      }
      if (!AT_EV_TS(view, p)) throw new ScanError();
      p += EV_TS.length;
      let t = 0;
      const ts = p;
      for (let d = buf[p]! - 0x30; d >= 0 && d <= 9; d = buf[++p]! - 0x30) t = t * 10 + d;
      if (p === ts || !AT_EV_MSG(view, p)) throw new ScanError();
      p += EV_MSG.length;
      if (streamInto !== undefined) {
        p = this.parser.parseQuoted(buf, p, end, streamInto, n, t);
        if (p < 0) throw new ScanError();
        this.streamed = n;
      } else {
        const ms = p;
        p = plain ? buf.indexOf(Q, p) : stringEnd(buf, p - 1, end);
        if (p < 0 || p >= end) throw new ScanError();
        this.events.push(ms, p, !plain && buf.subarray(ms, p).includes(BS), t);
      }
      p++;
      if (buf[p] === 0x7d) {
        p++;
      } else if (AT_EV_EXTRACTED(view, p)) {
        p = skipExtracted(buf, view, p + EV_EXTRACTED.length, end, plain);
      } else {
        throw new ScanError();
      }
      if (buf[p] === 0x2c) {
        p++;
        continue;
      }
      if (buf[p] === 0x5d) return p + 1;
      throw new ScanError();
    }
  }

  private decodeSlow(json: Buffer, origin: Origin, skip = 0): void {
    let value: unknown;
    try {
      value = JSON.parse(json.toString('utf8'));
    } catch (err) {
      throw new DecodeError(`not valid JSON: ${(err as Error).message}`);
    }
    const parsed = PayloadSchema.safeParse(value);
    if (!parsed.success) {
      throw new DecodeError(`not a CloudWatch Logs subscription payload: ${describeIssues(parsed.error)}`);
    }
    const payload = parsed.data;
    if (payload.messageType === 'CONTROL_MESSAGE') {
      this.parser.stats.controlMessages++;
      return;
    }
    if (payload.logEvents === undefined) throw new DecodeError('a DATA_MESSAGE subscription payload without logEvents');
    setHead(origin, payload);
    const events = payload.logEvents;
    // Checked one at a time rather than by the schema: a schema error lists every bad event, and
    // a small gzip can hold millions of them.
    events.forEach((e, i) => {
      if (i < skip) return; // parsed already, identically, by the single pass
      const event = typeof e === 'object' && e !== null && !Array.isArray(e) ? (e as Record<string, unknown>) : undefined;
      const problem =
        event === undefined ? 'log event is not a JSON object'
        : typeof event.message !== 'string' ? 'log event without a message'
        : event.timestamp !== undefined && typeof event.timestamp !== 'number' ? 'log event timestamp is not a number'
        : undefined;
      if (problem !== undefined) {
        this.parser.rejectInput(origin, problem, JSON.stringify(e) ?? String(e), i + 1);
        return;
      }
      this.parser.parseString(event!.message as string, origin, i + 1, (event!.timestamp as number | undefined) ?? NaN);
    });
  }
}

const PayloadSchema = z.object({
  messageType: z.enum(['DATA_MESSAGE', 'CONTROL_MESSAGE']),
  owner: z.string().optional(),
  logGroup: z.string().optional(),
  logStream: z.string().optional(),
  logEvents: z.array(z.unknown()).optional(),
});

function setHead(origin: Origin, head: PayloadHead): void {
  if (head.logGroup !== undefined) origin.logGroup = head.logGroup;
  if (head.logStream !== undefined) origin.logStream = head.logStream;
  if (head.owner !== undefined) origin.owner = head.owner;
}

function skipWs(buf: Buffer, p: number): number {
  let c = buf[p];
  while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = buf[++p];
  return p;
}

/**
 * Index of the closing quote of the string opening at `p`. A plain loop: these strings are short,
 * and Buffer.indexOf's call cost is more than scanning them in JavaScript.
 */
function stringEnd(buf: Buffer, p: number, end: number): number {
  if (buf[p] !== Q) throw new ScanError();
  for (let q = p + 1; q < end; q++) {
    const c = buf[q];
    if (c === Q) return q;
    if (c === BS) q++;
  }
  throw new ScanError();
}

function readString(buf: Buffer, p: number, end: number): [string, number] {
  const e = stringEnd(buf, p, end);
  const raw = buf.toString('utf8', p + 1, e);
  return [raw.includes('\\') ? (JSON.parse(`"${raw}"`) as string) : raw, e + 1];
}

/**
 * Skips an event's extractedFields object, whose first key starts at `p`, and the event's closing
 * brace; returns the index of the `,` or `]` after the event. One native search finds the next
 * `{`: an extractedFields object holds only strings, so any `{` inside it, or any event object it
 * would otherwise swallow, shows up as a brace that is not the next event's `}},{"id":"`, and the
 * payload then takes the careful path. A jump can therefore never skip an event.
 */
function skipExtracted(buf: Buffer, view: DataView, p: number, end: number, plain: boolean): number {
  const brace = buf.indexOf(0x7b, p);
  if (brace >= 0 && brace < end && brace - 3 >= p && AT_EV_NEXT(view, brace - 3)) return brace - 1;
  // The last event: its end must come before any further brace (a following payload's), and
  // lie outside the extracted values: a value may itself hold `}}]}` (an even number of quotes
  // before it means it is not inside one; counting quotes needs a payload without escapes).
  if (!plain) throw new ScanError();
  let last = buf.indexOf(EV_LAST, p);
  while (last >= 0 && last < end && quotesBetween(buf, p, last) % 2 === 1) last = buf.indexOf(EV_LAST, last + 1);
  if (last < 0 || last >= end || (brace >= 0 && brace < last)) throw new ScanError();
  return last + 2;
}

function quotesBetween(buf: Buffer, from: number, to: number): number {
  let n = 0;
  for (let i = buf.indexOf(Q, from); i >= 0 && i < to; i = buf.indexOf(Q, i + 1)) n++;
  return n;
}

function keyIs(buf: Buffer, ks: number, ke: number, key: Buffer): boolean {
  if (ke - ks !== key.length) return false;
  for (let i = 0; i < key.length; i++) if (buf[ks + i] !== key[i]) return false;
  return true;
}

/** Skips one JSON value of any kind; only well-formedness enough to find its end is checked. */
function skipValue(buf: Buffer, p: number, end: number): number {
  const c = buf[p];
  if (c === Q) return stringEnd(buf, p, end) + 1;
  if (c === 0x7b || c === 0x5b) {
    let depth = 0;
    for (; p < end; p++) {
      const b = buf[p];
      if (b === Q) {
        for (p++; p < end; p++) {
          const x = buf[p];
          if (x === Q) break;
          if (x === BS) p++;
        }
      } else if (b === 0x7b || b === 0x5b) depth++;
      else if (b === 0x7d || b === 0x5d) {
        if (--depth === 0) return p + 1;
      }
    }
    throw new ScanError();
  }
  let q = p;
  while (q < end) {
    const b = buf[q];
    if (b === 0x2c || b === 0x7d || b === 0x5d || b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) break;
    q++;
  }
  if (q === p) throw new ScanError();
  return q;
}

/** End (exclusive) of the JSON object starting at `p`, or -1 when it never closes. */
function findObjectEnd(buf: Buffer, p: number): number {
  let depth = 0;
  for (let i = p; i < buf.length; i++) {
    const b = buf[i];
    if (b === Q) {
      let q = i;
      for (;;) {
        q = buf.indexOf(Q, q + 1);
        if (q < 0) return -1;
        let bs = 0;
        while (buf[q - 1 - bs] === BS) bs++;
        if ((bs & 1) === 0) break;
      }
      i = q;
    } else if (b === 0x7b || b === 0x5b) depth++;
    else if (b === 0x7d || b === 0x5d) {
      if (--depth === 0) return i + 1;
    }
  }
  return -1;
}
