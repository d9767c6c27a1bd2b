/**
 * The `--rejects FILE` of `cat` and `archive`: JSON lines of what could not be decoded. Opened
 * before any input is read, so a path that cannot be written is a clear error up front rather
 * than a crash mid-run; a later write error (a full disk) stops the command with that error, since
 * what it was asked to keep can no longer be kept.
 */
import { createWriteStream, fdatasync, openSync, type WriteStream } from 'node:fs';
import type { Reject } from '../flowlog/sink.js';
import { CliError } from './errors.js';
import { drainOrError } from './output.js';

export class RejectsFile {
  private readonly out: WriteStream;
  private failure: Error | undefined;
  private readonly fd: number;
  private ended = false;

  constructor(
    readonly path: string,
    flags: 'w' | 'a',
  ) {
    let fd: number;
    try {
      // Owner only: rejects carry whole payloads, which may be anyone's traffic records.
      fd = openSync(path, flags, 0o600);
    } catch (err) {
      throw new CliError(`cannot write --rejects ${path}: ${(err as Error).message}`);
    }
    this.fd = fd;
    this.out = createWriteStream(path, { fd });
    this.out.on('error', (err) => (this.failure ??= err));
  }

  write(r: Reject): void {
    this.check();
    this.out.write(`${JSON.stringify(r)}\n`);
  }

  /** Waits while the file is behind, so a flood of bad input cannot pile up in memory. */
  async drained(): Promise<void> {
    this.check();
    if (!this.out.writableNeedDrain) return;
    await drainOrError(this.out);
    this.check();
  }

  /** Everything written so far is on disk (or the write error is thrown). */
  async sync(): Promise<void> {
    this.check();
    await new Promise<void>((resolve) => this.out.write('', () => resolve()));
    this.check();
    await new Promise<void>((resolve) =>
      fdatasync(this.fd, (err) => {
        // A pipe or terminal cannot be synced (EINVAL): what it was handed is all there is.
        if (err && err.code !== 'EINVAL' && err.code !== 'ENOTSUP') this.failure ??= err;
        resolve();
      }),
    );
    this.check();
  }

  /** Idempotent: a second call only reports the first one's failure again. */
  async end(): Promise<void> {
    if (!this.failure && !this.ended) {
      this.ended = true;
      await new Promise<void>((resolve) =>
        this.out.end((err?: Error | null) => {
          if (err) this.failure ??= this.out.errored ?? err;
          resolve();
        }),
      );
    }
    this.out.destroy();
    this.check();
  }

  private check(): void {
    this.failure ??= this.out.errored ?? undefined;
    if (this.failure) throw new CliError(`cannot write --rejects ${this.path}: ${this.failure.message}`, 1);
  }
}
