import { RcfStateError } from './errors.js';

// Typed arrays are copied byte-for-byte, so the format is little-endian by
// construction on little-endian hosts; refuse to run elsewhere rather than
// silently write a different format.
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function requireLittleEndian(): void {
  if (!LITTLE_ENDIAN) throw new RcfStateError('RCF state serialisation requires a little-endian host');
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

/** CRC-32 (IEEE 802.3, as in zip/png). */
export function crc32(bytes: Uint8Array, start = 0, end = bytes.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = CRC_TABLE[(c ^ bytes[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

type NumericArray = Uint8Array | Uint16Array | Uint32Array | Float32Array | Float64Array;

/** Growable little-endian byte sink. */
export class ByteWriter {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  constructor() {
    requireLittleEndian();
  }

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let cap = this.buf.length * 2;
    while (cap < this.length + n) cap *= 2;
    const next = new Uint8Array(cap);
    next.set(this.buf.subarray(0, this.length));
    this.buf = next;
    this.view = new DataView(next.buffer);
  }

  u8(v: number): void {
    this.ensure(1);
    this.view.setUint8(this.length, v);
    this.length += 1;
  }
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.length, v, true);
    this.length += 2;
  }
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.length, v, true);
    this.length += 4;
  }
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.length, v, true);
    this.length += 8;
  }
  /** Raw elements of a typed array (no length prefix; the reader must know the count). */
  array(a: NumericArray): void {
    const bytes = new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
    this.ensure(bytes.length);
    this.buf.set(bytes, this.length);
    this.length += bytes.length;
  }
  bytes(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

/** Bounds-checked reader; running out of bytes is a truncated-state error. */
export class ByteReader {
  private readonly view: DataView;
  offset: number;

  constructor(
    private readonly buf: Uint8Array,
    offset: number,
    readonly end: number,
  ) {
    requireLittleEndian();
    this.view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
    this.offset = offset;
  }

  /** Bytes left to read. */
  get remaining(): number {
    return this.end - this.offset;
  }

  private need(n: number, what: string): void {
    if (this.offset + n > this.end) throw new RcfStateError(`RCF state is truncated (while reading ${what})`);
  }

  u8(what = 'u8'): number {
    this.need(1, what);
    return this.view.getUint8(this.offset++);
  }
  u16(what = 'u16'): number {
    this.need(2, what);
    const v = this.view.getUint16(this.offset, true);
    this.offset += 2;
    return v;
  }
  u32(what = 'u32'): number {
    this.need(4, what);
    const v = this.view.getUint32(this.offset, true);
    this.offset += 4;
    return v;
  }
  f64(what = 'f64'): number {
    this.need(8, what);
    const v = this.view.getFloat64(this.offset, true);
    this.offset += 8;
    return v;
  }
  /** Copies `target.length` elements (or `count`) into `target` from the stream. */
  into(target: NumericArray, count: number = target.length, what = 'array'): void {
    const n = count * target.BYTES_PER_ELEMENT;
    this.need(n, what);
    if (count > target.length) throw new RcfStateError(`RCF state is corrupt (${what}: ${count} elements exceed ${target.length})`);
    new Uint8Array(target.buffer, target.byteOffset, n).set(this.buf.subarray(this.offset, this.offset + n));
    this.offset += n;
  }
}

export const MAGIC = [0x46, 0x43, 0x52, 0x46] as const; // "FCRF"
/**
 * Version 2: the shingle-aware point store (version 1 stored whole points and a
 * free list). Older versions are refused with a clear error rather than read.
 */
export const FORMAT_VERSION = 2;
const HEADER = 12; // magic(4) version(2) kind(1) reserved(1) payloadLength(4)

/** Payload kinds. */
export const KIND_FOREST = 1;
export const KIND_THRESHOLDED = 2;
/** flowcut's series detector (src/detect/series), which holds forests of its own. */
export const KIND_SERIES_DETECTOR = 3;

/** Wraps a payload: magic, version, kind, length, payload, CRC-32 of all preceding bytes. */
export function seal(kind: number, payload: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter();
  for (const b of MAGIC) w.u8(b);
  w.u16(FORMAT_VERSION);
  w.u8(kind);
  w.u8(0);
  w.u32(0); // patched below
  payload(w);
  const bytes0 = w.bytes();
  new DataView(bytes0.buffer).setUint32(8, bytes0.length - HEADER, true);
  const out = new Uint8Array(bytes0.length + 4);
  out.set(bytes0);
  new DataView(out.buffer).setUint32(bytes0.length, crc32(bytes0), true);
  return out;
}

/** Validates the envelope and returns a reader positioned at the payload. */
export function open(bytes: Uint8Array, kind: number): ByteReader {
  if (!(bytes instanceof Uint8Array)) throw new RcfStateError('RCF state must be a Uint8Array');
  if (bytes.length < 4) throw new RcfStateError('RCF state is truncated (no header)');
  for (let i = 0; i < 4; i++) {
    if (bytes[i] !== MAGIC[i]) throw new RcfStateError('not an RCF state (bad magic bytes)');
  }
  if (bytes.length < HEADER + 4) throw new RcfStateError('RCF state is truncated (incomplete header)');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const version = view.getUint16(4, true);
  if (version > FORMAT_VERSION) {
    throw new RcfStateError(`RCF state format version ${version} is newer than supported version ${FORMAT_VERSION}`);
  }
  if (version === 0) throw new RcfStateError('RCF state is corrupt (format version 0)');
  if (version < FORMAT_VERSION) {
    throw new RcfStateError(
      `RCF state format version ${version} was written by an earlier flowcut and is not readable by this one (version ${FORMAT_VERSION}); rebuild the model from its input`,
    );
  }
  const payloadLength = view.getUint32(8, true);
  const total = HEADER + payloadLength + 4;
  if (bytes.length < total) throw new RcfStateError(`RCF state is truncated (${bytes.length} of ${total} bytes)`);
  if (bytes.length > total) throw new RcfStateError(`RCF state is corrupt (${bytes.length - total} trailing bytes)`);
  const stored = view.getUint32(total - 4, true);
  const actual = crc32(bytes, 0, total - 4);
  if (stored !== actual) throw new RcfStateError('RCF state is corrupt (checksum mismatch)');
  const actualKind = view.getUint8(6);
  if (actualKind !== kind) {
    throw new RcfStateError(`RCF state holds a ${kindName(actualKind)}, expected a ${kindName(kind)}`);
  }
  return new ByteReader(bytes, HEADER, total - 4);
}

const KIND_NAMES: Readonly<Record<number, string>> = {
  [KIND_FOREST]: 'RandomCutForest',
  [KIND_THRESHOLDED]: 'ThresholdedForest',
  [KIND_SERIES_DETECTOR]: 'SeriesDetector',
};

function kindName(kind: number): string {
  return KIND_NAMES[kind] ?? `unknown kind ${kind}`;
}
