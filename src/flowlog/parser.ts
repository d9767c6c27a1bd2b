import { FlowBatch, type Origin } from './batch.js';
import { FlowFormat, FormatError, looksLikeHeader } from './format.js';
import { INT32_MAX, isAddressField } from './fields.js';
import { compileFastRow, KIND_ADDRESS, KIND_INT32, KIND_INT64, KIND_STRING, LAST_MAX, type FastRow } from './fast-row.js';
import { StringInterner } from './intern.js';
import { NOT_TEXT } from './value-check.js';
import { clip, DecodeStats, type RecordSink } from './sink.js';

const SPACE = 0x20;
const TAB = 0x09;
const CR = 0x0d;
const LF = 0x0a;
const QUOTE = 0x22;
const DASH = 0x2d;
const ZERO = 0x30;
/** Batches kept for reuse; a pipeline holds only a few in flight. */
const MAX_SPARE = 4;
/** Rejects listed one by one per input (payload, object); the rest are counted in one reject. */
export const MAX_LISTED_REJECTS = 100;

export interface LineParserOptions {
  /** The format to start with; header lines switch it. Default: AWS's v2 default format. */
  format?: FlowFormat;
  /** Records per batch handed to the sink. */
  batchSize?: number;
  /** Use the compiled fast path for valid rows (default). Off only to test that both paths agree. */
  fastPath?: boolean;
}

/**
 * Parses flow-log lines from bytes into columnar batches. One instance per input stream: it holds
 * the current format (switched by header lines) and the batch being filled.
 */
export class LineParser {
  readonly stats: DecodeStats;
  private format: FlowFormat;
  private kinds: Uint8Array;
  private fastRow: FastRow;
  private readonly useFastPath: boolean;
  private batch: FlowBatch;
  private readonly interner = new StringInterner();
  private readonly batchSize: number;
  private readonly logStatusPos: { pos: number };
  /**
   * The last value of each string column, as bytes and string: account, ENI, action and status
   * repeat from one line to the next, and a byte compare is cheaper than a hash lookup.
   */
  private lastLen = new Int32Array(0);
  private lastBytes = new Uint8Array(0);
  private lastValue: string[] = [];
  /**
   * Batches the sink has finished with (see recycle): refilled instead of allocating, since a
   * batch's columns are about 130 bytes per record of typed arrays whose collection is a
   * noticeable part of decoding's cost.
   */
  private readonly spare: FlowBatch[] = [];

  constructor(
    private readonly sink: RecordSink,
    options: LineParserOptions = {},
    stats?: DecodeStats,
  ) {
    this.stats = stats ?? new DecodeStats();
    this.batchSize = options.batchSize ?? 4096;
    this.format = options.format ?? FlowFormat.DEFAULT;
    this.kinds = kindsOf(this.format);
    this.useFastPath = options.fastPath ?? true;
    this.fastRow = this.useFastPath ? fastRowFor(this.kinds) : noFastPath;
    this.batch = new FlowBatch(this.format, this.batchSize);
    this.logStatusPos = { pos: this.format.indexOf('log-status') };
    this.resetLastValues();
  }

  /**
   * Where a header line that could not be read stands: the fields of the rows after it are
   * unknown, so they are rejected (not read in the previous format) until a good header or the
   * next input (`beginInput`).
   */
  private unreadableHeader: string | undefined;

  /** A new object or payload starts: a bad header of the previous one no longer applies. */
  beginInput(): void {
    this.unreadableHeader = undefined;
  }

  /**
   * Starts a top-level input (a stream record, an object): its first MAX_LISTED_REJECTS rejects
   * are listed, the rest only counted, however many payloads or items it nests.
   */
  beginListing(origin: Origin): void {
    this.endListing();
    this.listingOrigin = origin;
  }

  /** Ends the top-level input: rejects past the listed ones are summed up in one reject. */
  endListing(): void {
    if (this.unlisted > 0) {
      const { unlisted, unlistedOrigin: first, unlistedFirstLine: line } = this;
      this.unlisted = 0;
      const at = `${first!.location}${line === undefined ? '' : `:${line}`}`;
      this.sink.reject({
        location: (this.listingOrigin ?? first!).location,
        reason: `${unlisted} more rejects in this input, counted but not listed one by one (the first ${MAX_LISTED_REJECTS} are); the first of them at ${at}`,
        text: '',
      });
    }
    this.listed = 0;
    this.listingOrigin = undefined;
  }

  /** Rejects of the current top-level input listed one by one, and those past the limit, only counted. */
  private listingOrigin: Origin | undefined;
  private listed = 0;
  private unlisted = 0;
  private unlistedOrigin: Origin | undefined;
  private unlistedFirstLine: number | undefined;

  get currentFormat(): FlowFormat {
    return this.format;
  }

  /** Switches format (from a header line or a caller who knows better); flushes the batch. */
  setFormat(format: FlowFormat): void {
    if (format.equals(this.format)) return;
    this.flush();
    this.format = format;
    this.kinds = kindsOf(format);
    this.fastRow = this.useFastPath ? fastRowFor(this.kinds) : noFastPath;
    this.batch = new FlowBatch(format, this.batchSize);
    this.spare.length = 0;
    this.logStatusPos.pos = format.indexOf('log-status');
    this.resetLastValues();
  }

  private resetLastValues(): void {
    const n = this.format.fields.length;
    this.lastLen = new Int32Array(n).fill(-1);
    this.lastBytes = new Uint8Array(n * LAST_MAX);
    this.lastValue = new Array<string>(n).fill('');
  }

  /** Hands the records parsed so far to the sink. */
  flush(): void {
    if (this.batch.length === 0) return;
    const full = this.batch;
    this.batch = this.spare.pop() ?? new FlowBatch(this.format, this.batchSize);
    this.sink.batch(full);
  }

  /**
   * Gives back a batch this parser handed to the sink, once nothing reads it any more; its
   * columns are then overwritten by later records. Optional: a batch never given back is simply
   * collected. Batches of another format or size are ignored.
   */
  recycle(batch: FlowBatch): void {
    if (batch === this.batch || batch.format !== this.format || batch.capacity !== this.batchSize || this.spare.length >= MAX_SPARE) return;
    if (this.spare.includes(batch)) return;
    batch.length = 0;
    this.spare.push(batch);
  }

  /**
   * Parses one line, `buf[start..end)`, without its newline. Blank lines are ignored; header lines
   * switch the format; a bad line goes to the sink's rejects with `origin` and `lineNo`.
   * Returns true when a record was added.
   */
  parseLine(buf: Buffer, start: number, end: number, origin: Origin, lineNo: number, eventTimeMs = NaN): boolean {
    const before = this.stats.records;
    this.parseRow(buf, start, end, false, origin, lineNo, eventTimeMs);
    return this.stats.records !== before;
  }

  /**
   * Parses the newline-terminated lines in `buf[start..end)`, numbering them from `firstLineNo`.
   * Finding line ends and tokens is one pass over the bytes. Returns the offset of the first
   * incomplete line (no newline yet), which the caller keeps for the next chunk; `end` if none.
   */
  parseLines(buf: Buffer, start: number, end: number, origin: Origin, firstLineNo: number): number {
    let pos = start;
    let lineNo = firstLineNo;
    const interner = this.interner;
    while (pos < end) {
      // Rows that start like data (not blank, not a possible header) try the fast path first.
      const c = buf[pos]!;
      if (c > SPACE && (c < 0x61 || c > 0x7a) && this.unreadableHeader === undefined) {
        const batch = this.batch;
        const row = batch.length;
        const e = this.fastRow(buf, pos, end, LF, row, batch.numbers, batch.strings, interner, this.lastLen, this.lastBytes, this.lastValue);
        if (e >= 0) {
          this.commitRow(row, origin, lineNo, NaN);
          lineNo++;
          pos = e + 1;
          continue;
        }
      }
      const lineEnd = this.parseRow(buf, pos, end, true, origin, lineNo, NaN);
      if (lineEnd < 0) break;
      lineNo++;
      pos = lineEnd + 1;
    }
    this.linesParsed = lineNo - firstLineNo;
    return Math.min(pos, end);
  }

  /**
   * Parses a record that ends at the next `"`: a CloudWatch event's message inside the payload
   * JSON, read in place (the caller has checked the payload has no escapes, so no quote is inside
   * a message). Returns the position of the closing quote, or -1 when there is none before `limit`.
   */
  parseQuoted(buf: Buffer, start: number, limit: number, origin: Origin, eventNo: number, eventTimeMs: number): number {
    const first = buf[start];
    // Header-like rows (lower-case first byte) go the general way, which knows headers.
    if ((first === undefined || first < 0x61 || first > 0x7a) && this.unreadableHeader === undefined) {
      const row = this.batch.length;
      const end = this.fastRow(buf, start, limit, QUOTE, row, this.batch.numbers, this.batch.strings, this.interner, this.lastLen, this.lastBytes, this.lastValue);
      if (end >= 0) {
        this.commitRow(row, origin, eventNo, eventTimeMs);
        return end;
      }
    }
    const end = buf.indexOf(QUOTE, start);
    if (end < 0 || end >= limit) return -1;
    this.parseRow(buf, start, end, false, origin, eventNo, eventTimeMs);
    return end;
  }

  /** Lines completed by the last parseLines call. */
  linesParsed = 0;

  /**
   * Parses one row starting at `start`. With `toNewline`, the row ends at the next LF (returned),
   * or is incomplete when `limit` comes first (-1, nothing recorded); otherwise it ends at `limit`.
   */
  private parseRow(buf: Buffer, start: number, limit: number, toNewline: boolean, origin: Origin, lineNo: number, eventTimeMs: number): number {
    let pos = start;
    let c = 0;
    while (pos < limit && ((c = buf[pos]!) === SPACE || c === TAB || c === CR)) pos++;
    if (pos === limit) return toNewline ? -1 : limit;
    if (c === LF && toNewline) return pos;
    if (c >= 0x61 && c <= 0x7a) {
      let end = limit;
      if (toNewline) {
        end = buf.indexOf(LF, pos);
        if (end < 0 || end >= limit) return -1;
      }
      const trimmed = trimEnd(buf, pos, end);
      if (mayBeHeader(buf, pos, trimmed) && this.tryHeader(buf, pos, trimmed, origin, lineNo)) return end;
    }
    if (this.unreadableHeader !== undefined) {
      const at = this.unreadableHeader;
      return this.failRow(buf, pos, pos, limit, toNewline, origin, lineNo, () => `fields unknown: the header line at ${at} could not be read`);
    }
    const rowStart = pos;
    const batch = this.batch;
    const row = batch.length;
    const kinds = this.kinds;
    const nf = kinds.length;
    const numbers = batch.numbers;
    const strings = batch.strings;
    const lastLen = this.lastLen;
    const lastBytes = this.lastBytes;
    const lastValue = this.lastValue;
    const stop = toNewline ? LF : -1;
    const fastEnd = this.fastRow(buf, pos, limit, stop, row, numbers, strings, this.interner, lastLen, lastBytes, lastValue);
    if (fastEnd >= 0) {
      this.commitRow(row, origin, lineNo, eventTimeMs);
      return fastEnd;
    }
    // The general path: same rules, token by token, with the precise error for a bad row.
    let fi = 0;
    // Separators are space, tab and CR; LF ends the row. Every other byte belongs to a token, and
    // most are above 0x20, so `c > SPACE` settles the common case with one comparison.
    while (pos < limit) {
      c = buf[pos]!;
      if (c === SPACE || c === TAB || c === CR) {
        pos++;
        continue;
      }
      if (c === stop) break;
      if (fi >= nf) return this.failRow(buf, rowStart, pos, limit, toNewline, origin, lineNo, () => `too many fields: the format has ${nf}, the line has ${nf + 1 + countTokensFrom(buf, pos, limit, toNewline)}`);
      const kind = kinds[fi]!;
      const tokStart = pos;
      if (kind === KIND_STRING || kind === KIND_ADDRESS) {
        pos++;
        while (pos < limit && ((c = buf[pos]!) > SPACE || (c !== SPACE && c !== TAB && c !== CR && c !== stop))) pos++;
        const len = pos - tokStart;
        const column = strings[fi]!;
        if (len === 1 && buf[tokStart] === DASH) {
          column[row] = null;
        } else if (len === lastLen[fi] && sameBytes(buf, tokStart, lastBytes, fi * LAST_MAX, len)) {
          column[row] = lastValue[fi]!;
        } else {
          const v = this.interner.get(buf, tokStart, pos);
          if (v === NOT_TEXT) {
            const name = this.format.fields[fi]!.name;
            return this.failRow(buf, rowStart, pos, limit, toNewline, origin, lineNo, () => `${name}: not text (invalid UTF-8 or a control character)`);
          }
          if (kind === KIND_ADDRESS && !this.interner.isAddress(v)) {
            const name = this.format.fields[fi]!.name;
            return this.failRow(buf, rowStart, pos, limit, toNewline, origin, lineNo, () => `${name}: '${v}' is not an IP address`);
          }
          column[row] = v;
          if (len <= LAST_MAX) {
            lastLen[fi] = len;
            lastValue[fi] = v;
            const at = fi * LAST_MAX;
            for (let k = 0; k < len; k++) lastBytes[at + k] = buf[tokStart + k]!;
          }
        }
      } else {
        let v = 0;
        let d = c - ZERO;
        while (d >= 0 && d <= 9) {
          v = v * 10 + d;
          if (++pos === limit) break;
          d = buf[pos]! - ZERO;
        }
        if (pos < limit && (c = buf[pos]!) !== SPACE && c !== TAB && c !== CR && c !== stop) {
          while (pos < limit && ((c = buf[pos]!) > SPACE || (c !== SPACE && c !== TAB && c !== CR && c !== stop))) pos++;
          if (!(pos - tokStart === 1 && buf[tokStart] === DASH)) {
            const name = this.format.fields[fi]!.name;
            const text = buf.toString('utf8', tokStart, pos);
            return this.failRow(buf, rowStart, pos, limit, toNewline, origin, lineNo, () => `${name}: '${text}' is not a number`);
          }
          numbers[fi]![row] = NaN;
        } else {
          if (kind === KIND_INT32 ? v > INT32_MAX : v > Number.MAX_SAFE_INTEGER) {
            const name = this.format.fields[fi]!.name;
            const text = buf.toString('latin1', tokStart, pos);
            return this.failRow(buf, rowStart, pos, limit, toNewline, origin, lineNo, () => `${name}: ${text} is out of range for ${kind === KIND_INT32 ? 'int32' : 'int64'}`);
          }
          numbers[fi]![row] = v;
        }
      }
      fi++;
    }
    if (toNewline && pos === limit) return -1;
    if (fi !== nf) return this.failRow(buf, rowStart, pos, limit, toNewline, origin, lineNo, () => `too few fields: the format has ${nf}, the line has ${fi}`);
    this.commitRow(row, origin, lineNo, eventTimeMs);
    return pos;
  }

  private commitRow(row: number, origin: Origin, lineNo: number, eventTimeMs: number): void {
    const batch = this.batch;
    batch.origins[row] = origin;
    batch.subIndex[row] = lineNo;
    batch.eventTimeMs[row] = eventTimeMs;
    batch.length = row + 1;
    this.stats.records++;
    const ls = this.logStatusPos.pos;
    if (ls >= 0) {
      const status = batch.strings[ls]![row];
      if (status === 'NODATA') this.stats.nodata++;
      else if (status === 'SKIPDATA') this.stats.skipdata++;
    }
    if (batch.length >= batch.capacity) this.flush();
  }

  /** Passes a batch built elsewhere (a columnar decoder) to the sink, after what was parsed before it. */
  emit(batch: FlowBatch): void {
    if (batch.length === 0) return;
    this.flush();
    this.stats.records += batch.length;
    this.sink.batch(batch);
  }

  /** Parses a line held as a string (tests, stdin fallbacks); same rules as parseLine. */
  parseString(line: string, origin: Origin, lineNo: number, eventTimeMs = NaN): boolean {
    const buf = Buffer.from(line, 'utf8');
    return this.parseLine(buf, 0, buf.length, origin, lineNo, eventTimeMs);
  }

  /**
   * The payload being decoded (a Kinesis record, an envelope's item): the first reject inside it
   * carries it whole, since a reject's text is clipped and the payload may exist nowhere else.
   */
  keepPayload: Uint8Array | undefined;

  /** Reports a bad payload, object or line; `data` (else keepPayload, once) is kept with it. */
  rejectInput(origin: Origin, reason: string, text: string, lineNo?: number, explicitData?: Uint8Array): void {
    const data = explicitData ?? this.keepPayload;
    this.keepPayload = undefined;
    this.stats.rejected++;
    // A small payload can hold millions of bad lines: past the first few, they are counted, not
    // listed (the payload itself, where it exists nowhere else, went with the first reject).
    if (this.listed >= MAX_LISTED_REJECTS && data === undefined) {
      if (this.unlisted++ === 0) {
        this.unlistedOrigin = origin;
        this.unlistedFirstLine = lineNo;
      }
      return;
    }
    this.listed++;
    this.sink.reject({
      location: origin.location,
      ...(lineNo === undefined ? {} : { line: lineNo }),
      reason: clip(reason),
      text: clip(text),
      ...(data === undefined ? {} : { data: Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('base64') }),
    });
  }

  private tryHeader(buf: Buffer, start: number, end: number, origin: Origin, lineNo: number): boolean {
    const tokens = buf.toString('utf8', start, end).split(/[ \t]+/);
    if (!looksLikeHeader(tokens)) return false;
    try {
      this.setFormat(FlowFormat.fromNames(tokens));
      this.stats.headers++;
      this.unreadableHeader = undefined;
    } catch (err) {
      if (!(err instanceof FormatError)) throw err;
      this.unreadableHeader = `${origin.location}:${lineNo}`;
      this.rejectInput(origin, `bad header line: ${err.message}`, buf.toString('utf8', start, end), lineNo);
    }
    return true;
  }

  /**
   * Rejects the row that starts at `rowStart` once its end is known; an incomplete row (no newline
   * before `limit`) is not rejected yet: it comes back whole with the next chunk.
   */
  private failRow(buf: Buffer, rowStart: number, pos: number, limit: number, toNewline: boolean, origin: Origin, lineNo: number, reason: () => string): number {
    let end = limit;
    if (toNewline) {
      end = buf.indexOf(LF, pos);
      if (end < 0 || end >= limit) return -1;
    }
    // Strings already written for this row are simply overwritten by the next record.
    this.rejectInput(origin, reason(), buf.toString('utf8', rowStart, trimEnd(buf, rowStart, end)), lineNo);
    return end;
  }
}


function sameBytes(buf: Buffer, start: number, other: Uint8Array, at: number, len: number): boolean {
  for (let i = 0; i < len; i++) if (buf[start + i] !== other[at + i]) return false;
  return true;
}

const compiledRows = new Map<string, FastRow>();
const noFastPath: FastRow = () => -1;

/** One compiled fast path per distinct list of field kinds, shared by every parser. */
function fastRowFor(kinds: Uint8Array): FastRow {
  const key = kinds.join('');
  let fast = compiledRows.get(key);
  if (!fast) compiledRows.set(key, (fast = compileFastRow(kinds)));
  return fast;
}

function kindsOf(format: FlowFormat): Uint8Array {
  return Uint8Array.from(format.fields, (f) => (f.type === 'string' ? (isAddressField(f) ? KIND_ADDRESS : KIND_STRING) : f.type === 'int32' ? KIND_INT32 : KIND_INT64));
}

function countTokensFrom(buf: Buffer, pos: number, limit: number, toNewline: boolean): number {
  let end = toNewline ? buf.indexOf(LF, pos) : limit;
  if (end < 0 || end > limit) end = limit;
  return buf.toString('utf8', pos, end).split(/[ \t\r]+/).filter((t) => t !== '').length - 1;
}

function trimEnd(buf: Buffer, start: number, end: number): number {
  while (end > start && (buf[end - 1] === CR || buf[end - 1] === SPACE || buf[end - 1] === TAB)) end--;
  return end;
}

/**
 * Cheap pre-check before the header test: header lines hold only lower-case names, so any
 * upper-case letter, dot, colon, or a token starting with a digit or `-` means data.
 */
function mayBeHeader(buf: Buffer, start: number, end: number): boolean {
  let tokenStart = true;
  for (let i = start; i < end; i++) {
    const c = buf[i]!;
    if (c === SPACE || c === TAB) {
      tokenStart = true;
      continue;
    }
    if (tokenStart && !(c >= 0x61 && c <= 0x7a)) return false;
    tokenStart = false;
    if (!((c >= 0x61 && c <= 0x7a) || (c >= ZERO && c <= 0x39) || c === DASH || c === 0x5f)) return false;
  }
  return true;
}
