/**
 * Pacing shared by every Kinesis reader (the `cat` tail, the leased consumers, replay): which
 * errors mean "slow down", how long to back off, and a sleep that an AbortSignal cuts short.
 */

/** Errors that mean the shard or account limit was hit: retry after a back-off, never fail. */
export const THROTTLE_ERRORS: ReadonlySet<string> = new Set([
  'ProvisionedThroughputExceededException',
  'LimitExceededException',
]);

// Kinesis allows 5 GetRecords per second per shard; stay under it when catching up.
export const MIN_CALL_SPACING_MS = 200;
const MAX_BACKOFF_MS = 10_000;

/** Thrown by abortableSleep when the signal fires: the caller is being stopped, not failing. */
export class Stopped extends Error {
  override readonly name = 'Stopped';
}

export function errorName(err: unknown): string {
  return err instanceof Error ? err.name : '';
}

export function isThrottle(err: unknown): boolean {
  return THROTTLE_ERRORS.has(errorName(err));
}

export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) return reject(new Stopped());
    const onAbort = () => {
      clearTimeout(t);
      reject(new Stopped());
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** Full jitter: uniformly random in [base/2, base], base doubling per attempt up to the cap. */
export function backoffMs(attempt: number, maxMs = MAX_BACKOFF_MS): number {
  const base = Math.min(maxMs, 250 * 2 ** Math.min(attempt, 10));
  return Math.round(base / 2 + Math.random() * (base / 2));
}
