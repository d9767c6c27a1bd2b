import { open, readFile, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { CliError } from './errors.js';
import { removeOnSignal } from './remove-on-signal.js';

/**
 * An exclusive claim on a state file for one run, held as `<state>.lock` beside it. Two runs that
 * restored the same state would both save it, and the second save would silently undo the first's
 * rows (they would then be scored again, by a detector that never saw them). The lock file says
 * who holds it, so a lock left by a run that was killed can be told from a live one on this host.
 */
export class StateLock {
  private released = false;
  /** Ctrl-C or a kill must not leave the next run locked out. */
  private readonly detach: () => void;

  private constructor(readonly path: string) {
    this.detach = removeOnSignal(path);
  }

  /**
   * Takes the lock, or throws a CliError naming who holds it. A lock written on this host by a
   * process that no longer exists is taken over (the note says so on standard error).
   */
  static async acquire(statePath: string): Promise<StateLock> {
    const path = `${statePath}.lock`;
    const claim = `${process.pid} ${hostname()} ${new Date().toISOString()}\n`;
    for (let attempt = 0; ; attempt += 1) {
      try {
        const handle = await open(path, 'wx', 0o600);
        try {
          await handle.writeFile(claim);
        } finally {
          await handle.close();
        }
        return new StateLock(path);
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== 'EEXIST') throw new CliError(`cannot lock ${statePath} (${path}): ${code ?? (e as Error).message}`);
      }
      const held = await readFile(path, 'utf8').catch(() => undefined);
      // Gone between our attempt and the read: the holder has just finished; try again.
      if (held === undefined && attempt < 3) continue;
      const holder = parseClaim(held ?? '');
      if (holder !== undefined && holder.host === hostname() && !processExists(holder.pid) && attempt < 3) {
        // Removed only if it still holds the same claim, so a lock another run has just taken over is left.
        if ((await readFile(path, 'utf8').catch(() => undefined)) === held) {
          await unlink(path).catch(() => {});
          process.stderr.write(`flowcut: ${path} was left by process ${holder.pid}, which has ended; taking it over\n`);
        }
        continue;
      }
      const who = holder === undefined ? 'a run whose lock cannot be read' : `process ${holder.pid} on ${holder.host}, since ${holder.since}`;
      throw new CliError(
        `score-series: ${statePath} is in use by another run (${who}); --state allows one run at a time. If no run is going on, delete ${path}`,
      );
    }
  }

  async release(): Promise<void> {
    if (this.released) return;
    this.released = true;
    this.detach();
    await unlink(this.path).catch(() => {});
  }
}

function parseClaim(text: string): { pid: number; host: string; since: string } | undefined {
  const [pid, host, since] = text.trim().split(' ');
  const n = Number(pid);
  if (!Number.isSafeInteger(n) || n <= 0 || host === undefined || host === '' || since === undefined) return undefined;
  return { pid: n, host, since };
}

function processExists(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: it exists, under another user.
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}
