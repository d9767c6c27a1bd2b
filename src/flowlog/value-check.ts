import { isIP } from 'node:net';

/**
 * What the string interner returns for bytes that are not text: invalid UTF-8, or a control
 * character (NUL, DEL, ...). A lone surrogate, which no decoding of bytes can produce, so it never
 * stands for a real value. Decoding such bytes would replace them (U+FFFD) and the archive would
 * keep a value the log never held; the parser rejects the line instead, with its bytes.
 */
export const NOT_TEXT = '\uD800';

/** Most values remembered as valid; a stream of unique ones costs a clear now and then. */
const REMEMBERED = 1 << 16;

// What no flow-log text holds: control characters, and U+FFFD, which is what a decoder leaves
// where bytes were not UTF-8 (Parquet strings arrive decoded, so that is all that is left to see),
// and lone surrogates (\p{Cs} in a u-mode pattern matches only unpaired ones).
const NOT_TEXT_CHARS = /[\u0000-\u001f\u007f\uFFFD]|\p{Cs}/u;

/**
 * Checks values that arrive already decoded (Parquet columns, and the parser's interned tokens)
 * against what a flow log can hold. Values repeat endlessly, so each valid one is checked once.
 */
export class ValueCheck {
  private readonly addresses = new Set<string>();
  private readonly texts = new Set<string>();

  /** An IPv4 or IPv6 address, as a flow log writes it. */
  isAddress(value: string): boolean {
    if (this.addresses.has(value)) return true;
    if (isIP(value) === 0) return false;
    if (this.addresses.size >= REMEMBERED) this.addresses.clear();
    this.addresses.add(value);
    return true;
  }

  /** Text without control characters, replacement characters or lone surrogates. */
  isText(value: string): boolean {
    if (this.texts.has(value)) return true;
    if (NOT_TEXT_CHARS.test(value)) return false;
    if (this.texts.size >= REMEMBERED) this.texts.clear();
    this.texts.add(value);
    return true;
  }
}
