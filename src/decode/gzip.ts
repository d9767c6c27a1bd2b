import { constants, createGunzip, gunzipSync } from 'node:zlib';
import { DecodeError } from './errors.js';

export function isGzip(buf: Uint8Array): boolean {
  return buf.length >= 2 && buf[0] === 0x1f && buf[1] === 0x8b;
}

/**
 * Inflates a whole gzip buffer (all members), refusing to produce more than `maxBytes`: zlib stops
 * at the cap, so a gzip bomb costs at most that much memory.
 */
export function gunzipCapped(buf: Uint8Array, maxBytes: number): Buffer {
  try {
    return gunzipSync(buf, { maxOutputLength: maxBytes, chunkSize: outputChunkSize(buf, maxBytes) });
  } catch (err) {
    throw gzipError(err, maxBytes);
  }
}

/**
 * The output chunk for inflating `buf` whole. One chunk that fits saves zlib from concatenating
 * many 16 KiB pieces, and a tight one saves allocating (and collecting) more than needed. The
 * gzip trailer's ISIZE says the size, but input sizes are never trusted: it is only a hint,
 * bounded here, and zlib's maxOutputLength still enforces the real limit.
 */
function outputChunkSize(buf: Uint8Array, maxBytes: number): number {
  const n = buf.length;
  const isize = n >= 18 ? (buf[n - 4]! | (buf[n - 3]! << 8) | (buf[n - 2]! << 16) | (buf[n - 1]! << 24)) >>> 0 : 0;
  const plausible = isize > 0 && isize <= n * 1032; // deflate cannot expand more than ~1032:1
  return Math.max(64 * 1024, Math.min(maxBytes, 4 << 20, plausible ? isize + 64 : 1 << 20));
}

/** Inflates a stream of gzip bytes chunk by chunk, failing once more than `maxBytes` come out. */
export async function* gunzipStream(chunks: AsyncIterable<Uint8Array>, maxBytes: number): AsyncGenerator<Buffer> {
  const gunzip = createGunzip({ chunkSize: 256 * 1024 });
  let total = 0;
  const feeding = (async () => {
    try {
      for await (const chunk of chunks) {
        if (gunzip.destroyed) return;
        if (!gunzip.write(chunk)) await drainOrClose(gunzip);
      }
      gunzip.end();
    } catch (err) {
      gunzip.destroy(err as Error);
    }
  })();
  try {
    for await (const out of gunzip as AsyncIterable<Buffer>) {
      total += out.length;
      if (total > maxBytes) throw new DecodeError(`inflates to more than ${maxBytes} bytes (gzip bomb?); stopped`);
      yield out;
    }
  } catch (err) {
    if (err instanceof DecodeError) throw err;
    throw gzipError(err, maxBytes);
  } finally {
    gunzip.destroy();
    await feeding;
  }
}

/** Waits for room in the inflater, or for it to be destroyed (the reader gave up). */
function drainOrClose(stream: NodeJS.WritableStream & { once(e: string, f: () => void): unknown; off(e: string, f: () => void): unknown }): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.once('drain', done);
    stream.once('close', done);
  });
}

function gzipError(err: unknown, maxBytes: number): DecodeError {
  const e = err as NodeJS.ErrnoException;
  if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) {
    return new DecodeError(`inflates to more than ${maxBytes} bytes (gzip bomb?); refused`);
  }
  if (e.code === 'Z_BUF_ERROR' || e.errno === constants.Z_BUF_ERROR) return new DecodeError('truncated gzip data');
  return new DecodeError(`bad gzip data: ${e.message}`);
}
