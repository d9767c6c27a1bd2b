import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { compress, init } from '@bokuweb/zstd-wasm';

/**
 * The library's emscripten module, for decompressing into a buffer of our size: its own
 * decompress() allocates whatever the first frame declares. The version is pinned in
 * package.json, and the tests exercise this path.
 */
interface ZstdModule {
  HEAPU8: Uint8Array;
  _malloc(size: number): number;
  _free(ptr: number): void;
  _ZSTD_decompress(dst: number, dstCapacity: number, src: number, srcSize: number): number;
  _ZSTD_isError(code: number): number;
}
const requireCjs = createRequire(import.meta.url);
// The package's exports map hides the file; beside its entry point it is the very module
// instance that init() loads (one path, one entry in require's cache).
const zstdModule = (requireCjs(join(dirname(requireCjs.resolve('@bokuweb/zstd-wasm')), 'module.js')) as { Module: ZstdModule }).Module;

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

function need(): void {
  if (!loaded) throw new Error('zstd is not loaded yet: await loadZstd() before encoding or decoding ZSTD pages');
}

export function zstdCompress(body: Uint8Array, level: number): Uint8Array {
  need();
  return compress(body, level);
}

const MAGIC = 0xfd2fb528;

/** Starts with a zstd frame's magic number (RFC 8878 §3.1.1), for a clear error on other bytes. */
function isZstdFrame(bytes: Uint8Array): boolean {
  return bytes.length >= 4 && new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getUint32(0, true) === MAGIC;
}

/**
 * Inflates one page of the size its page header gives, into exactly that many bytes: nothing the
 * input declares is believed (frames may declare another size, none, or be several), output
 * that would not fit fails, and output that falls short is an error too. The caller decides
 * beforehand whether the expected size is acceptable.
 */
export function zstdDecompress(input: Uint8Array, expectedLength: number): Uint8Array {
  need();
  if (!isZstdFrame(input)) throw new Error('ZSTD page is not a zstd frame');
  const m = zstdModule;
  const cap = Math.max(1, expectedLength);
  const src = m._malloc(input.length);
  const dst = m._malloc(cap);
  try {
    if (src === 0 || dst === 0) throw new Error(`ZSTD page of ${expectedLength} bytes: out of memory`);
    m.HEAPU8.set(input, src);
    const n = m._ZSTD_decompress(dst, cap, src, input.length);
    if (m._ZSTD_isError(n)) throw new Error('ZSTD page is corrupt or larger than its page header says');
    if (n !== expectedLength) throw new Error(`ZSTD page inflated to ${n} bytes, its page header says ${expectedLength}`);
    // HEAPU8 is replaced when the heap grows: read it after the calls.
    return m.HEAPU8.slice(dst, dst + n);
  } finally {
    m._free(src);
    m._free(dst);
  }
}
