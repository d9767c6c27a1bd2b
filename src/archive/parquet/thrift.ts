import { ByteSink } from './bytes.js';

/**
 * The Thrift compact protocol, write side only, for Parquet's page headers and footer. Parquet's
 * metadata is a handful of structs, so a tiny writer beats a generated one.
 */
export const T = { TRUE: 1, FALSE: 2, I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 } as const;

export class ThriftWriter {
  readonly out: ByteSink;
  private last: number[] = [0];

  constructor(out: ByteSink = new ByteSink(256)) {
    this.out = out;
  }

  private header(id: number, type: number): void {
    const prev = this.last[this.last.length - 1]!;
    const delta = id - prev;
    if (delta > 0 && delta <= 15) this.out.byte((delta << 4) | type);
    else {
      this.out.byte(type);
      this.zigzag(id);
    }
    this.last[this.last.length - 1] = id;
  }

  private zigzag(v: number): void {
    this.out.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }

  i32(id: number, v: number): this {
    this.header(id, T.I32);
    this.zigzag(v);
    return this;
  }

  i64(id: number, v: number): this {
    this.header(id, T.I64);
    this.zigzag(v);
    return this;
  }

  bool(id: number, v: boolean): this {
    this.header(id, v ? T.TRUE : T.FALSE);
    return this;
  }

  binary(id: number, v: Uint8Array | string): this {
    this.header(id, T.BINARY);
    this.rawBinary(v);
    return this;
  }

  private rawBinary(v: Uint8Array | string): void {
    const b = typeof v === 'string' ? new TextEncoder().encode(v) : v;
    this.out.varint(b.length);
    this.out.bytes(b);
  }

  struct(id: number, body: (w: this) => void): this {
    this.header(id, T.STRUCT);
    this.inStruct(body);
    return this;
  }

  private inStruct(body: (w: this) => void): void {
    this.last.push(0);
    body(this);
    this.out.byte(0);
    this.last.pop();
  }

  private listHeader(id: number, elem: number, n: number): void {
    this.header(id, T.LIST);
    if (n < 15) this.out.byte((n << 4) | elem);
    else {
      this.out.byte(0xf0 | elem);
      this.out.varint(n);
    }
  }

  listStruct<X>(id: number, items: readonly X[], body: (w: this, item: X) => void): this {
    this.listHeader(id, T.STRUCT, items.length);
    for (const item of items) this.inStruct((w) => body(w, item));
    return this;
  }

  listI32(id: number, items: readonly number[]): this {
    this.listHeader(id, T.I32, items.length);
    for (const v of items) this.zigzag(v);
    return this;
  }

  listBinary(id: number, items: readonly string[]): this {
    this.listHeader(id, T.BINARY, items.length);
    for (const v of items) this.rawBinary(v);
    return this;
  }

  /** Ends the top-level struct and returns its bytes. */
  end(): Uint8Array {
    this.out.byte(0);
    return this.out.toBytes();
  }
}
