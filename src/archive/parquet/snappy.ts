/**
 * Snappy compression (raw block format, as Parquet's SNAPPY codec uses it), in plain TypeScript:
 * Node has no Snappy and the project installs no native modules. The classic greedy algorithm:
 * 64 KiB blocks, a 16 K-entry hash table of 4-byte sequences, literals and copies.
 */

const BLOCK = 1 << 16;
const HASH_BITS = 14;
const INPUT_MARGIN = 15;

/** Reused between blocks: compression is synchronous, so one table per process is enough. */
const table = new Uint16Array(1 << HASH_BITS);

export function snappyCompress(input: Uint8Array): Uint8Array {
  const out = new Uint8Array(32 + input.length + Math.ceil(input.length / 6));
  let op = 0;
  // Preamble: the uncompressed length as a varint.
  let n = input.length;
  while (n >= 0x80) {
    out[op++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[op++] = n;
  for (let start = 0; start < input.length; start += BLOCK) {
    op = compressBlock(input, start, Math.min(input.length, start + BLOCK), out, op);
  }
  return out.subarray(0, op);
}

function load32(a: Uint8Array, i: number): number {
  return a[i]! | (a[i + 1]! << 8) | (a[i + 2]! << 16) | (a[i + 3]! << 24);
}

function hash(v: number): number {
  return Math.imul(v, 0x1e35a7bd) >>> (32 - HASH_BITS);
}

function compressBlock(input: Uint8Array, start: number, end: number, out: Uint8Array, op: number): number {
  if (end - start < INPUT_MARGIN) return emitLiteral(input, start, end, out, op);
  table.fill(0);
  const limit = end - INPUT_MARGIN;
  let nextEmit = start;
  let ip = start + 1;
  while (ip < limit) {
    // Look for a match, skipping faster through incompressible data.
    let skip = 32;
    let candidate = 0;
    let found = false;
    while (ip < limit) {
      const cur = load32(input, ip);
      const h = hash(cur);
      candidate = start + table[h]!;
      table[h] = ip - start;
      if (candidate < ip && load32(input, candidate) === cur) {
        found = true;
        break;
      }
      ip += skip++ >> 5;
    }
    if (!found) break;
    op = emitLiteral(input, nextEmit, ip, out, op);
    // Emit copies as long as the next position matches too.
    for (;;) {
      let len = 4;
      while (ip + len < end && input[candidate + len] === input[ip + len]) len++;
      op = emitCopy(ip - candidate, len, out, op);
      ip += len;
      nextEmit = ip;
      if (ip >= limit) break;
      table[hash(load32(input, ip - 1))] = ip - 1 - start;
      const cur = load32(input, ip);
      const h = hash(cur);
      candidate = start + table[h]!;
      table[h] = ip - start;
      if (!(candidate < ip && load32(input, candidate) === cur)) {
        ip++;
        break;
      }
    }
  }
  if (nextEmit < end) op = emitLiteral(input, nextEmit, end, out, op);
  return op;
}

function emitLiteral(input: Uint8Array, from: number, to: number, out: Uint8Array, op: number): number {
  const n = to - from - 1;
  if (n < 0) return op;
  if (n < 60) out[op++] = n << 2;
  else if (n < 0x100) {
    out[op++] = 60 << 2;
    out[op++] = n;
  } else if (n < 0x10000) {
    out[op++] = 61 << 2;
    out[op++] = n & 0xff;
    out[op++] = n >>> 8;
  } else {
    out[op++] = 62 << 2;
    out[op++] = n & 0xff;
    out[op++] = (n >>> 8) & 0xff;
    out[op++] = n >>> 16;
  }
  out.set(input.subarray(from, to), op);
  return op + (to - from);
}

function emitCopy(offset: number, len: number, out: Uint8Array, op: number): number {
  while (len >= 68) {
    op = copy2(offset, 64, out, op);
    len -= 64;
  }
  if (len > 64) {
    op = copy2(offset, 60, out, op);
    len -= 60;
  }
  if (len < 12 && offset < 2048) {
    out[op++] = ((offset >>> 8) << 5) | ((len - 4) << 2) | 1;
    out[op++] = offset & 0xff;
    return op;
  }
  return copy2(offset, len, out, op);
}

function copy2(offset: number, len: number, out: Uint8Array, op: number): number {
  out[op++] = ((len - 1) << 2) | 2;
  out[op++] = offset & 0xff;
  out[op++] = offset >>> 8;
  return op;
}

