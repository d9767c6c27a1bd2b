/** An async byte stream whose first bytes can be looked at without losing them. */
export class PeekableStream implements AsyncIterable<Buffer> {
  private readonly head: Buffer[] = [];
  private headBytes = 0;
  private readonly it: AsyncIterator<Uint8Array>;
  private done = false;

  constructor(source: AsyncIterable<Uint8Array>) {
    this.it = source[Symbol.asyncIterator]();
  }

  /** Up to `n` first bytes (fewer only at the end of the stream). */
  async peek(n: number): Promise<Buffer> {
    while (this.headBytes < n && !this.done) {
      const r = await this.it.next();
      if (r.done) {
        this.done = true;
        break;
      }
      const b = toBuffer(r.value);
      this.head.push(b);
      this.headBytes += b.length;
    }
    const all = this.head.length === 1 ? this.head[0]! : Buffer.concat(this.head);
    return all.subarray(0, n);
  }

  /** Drops the first `n` bytes, which a peek has already read. */
  skip(n: number): void {
    let left = Math.min(n, this.headBytes);
    while (left > 0) {
      const b = this.head[0]!;
      if (b.length <= left) {
        this.head.shift();
        this.headBytes -= b.length;
        left -= b.length;
      } else {
        this.head[0] = b.subarray(left);
        this.headBytes -= left;
        left = 0;
      }
    }
  }

  async *[Symbol.asyncIterator](): AsyncIterator<Buffer> {
    while (this.head.length > 0) yield this.head.shift()!;
    this.headBytes = 0;
    if (this.done) return;
    for (;;) {
      const r = await this.it.next();
      if (r.done) return;
      yield toBuffer(r.value);
    }
  }
}

export function toBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}

/** Reads a whole stream into one buffer, refusing more than `maxBytes`. */
export async function readAll(chunks: AsyncIterable<Uint8Array>, maxBytes: number, what: string): Promise<Buffer> {
  const parts: Buffer[] = [];
  let total = 0;
  for await (const c of chunks) {
    total += c.length;
    if (total > maxBytes) throw new RangeError(`${what} is larger than ${maxBytes} bytes; refused (raise the limit to read it)`);
    parts.push(toBuffer(c));
  }
  return parts.length === 1 ? parts[0]! : Buffer.concat(parts, total);
}
