import type { StringInterner } from './intern.js';
import { INT32_MAX } from './fields.js';
import { NOT_TEXT } from './value-check.js';

/**
 * The happy path of row parsing, compiled once per format: a straight-line function with the
 * field types fixed, so V8 sees no per-token dispatch. It parses a row that is entirely valid and
 * returns its end; on anything else (a bad token, a count mismatch, a row cut off by the end of a
 * chunk) it returns -1 and the caller re-parses the row on the general path, which produces the
 * precise error. Both paths must accept exactly the same rows.
 */
export type FastRow = (
  buf: Buffer,
  pos: number,
  limit: number,
  /** LF when rows end at a newline (returned position), -1 when the row ends at `limit`. */
  stop: number,
  row: number,
  numbers: readonly (Float64Array | undefined)[],
  strings: readonly ((string | null)[] | undefined)[],
  interner: StringInterner,
  lastLen: Int32Array,
  lastBytes: Uint8Array,
  lastValue: string[],
) => number;

export const KIND_STRING = 0;
export const KIND_INT32 = 1;
export const KIND_INT64 = 2;
/** A string field that holds addresses: canonical IPv4 takes a numeric cache (see below). */
export const KIND_ADDRESS = 3;
/** log2 of the IPv4 address cache's slots (StringInterner.ipv4Keys). */
export const IPV4_CACHE_BITS = 12;
/** Longest string kept in the per-column last-value cache. */
export const LAST_MAX = 64;

const SEP = '(c === 32 || c === 9 || c === 13)';

export function compileFastRow(kinds: Uint8Array): FastRow {
  const lines: string[] = ['let c = 0, s = 0, v = 0, d = 0, len = 0, at = 0, k = 0, str = "", ok = 0, oct = 0, nd = 0, dots = 0, h = 0;'];
  if (kinds.includes(KIND_ADDRESS)) lines.push('const addrKeys = interner.ipv4Keys, addrValues = interner.ipv4Values;');
  kinds.forEach((kind, i) => {
    lines.push(kind === KIND_STRING || kind === KIND_ADDRESS ? `const s${i} = strings[${i}];` : `const n${i} = numbers[${i}];`);
  });
  kinds.forEach((kind, i) => {
    lines.push(`while (pos < limit && ${SEP.replaceAll('c', '(c = buf[pos])').replace('(c = buf[pos]) === 9', 'c === 9').replace('(c = buf[pos]) === 13', 'c === 13')}) pos++;`);
    lines.push('if (pos >= limit || c === stop) return -1;');
    lines.push('s = pos;');
    if (kind === KIND_ADDRESS) {
      // Addresses vary from row to row, so the last-value test rarely pays. A canonical IPv4
      // address (four decimal octets, no leading zeros: one spelling per value) is read as its
      // 32-bit value while it is scanned and looked up in a direct-mapped cache of strings; any
      // other token (IPv6, '-', odd spellings) takes the interner.
      lines.push(
        'ok = 1; v = 0; oct = 0; nd = 0; dots = 0;',
        'while (pos < limit) {',
        '  c = buf[pos]; d = c - 48;',
        '  if (d >= 0 && d <= 9) { oct = oct * 10 + d; nd++; }',
        '  else if (c === 46) { if (nd === 0 || nd > 3 || oct > 255 || (nd > 1 && buf[pos - nd] === 48)) ok = 0; v = v * 256 + oct; oct = 0; nd = 0; dots++; }',
        '  else if (c > 34 || (c !== 32 && c !== 9 && c !== 13 && c !== stop)) ok = 0;',
        '  else break;',
        '  pos++;',
        '}',
        'if (ok === 1 && dots === 3 && nd > 0 && nd <= 3 && oct <= 255 && !(nd > 1 && buf[pos - nd] === 48)) {',
        '  v = v * 256 + oct;',
        '  h = Math.imul(v | 0, -1640531535) >>> IPV4_SHIFT;',
        `  if (addrKeys[h] === v) { s${i}[row] = addrValues[h]; }`,
        `  else { str = interner.get(buf, s, pos); addrKeys[h] = v; addrValues[h] = str; s${i}[row] = str; }`,
        `} else if (pos - s === 1 && buf[s] === 45) { s${i}[row] = null; }`,
        // Anything else must be an address (IPv6, or IPv4 spelt oddly): the general path rejects it if not.
        `else { str = interner.get(buf, s, pos); if (!interner.isAddress(str)) return -1; s${i}[row] = str; }`,
      );
    } else if (kind === KIND_STRING) {
      // Account, ENI, action and status repeat from row to row: the column's last value is
      // tried first, a plain byte compare followed by a separator; only on a miss is the token
      // scanned, interned and made the last value.
      lines.push(
        `at = ${i * LAST_MAX}; len = lastLen[${i}]; k = 0;`,
        'if (pos + len <= limit) while (k < len && buf[pos + k] === lastBytes[at + k]) k++;',
        `if (k === len && len > 0 && (pos + len === limit || (c = buf[pos + len]) === 32 || c === 9 || c === 13 || c === stop)) { s${i}[row] = lastValue[${i}]; pos += len; }`,
        'else {',
        '  pos++;',
        '  while (pos < limit && ((c = buf[pos]) > 34 || (c !== 32 && c !== 9 && c !== 13 && c !== stop))) pos++;',
        '  len = pos - s;',
        `  if (len === 1 && buf[s] === 45) { s${i}[row] = null; }`,
        '  else {',
        // Bytes that are not text come back as NOT_TEXT; the general path rejects the line.
        `    str = interner.get(buf, s, pos); if (str === ${JSON.stringify(NOT_TEXT)}) return -1; s${i}[row] = str;`,
        `    if (len <= ${LAST_MAX}) { lastLen[${i}] = len; lastValue[${i}] = str; for (k = 0; k < len; k++) lastBytes[at + k] = buf[s + k]; }`,
        '  }',
        '}',
      );
    } else {
      const max = kind === KIND_INT32 ? INT32_MAX : Number.MAX_SAFE_INTEGER;
      lines.push(
        'if (c === 45) {',
        '  pos++;',
        `  if (pos < limit && !(${SEP.replaceAll('c', '(c = buf[pos])').replace('(c = buf[pos]) === 9', 'c === 9').replace('(c = buf[pos]) === 13', 'c === 13')} || c === stop)) return -1;`,
        `  n${i}[row] = NaN;`,
        '} else {',
        '  d = c - 48;',
        '  if (d < 0 || d > 9) return -1;',
        '  v = 0;',
        '  do { v = v * 10 + d; if (++pos >= limit) break; d = buf[pos] - 48; } while (d >= 0 && d <= 9);',
        `  if (pos < limit && !(${SEP.replaceAll('c', '(c = buf[pos])').replace('(c = buf[pos]) === 9', 'c === 9').replace('(c = buf[pos]) === 13', 'c === 13')} || c === stop)) return -1;`,
        `  if (v > ${max}) return -1;`,
        `  n${i}[row] = v;`,
        '}',
      );
    }
  });
  lines.push(
    `while (pos < limit && ${SEP.replaceAll('c', '(c = buf[pos])').replace('(c = buf[pos]) === 9', 'c === 9').replace('(c = buf[pos]) === 13', 'c === 13')}) pos++;`,
    'if (stop >= 0) return pos < limit && buf[pos] === stop ? pos : -1;',
    'return pos < limit ? -1 : pos;',
  );
  const body = lines.join('\n').replaceAll('IPV4_SHIFT', String(32 - IPV4_CACHE_BITS));
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from field kinds only, never from input
  return new Function('buf', 'pos', 'limit', 'stop', 'row', 'numbers', 'strings', 'interner', 'lastLen', 'lastBytes', 'lastValue', body) as FastRow;
}
