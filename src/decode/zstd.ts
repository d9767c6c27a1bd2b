import { compress, decompress, init } from '@bokuweb/zstd-wasm';

/**
 * Zstandard for Parquet pages. Node 20's zlib has no zstd, so this is zstd's own C library built
 * to WebAssembly (@bokuweb/zstd-wasm): no native build, the same bytes on every platform. The
 * module compiles asynchronously once; encoding is synchronous, so async entry points (archive
 * flushes, compaction, reads) call `loadZstd()` before they encode or decode.
 */

let loading: Promise<void> | undefined;
let loaded = false;

export function loadZstd(): Promise<void> {
  loading ??= init().then(() => {
    loaded = true;
  });
  return loading;
}

export function zstdLoaded(): boolean {
  return loaded;
}

function need(): void {
  if (!loaded) throw new Error('zstd is not loaded yet: await loadZstd() before encoding or decoding ZSTD pages');
}

export function zstdCompress(body: Uint8Array, level: number): Uint8Array {
  need();
  return compress(body, level);
}

const MAGIC = 0xfd2fb528;

/**
 * What a zstd frame's header declares (RFC 8878 §3.1.1): 'not-zstd', its content size, or
 * undefined when the frame leaves the size out (streaming writers may).
 */
export function zstdFrameContentSize(frame: Uint8Array): number | undefined | 'not-zstd' {
  if (frame.length < 6) return 'not-zstd';
  const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
  if (view.getUint32(0, true) !== MAGIC) return 'not-zstd';
  const fhd = frame[4]!;
  const fcsFlag = fhd >>> 6;
  const single = (fhd >>> 5) & 1;
  const dictIdBytes = [0, 1, 2, 4][fhd & 3]!;
  const at = 5 + (single ? 0 : 1) + dictIdBytes;
  const fcsBytes = fcsFlag === 0 ? (single ? 1 : 0) : [0, 2, 4, 8][fcsFlag]!;
  if (fcsBytes === 0) return undefined;
  if (at + fcsBytes > frame.length) return 'not-zstd';
  if (fcsBytes === 1) return frame[at]!;
  if (fcsBytes === 2) return view.getUint16(at, true) + 256;
  if (fcsBytes === 4) return view.getUint32(at, true);
  return view.getUint32(at, true) + view.getUint32(at + 4, true) * 2 ** 32;
}

/**
 * Inflates one page of the size its page header gives. Input is untrusted: the library
 * allocates whatever a frame declares, so a frame that declares another size is refused first,
 * and one that declares none is inflated into exactly the expected size (larger output fails).
 * The caller decides beforehand whether the expected size is acceptable.
 */
export function zstdDecompress(input: Uint8Array, expectedLength: number): Uint8Array {
  need();
  const declared = zstdFrameContentSize(input);
  if (declared === 'not-zstd') throw new Error('ZSTD page is not a zstd frame');
  if (declared !== undefined && declared !== expectedLength) throw new Error(`ZSTD page declares ${declared} bytes, its page header ${expectedLength}`);
  const out = decompress(input, { defaultHeapSize: Math.max(1, expectedLength) });
  if (out.length !== expectedLength) throw new Error(`ZSTD page inflated to ${out.length} bytes, expected ${expectedLength}`);
  return out;
}
