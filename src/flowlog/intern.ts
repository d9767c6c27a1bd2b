import { isUtf8 } from 'node:buffer';
import { IPV4_CACHE_BITS } from './fast-row.js';
import { NOT_TEXT, ValueCheck } from './value-check.js';

/**
 * Turns byte ranges into strings, returning the same string object for the same bytes.
 *
 * Flow records repeat a few values endlessly (account, ENI, action, status, addresses of busy
 * peers); interning them skips a string allocation and a C++ call per token, which is most of the
 * cost of parsing a line. Bounded: when the table fills, it starts over, so a stream of unique
 * addresses costs a clear now and then, never unbounded memory.
 */
export class StringInterner {
  private readonly mask: number;
  private readonly maxEntries: number;
  private readonly slots: Int32Array; // entry index + 1, 0 = empty
  private readonly hashes: Int32Array;
  private readonly offsets: Int32Array;
  private readonly lengths: Int32Array;
  private readonly values: string[];
  private arena: Uint8Array;
  /**
   * A direct-mapped cache of IPv4 address strings keyed by their 32-bit value (-1: empty), for
   * the compiled row parser (fast-row.ts), which computes the value while it scans the token.
   */
  readonly ipv4Keys = new Float64Array(1 << IPV4_CACHE_BITS).fill(-1);
  readonly ipv4Values = new Array<string>(1 << IPV4_CACHE_BITS).fill('');
  private arenaUsed = 0;
  private count = 0;

  constructor(
    tableBits = 16,
    private readonly maxLength = 256,
  ) {
    const size = 1 << tableBits;
    this.mask = size - 1;
    this.maxEntries = size >>> 1; // keep the table at most half full so probes stay short
    this.slots = new Int32Array(size);
    this.hashes = new Int32Array(this.maxEntries);
    this.offsets = new Int32Array(this.maxEntries);
    this.lengths = new Int32Array(this.maxEntries);
    this.values = new Array<string>(this.maxEntries);
    this.arena = new Uint8Array(this.maxEntries * 24);
  }

  get size(): number {
    return this.count;
  }

  private readonly check = new ValueCheck();

  /**
   * An IPv4 or IPv6 address, as a flow log writes it. Canonical IPv4 addresses never get here (the
   * compiled row parser reads them as numbers); IPv6 ones repeat like the rest, so each is checked once.
   */
  isAddress(value: string): boolean {
    return this.check.isAddress(value);
  }

  /** The string the bytes spell, or {@link NOT_TEXT} if they are not text. */
  get(buf: Buffer, start: number, end: number): string {
    const len = end - start;
    if (len > this.maxLength) return decode(buf, start, end);
    let h = 0x811c9dc5 | 0;
    for (let i = start; i < end; i++) h = Math.imul(h ^ buf[i]!, 0x01000193);
    let slot = h & this.mask;
    const arena = this.arena;
    for (;;) {
      const e = this.slots[slot]!;
      if (e === 0) break;
      const idx = e - 1;
      if (this.hashes[idx] === h && this.lengths[idx] === len) {
        let off = this.offsets[idx]!;
        let i = start;
        while (i < end && arena[off] === buf[i]) {
          off++;
          i++;
        }
        if (i === end) return this.values[idx]!;
      }
      slot = (slot + 1) & this.mask;
    }
    const value = decode(buf, start, end);
    if (this.count >= this.maxEntries) {
      this.clear();
      return this.insert(h & this.mask, h, buf, start, end, value);
    }
    return this.insert(slot, h, buf, start, end, value);
  }

  private insert(slot: number, h: number, buf: Buffer, start: number, end: number, value: string): string {
    let s = slot;
    while (this.slots[s] !== 0) s = (s + 1) & this.mask;
    const len = end - start;
    if (this.arenaUsed + len > this.arena.length) {
      const grown = new Uint8Array(Math.max(this.arena.length * 2, this.arenaUsed + len));
      grown.set(this.arena.subarray(0, this.arenaUsed));
      this.arena = grown;
    }
    const arena = this.arena;
    for (let i = 0, at = this.arenaUsed; i < len; i++) arena[at + i] = buf[start + i]!;
    const idx = this.count++;
    this.hashes[idx] = h;
    this.offsets[idx] = this.arenaUsed;
    this.lengths[idx] = len;
    this.values[idx] = value;
    this.arenaUsed += len;
    this.slots[s] = idx + 1;
    return value;
  }

  clear(): void {
    this.slots.fill(0);
    this.values.fill('', 0, this.count);
    this.count = 0;
    this.arenaUsed = 0;
  }
}

function decode(buf: Buffer, start: number, end: number): string {
  let wide = false;
  for (let i = start; i < end; i++) {
    const b = buf[i]!;
    if (b < 0x20 || b === 0x7f) return NOT_TEXT;
    if (b >= 0x80) wide = true;
  }
  if (!wide) return buf.toString('latin1', start, end);
  return isUtf8(buf.subarray(start, end)) ? buf.toString('utf8', start, end) : NOT_TEXT;
}
