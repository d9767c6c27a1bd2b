import type { StringInterner } from './intern.js';

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
/** Longest string kept in the per-column last-value cache. */
export const LAST_MAX = 64;

const SEP = '(c === 32 || c === 9 || c === 13)';

export function compileFastRow(kinds: Uint8Array): FastRow {
  const lines: string[] = ['let c = 0, s = 0, v = 0, d = 0, len = 0, at = 0, k = 0, str = "";'];
  kinds.forEach((kind, i) => {
    lines.push(kind === KIND_STRING ? `const s${i} = strings[${i}];` : `const n${i} = numbers[${i}];`);
  });
  kinds.forEach((kind, i) => {
    lines.push(`while (pos < limit && ${SEP.replaceAll('c', '(c = buf[pos])').replace('(c = buf[pos]) === 9', 'c === 9').replace('(c = buf[pos]) === 13', 'c === 13')}) pos++;`);
    lines.push('if (pos >= limit || c === stop) return -1;');
    lines.push('s = pos;');
    if (kind === KIND_STRING) {
      // The token is compared with the column's last value while it is scanned (k counts the
      // bytes matched so far), so a repeated value costs one pass over its bytes.
      lines.push(
        `at = ${i * LAST_MAX};`,
        'k = c === lastBytes[at] ? 1 : 0;',
        'pos++;',
        'while (pos < limit && ((c = buf[pos]) > 34 || (c !== 32 && c !== 9 && c !== 13 && c !== stop))) { if (k === pos - s && c === lastBytes[at + k]) k++; pos++; }',
        'len = pos - s;',
        `if (k !== len || len !== lastLen[${i}]) k = -1;`,
        `if (len === 1 && buf[s] === 45) { s${i}[row] = null; }`,
        `else {`,
        `  if (k === len) { s${i}[row] = lastValue[${i}]; }`,
        `  else {`,
        `    str = interner.get(buf, s, pos); s${i}[row] = str;`,
        `    if (len <= ${LAST_MAX}) { lastLen[${i}] = len; lastValue[${i}] = str; for (k = 0; k < len; k++) lastBytes[at + k] = buf[s + k]; }`,
        `  }`,
        `}`,
      );
    } else {
      const max = kind === KIND_INT32 ? 2147483647 : Number.MAX_SAFE_INTEGER;
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
  const body = lines.join('\n');
  // eslint-disable-next-line @typescript-eslint/no-implied-eval -- generated from field kinds only, never from input
  return new Function('buf', 'pos', 'limit', 'stop', 'row', 'numbers', 'strings', 'interner', 'lastLen', 'lastBytes', 'lastValue', body) as FastRow;
}
