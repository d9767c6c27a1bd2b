/**
 * A growable byte buffer with the little-endian and varint writes Parquet needs. One instance is
 * reused for a whole file so encoding allocates per file, not per value.
 */
export class ByteSink {
  buf: Uint8Array;
  view: DataView;
  length = 0;

  constructor(capacity = 1 << 16) {
    this.buf = new Uint8Array(capacity);
    this.view = new DataView(this.buf.buffer);
  }

  ensure(extra: number): void {
    const need = this.length + extra;
    if (need <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < need) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  reset(): void {
    this.length = 0;
  }

  byte(v: number): void {
    this.ensure(1);
    this.buf[this.length++] = v;
  }

  bytes(b: Uint8Array): void {
    this.ensure(b.length);
    this.buf.set(b, this.length);
    this.length += b.length;
  }

  int32(v: number): void {
    this.ensure(4);
    this.view.setInt32(this.length, v, true);
    this.length += 4;
  }

  /** An int64 from a JavaScript number (exact up to 2^53), without going through BigInt. */
  int64(v: number): void {
    this.ensure(8);
    const hi = Math.floor(v / 4294967296);
    this.view.setUint32(this.length, v - hi * 4294967296, true);
    this.view.setInt32(this.length + 4, hi, true);
    this.length += 8;
  }

  /** Unsigned LEB128 varint of a non-negative number below 2^53. */
  varint(v: number): void {
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.length++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.length++] = v;
  }

  utf8(s: string): number {
    const max = s.length * 3;
    this.ensure(max);
    const { written } = new TextEncoder().encodeInto(s, this.buf.subarray(this.length));
    this.length += written;
    return written;
  }

  /** A copy of the bytes written so far. */
  toBytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}
