/**
 * One worker's side of the lease protocol: renews what it holds, takes what it should hold, and
 * notices what it lost. Expiry is judged as KCL judges it, without clocks in the table: a lease
 * whose leaseCounter has not changed for longer than the failover time, measured on this
 * machine's monotonic clock since this worker first saw that counter value, is expired.
 *
 * All writes to one lease from this worker (renew, checkpoint, evict) run one at a time, so they
 * never fail each other's counter condition.
 */
import { performance } from 'node:perf_hooks';
import { chooseLeasesToTake, type BalanceOptions } from './lease-balance.js';
import { holdIdOf, type Lease } from './lease.js';
import type { LeaseTable } from './lease-table.js';

export interface LeaseCoordinatorOptions extends BalanceOptions {
  readonly table: LeaseTable;
  readonly workerId: string;
  /** A lease not renewed for this long is expired (KCL's failoverTimeMillis). Default 10 s. */
  readonly failoverMs?: number;
  /** Default failover/3 - 25 ms, as KCL: three chances to renew before anyone may take it. */
  readonly renewIntervalMs?: number;
  /** How often to scan the table and take leases. Default 2 × (failover + 25 ms), as KCL. */
  readonly takeIntervalMs?: number;
  /** Monotonic milliseconds; injectable for tests. */
  readonly now?: () => number;
  readonly onEvent?: (e: LeaseEvent) => void;
}

export type LeaseEvent =
  | { readonly type: 'taken'; readonly leaseKey: string; readonly from?: string; readonly stolen: boolean }
  | { readonly type: 'lost'; readonly leaseKey: string; readonly reason: string }
  | { readonly type: 'released'; readonly leaseKey: string }
  | { readonly type: 'error'; readonly op: string; readonly error: unknown };

/** Told when a lease is gained or lost; the worker starts and stops shard processing on these. */
export interface LeaseListener {
  /** `stolen`: taken from a live worker, which may still be finishing a batch of that shard. */
  leaseGained(lease: Lease, stolen: boolean): void;
  leaseLost(leaseKey: string): void;
}

interface Held {
  lease: Lease;
  /** holdIdOf the lease as taken: written with every checkpoint of this tenure. */
  readonly hold: string;
  /** Monotonic time of the last successful write (renewal, take or checkpoint). */
  renewedAt: number;
}

export class LeaseCoordinator {
  readonly workerId: string;
  readonly failoverMs: number;
  private readonly table: LeaseTable;
  private readonly renewIntervalMs: number;
  private readonly takeIntervalMs: number;
  private readonly now: () => number;
  private readonly emit: (e: LeaseEvent) => void;
  private readonly held = new Map<string, Held>();
  /** Last counter seen for every lease, and when (monotonic) it was first seen with it. */
  private readonly seen = new Map<string, { counter: number; at: number }>();
  private readonly chains = new Map<string, Promise<unknown>>();
  /**
   * Per lease and tenure (key: writtenKey): the highest checkpoint the table accepted from this
   * worker under that tenure, and a later write whose outcome is unknown (an error, or a refusal:
   * the SDK may have retried an attempt that landed). Sinks use it, once the lease is lost, to
   * tell what the tenure committed.
   */
  private readonly written = new Map<string, Written>();
  private listener: LeaseListener = { leaseGained: () => {}, leaseLost: () => {} };
  private timers: ReturnType<typeof setTimeout>[] = [];
  private running = false;
  /** Set by stop(): a take already under way must not take more. */
  private stopped = false;
  private takeInFlight: Promise<void> | undefined;

  constructor(private readonly opts: LeaseCoordinatorOptions) {
    this.table = opts.table;
    this.workerId = opts.workerId;
    this.failoverMs = opts.failoverMs ?? 10_000;
    this.renewIntervalMs = opts.renewIntervalMs ?? Math.max(10, Math.floor(this.failoverMs / 3) - 25);
    this.takeIntervalMs = opts.takeIntervalMs ?? 2 * (this.failoverMs + 25);
    this.now = opts.now ?? (() => performance.now());
    this.emit = opts.onEvent ?? (() => {});
  }

  setListener(listener: LeaseListener): void {
    this.listener = listener;
  }

  /** Starts renewing and taking in the background (first take at once). */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.stopped = false;
    const loop = (fn: () => Promise<unknown>, every: number, first: number) => {
      const tick = async () => {
        if (!this.running) return;
        try {
          await fn();
        } catch (error) {
          this.emit({ type: 'error', op: fn === this.renewAll ? 'renew' : 'take', error });
        }
        if (this.running) this.timers.push(setTimeout(tick, every));
      };
      this.timers.push(setTimeout(tick, first));
    };
    loop(this.renewAll, this.renewIntervalMs, this.renewIntervalMs);
    loop(this.takeLeases, this.takeIntervalMs, 0);
  }

  /** Takes no more leases; renewals go on (see stop). */
  async stopTaking(): Promise<void> {
    this.stopped = true;
    await this.takeInFlight;
  }

  /** Stops the background loops; held leases stay held until released or expired. */
  async stop(): Promise<void> {
    this.running = false;
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
    await this.takeInFlight;
    await Promise.allSettled([...this.chains.values()]);
  }

  heldLeases(): Lease[] {
    return [...this.held.values()].map((h) => h.lease);
  }

  holds(leaseKey: string): boolean {
    return this.held.has(leaseKey);
  }

  /** Renews every held lease once. Public for tests; runs on a timer after start(). */
  readonly renewAll = async (): Promise<void> => {
    await Promise.all(
      [...this.held.keys()].map((key) =>
        this.serial(key, async () => {
          const h = this.held.get(key);
          if (!h) return;
          try {
            const renewed = await this.table.renew(h.lease, this.workerId);
            if (renewed) {
              h.lease = renewed;
              h.renewedAt = this.now();
            } else {
              this.lose(key, 'renewal refused: another worker took it');
            }
          } catch (error) {
            this.emit({ type: 'error', op: 'renew', error });
            // Unable to renew for a whole failover time: others may rightly have taken it.
            if (this.now() - h.renewedAt > this.failoverMs) this.lose(key, 'could not renew within the failover time');
          }
        }),
      ),
    );
  };

  /** Scans the table and takes leases to reach this worker's fair share. Public for tests. */
  readonly takeLeases = async (): Promise<void> => {
    if (this.takeInFlight) return this.takeInFlight;
    this.takeInFlight = this.takeOnce().finally(() => (this.takeInFlight = undefined));
    return this.takeInFlight;
  };

  private async takeOnce(): Promise<void> {
    const leases = await this.table.listLeases();
    const now = this.now();
    const expired = new Set<string>();
    const keys = new Set<string>();
    for (const l of leases) {
      keys.add(l.leaseKey);
      const s = this.seen.get(l.leaseKey);
      if (!s || s.counter !== l.leaseCounter) this.seen.set(l.leaseKey, { counter: l.leaseCounter, at: now });
      else if (now - s.at > this.failoverMs) expired.add(l.leaseKey);
      // Mine in the table but not held here (a restart with the same id): take it back now.
      if (l.leaseOwner === this.workerId && !this.held.has(l.leaseKey)) expired.add(l.leaseKey);
      // Held here but owned by another in the table: it was stolen; stop before renewal notices.
      if (this.held.has(l.leaseKey) && l.leaseOwner !== this.workerId) this.lose(l.leaseKey, `now owned by ${l.leaseOwner ?? 'nobody'}`);
    }
    for (const k of this.seen.keys()) if (!keys.has(k)) this.seen.delete(k);
    for (const k of [...this.held.keys()]) if (!keys.has(k)) this.lose(k, 'lease deleted');
    if (this.stopped) return;

    const decision = chooseLeasesToTake({ me: this.workerId, leases, expired, shuffle }, this.opts);
    for (const lease of decision.toTake) {
      if (this.held.has(lease.leaseKey)) continue;
      const taken = await this.serial(lease.leaseKey, () => this.table.take(lease, this.workerId));
      if (!taken) continue; // another worker was faster; fine
      this.held.set(lease.leaseKey, { lease: taken, hold: holdIdOf(taken), renewedAt: this.now() });
      this.seen.set(lease.leaseKey, { counter: taken.leaseCounter, at: this.now() });
      this.emit({ type: 'taken', leaseKey: lease.leaseKey, ...(lease.leaseOwner ? { from: lease.leaseOwner } : {}), stolen: decision.stealing });
      this.listener.leaseGained(taken, decision.stealing);
    }
  }

  /**
   * Writes a checkpoint on a held lease. False when the lease is no longer ours: the caller must
   * stop processing that shard (another worker has it and will resume from its checkpoint).
   * With `hold`, also false (and nothing written) when the lease is held here under another
   * tenure: this worker lost it and took it back, and the caller's records belong to the old one.
   */
  async checkpoint(leaseKey: string, checkpoint: string, subSequenceNumber = 0, hold?: string): Promise<boolean> {
    return this.serial(leaseKey, async () => {
      const h = this.held.get(leaseKey);
      if (!h || (hold !== undefined && h.hold !== hold)) return false;
      let updated: Lease | undefined;
      const condition = h.lease.leaseCounter;
      try {
        updated = await this.table.checkpoint(h.lease, this.workerId, checkpoint, subSequenceNumber, h.hold);
      } catch (error) {
        this.noteWritten(leaseKey, h.hold, checkpoint, condition, false); // it may have landed
        throw error;
      }
      // A refusal is uncertain too: the SDK may have retried an attempt that landed, and been
      // refused because that attempt moved the counter.
      this.noteWritten(leaseKey, h.hold, checkpoint, condition, updated !== undefined);
      if (!updated) {
        this.lose(leaseKey, 'checkpoint refused: another worker took it');
        return false;
      }
      h.lease = updated;
      h.renewedAt = this.now();
      return true;
    });
  }

  /**
   * After the lease was lost, what tenure `hold` checkpointed, once every write to the lease
   * queued before the call has settled: `checkpointed`, the highest checkpoint known to have
   * landed, and `mayHave`, the highest that may have (null: none). A tenure that lost its lease
   * writes no more checkpoints (a later tenure of this worker writes only its own), so the
   * answer cannot change afterwards. Asked once per tenure: the record is then forgotten.
   *
   * A write with an unknown outcome is settled by the table when it can be: once the lease's
   * counter has moved past the one the write was conditioned on (or another worker owns it), the
   * write can no longer land; if the checkpoint there is this tenure's, it is the last one that
   * landed, and otherwise none did that still matters. If the table could still take the write,
   * or the read fails within the failover time, it stays possible.
   */
  async checkpointWrittenBy(leaseKey: string, hold: string): Promise<{ checkpointed: string | null; mayHave: string | null }> {
    return this.serial(leaseKey, async () => {
      const key = writtenKey(leaseKey, hold);
      const w = this.written.get(key);
      this.written.delete(key); // asked once, when the tenure has ended
      const landed = w?.landed ?? null;
      if (w?.unknown === undefined) return { checkpointed: landed, mayHave: landed };
      const lease = await this.table.getLease(leaseKey, AbortSignal.timeout(this.failoverMs)).catch(() => undefined);
      const settled = lease !== undefined && (lease.leaseCounter > w.unknown.condition || lease.leaseOwner !== this.workerId);
      if (settled && lease.checkpointHold === hold) return { checkpointed: lease.checkpoint, mayHave: lease.checkpoint };
      // Written before this tenure (or never): none of the unknown writes landed. Written by a
      // later tenure: had one landed, that tenure's recovery (before its first checkpoint) would
      // have committed the ranges it covers and forgotten their manifests, so any still listed
      // are not committed.
      if (settled) return { checkpointed: landed, mayHave: landed };
      return { checkpointed: landed, mayHave: w.unknown.checkpoint };
    });
  }

  /**
   * An accepted write supersedes an unknown one before it: had that one landed, the counter
   * would have moved and this write been refused.
   */
  private noteWritten(leaseKey: string, hold: string, checkpoint: string, condition: number, accepted: boolean): void {
    const key = writtenKey(leaseKey, hold);
    const w = this.written.get(key) ?? {};
    this.written.set(key, accepted ? { landed: checkpoint } : { ...w, unknown: { checkpoint, condition } });
  }

  /**
   * Gives up one held lease so another worker can take it at once. With `hold`, only if it is
   * still held here under that tenure.
   */
  async release(leaseKey: string, hold?: string): Promise<void> {
    await this.serial(leaseKey, async () => {
      const h = this.held.get(leaseKey);
      if (!h || (hold !== undefined && h.hold !== hold)) return;
      this.held.delete(leaseKey);
      await this.table.evict(h.lease, this.workerId);
      // Only now: had the eviction failed, the tenure's checkpoints might still be asked for.
      this.written.delete(writtenKey(leaseKey, h.hold));
      this.emit({ type: 'released', leaseKey });
    });
  }

  /** Graceful shutdown: stop the loops, then evict every held lease. */
  async releaseAll(): Promise<void> {
    await this.stop();
    await Promise.all([...this.held.keys()].map((k) => this.release(k)));
  }

  /** Forgets a lease that is finished (its shard ended and is checkpointed) without evicting it. */
  forget(leaseKey: string): void {
    this.held.delete(leaseKey);
  }

  private lose(leaseKey: string, reason: string): void {
    if (!this.held.delete(leaseKey)) return;
    this.emit({ type: 'lost', leaseKey, reason });
    this.listener.leaseLost(leaseKey);
  }

  private serial<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const prev = this.chains.get(key) ?? Promise.resolve();
    const next = prev.then(fn, fn);
    const tail = next.catch(() => {});
    this.chains.set(key, tail);
    void tail.then(() => {
      if (this.chains.get(key) === tail) this.chains.delete(key);
    });
    return next;
  }
}

/** What a tenure checkpointed: the last accepted write, and a later one of unknown outcome (with the counter it required). */
interface Written {
  readonly landed?: string;
  readonly unknown?: { readonly checkpoint: string; readonly condition: number };
}

function writtenKey(leaseKey: string, hold: string): string {
  return `${leaseKey}\n${hold}`;
}

function shuffle<T>(list: T[]): T[] {
  for (let i = list.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [list[i], list[j]] = [list[j]!, list[i]!];
  }
  return list;
}
