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

/** Characters appended per write. */
const CHUNK_CHARS = 8 * 1024 * 1024;

export class DeadLetterSink implements Sink {
  readonly name = 'dead-letter';
  private pending: string[] = [];
  private file: FileHandle | undefined;
  /** Appended but not yet synced (a datasync failed): the next flush syncs, not appends again. */
  private unsynced = false;
  private writing: Promise<void> = Promise.resolve();

  /** The file is created when the first reject arrives: a clean stream leaves nothing behind. */
  constructor(readonly path: string) {}

  write(): void {}

  reject(r: Reject): void {
    this.pending.push(`${JSON.stringify(r)}\n`);
  }

  /** Durable: appended and fsynced, or the error propagates and the checkpoint does not move. */
  flush(): Promise<void> {
    // Chained, and each link writes whatever is pending when it runs: every reject taken before
    // this call is then on disk when it resolves, also those an earlier, failed flush left
    // pending (a flush running beside a failing one must not report them durable).
    const done = this.writing.then(() => this.writePending());
    this.writing = done.catch(() => {});
    return done;
  }

  private async writePending(): Promise<void> {
    if (this.pending.length > 0) {
      if (!this.file) {
        // Owner only: rejects carry whole payloads, which may be anyone's traffic records.
        await mkdir(dirname(this.path), { recursive: true, mode: 0o700 });
        this.file = await open(this.path, 'a', 0o600);
      }
      // Taken before the write: rejects keep arriving while it runs (the pipeline decodes on).
      const lines = this.pending;
      this.pending = [];
      let written = 0;
      try {
        // In chunks: joined whole, a flush of many rejects can pass V8's longest string.
        while (written < lines.length) {
          let end = written;
          let chars = 0;
          while (end < lines.length && (end === written || chars + lines[end]!.length <= CHUNK_CHARS)) chars += lines[end++]!.length;
          await this.file.appendFile(lines.slice(written, end).join(''));
          this.unsynced = true;
          written = end;
        }
      } catch (err) {
        // What was not appended is pending again, in order, for the next flush (a full disk may clear).
        this.pending = lines.slice(written).concat(this.pending);
        throw err;
      }
    }
    if (this.unsynced) {
      await this.file!.datasync();
      this.unsynced = false;
    }
  }

  async close(): Promise<void> {
    await this.flush();
    await this.file?.close();
    this.file = undefined;
  }
}
