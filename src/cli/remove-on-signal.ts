import { rmSync } from 'node:fs';

/**
 * Until the returned function is called, Ctrl-C (SIGINT) or a kill (SIGTERM) removes `path` before
 * the process ends by that signal as it would have: a half-written file or a held lock must not
 * outlive the run that made it.
 */
export function removeOnSignal(path: string): () => void {
  const onSignal = (signal: NodeJS.Signals): void => {
    detach();
    rmSync(path, { force: true });
    process.kill(process.pid, signal);
  };
  const detach = (): void => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  return detach;
}
