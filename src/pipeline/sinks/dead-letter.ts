/**
 * Payloads and lines that could not be decoded, kept as JSON lines (location, reason, text, and
 * the whole payload in base64) in a file. A Kinesis record exists nowhere else once the stream's
 * retention passes it, so a reject must be on disk before the checkpoint moves past it: `flush`
 * writes and fsyncs, and the consumer checkpoints only after every sink's flush.
 */
import { mkdir, open, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Reject } from '../../flowlog/sink.js';
import type { Sink } from '../sink.js';

export class DeadLetterSink implements Sink {
  readonly name = 'dead-letter';
  /** Rejects kept so far (written or still buffered). */
  kept = 0;
  private pending: string[] = [];
  private file: FileHandle | undefined;
  private writing: Promise<void> = Promise.resolve();

  /** The file is created when the first reject arrives: a clean stream leaves nothing behind. */
  constructor(readonly path: string) {}

  write(): void {}

  reject(r: Reject): void {
    this.pending.push(`${JSON.stringify(r)}\n`);
    this.kept++;
  }

  /** Durable: appended and fsynced, or the error propagates and the checkpoint does not move. */
  flush(): Promise<void> {
    const lines = this.pending;
    this.pending = [];
    // Chained: flushes land in order even when one starts while another is still writing.
    const done = this.writing.then(() => this.append(lines));
    this.writing = done.catch(() => {});
    return done;
  }

  private async append(lines: string[]): Promise<void> {
    if (lines.length === 0) return;
    try {
      if (!this.file) {
        await mkdir(dirname(this.path), { recursive: true });
        this.file = await open(this.path, 'a');
      }
      await this.file.appendFile(lines.join(''));
      await this.file.datasync();
    } catch (err) {
      // Kept for the next flush (a full disk may clear); the checkpoint waits meanwhile.
      this.pending = lines.concat(this.pending);
      throw err;
    }
  }

  async close(): Promise<void> {
    await this.flush();
    await this.file?.close();
    this.file = undefined;
  }
}
