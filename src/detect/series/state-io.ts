import type { ByteReader, ByteWriter } from '../../rcf/bytes.js';
import { RcfStateError } from '../../rcf/errors.js';

/** The series detector's state is read by its parts; each refuses what it could not have written. */
export function corrupt(what: string): RcfStateError {
  return new RcfStateError(`series detector state is corrupt (${what})`);
}

/** A count, then that many f64s. */
export function writeNumbers(w: ByteWriter, values: ArrayLike<number>, from = 0, to = values.length): void {
  w.u32(to - from);
  const copy = new Float64Array(to - from);
  for (let i = from; i < to; i++) copy[i - from] = values[i] as number;
  w.array(copy);
}

/**
 * Reads what `writeNumbers` wrote, refusing more than `max` values or more than the bytes left
 * hold before allocating anything: a crafted count must not reserve gigabytes.
 */
export function readNumbers(r: ByteReader, max: number, what: string): Float64Array {
  const n = r.u32(what);
  if (n > max) throw corrupt(`${what}: ${n} values, at most ${max} possible`);
  if (n * 8 > r.remaining) throw new RcfStateError(`series detector state is truncated (while reading ${what})`);
  const out = new Float64Array(n);
  r.into(out, n, what);
  return out;
}

/** Reads what `writeNumbers` wrote into `target`, which the count must fill exactly. */
export function readNumbersInto(r: ByteReader, target: Float64Array, what: string): void {
  const values = readNumbers(r, target.length, what);
  if (values.length !== target.length) throw corrupt(`${what}: ${values.length} values for ${target.length}`);
  target.set(values);
}

/** A length, then that many bytes (the options' text, a forest's own state). */
export function writeBytes(w: ByteWriter, bytes: Uint8Array): void {
  w.u32(bytes.length);
  w.array(bytes);
}

/** Reads what `writeBytes` wrote, refusing a length the bytes left cannot hold before allocating. */
export function readBytes(r: ByteReader, what: string): Uint8Array {
  const n = r.u32(what);
  if (n > r.remaining) throw new RcfStateError(`series detector state is truncated (while reading ${what})`);
  const out = new Uint8Array(n);
  r.into(out, n, what);
  return out;
}

/** An integer count in [min, max] stored as f64 (counts of rows can pass 2^32). */
export function readCount(r: ByteReader, what: string, max = Number.MAX_SAFE_INTEGER, min = 0): number {
  const v = r.f64(what);
  if (!(Number.isInteger(v) && v >= min && v <= max)) throw corrupt(`${what} ${v}`);
  return v;
}

export function readFinite(r: ByteReader, what: string): number {
  const v = r.f64(what);
  if (!Number.isFinite(v)) throw corrupt(`${what} ${v}`);
  return v;
}

export function readFlag(r: ByteReader, what: string): boolean {
  const v = r.u8(what);
  if (v > 1) throw corrupt(`${what} ${v}`);
  return v === 1;
}
