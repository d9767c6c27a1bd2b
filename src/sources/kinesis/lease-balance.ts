/**
 * Which leases a worker should take, as KCL 2's taker decides it: aim for ceil(leases/workers),
 * take unowned and expired leases first, and only when there are none steal from the busiest
 * worker, a few at a time, so that workers converge without fighting. Pure: no I/O, no clock.
 */
import { SHARD_END, type Lease } from './lease.js';

export interface BalanceOptions {
  /** Never hold more than this (KCL's maxLeasesForWorker). */
  readonly maxLeasesForWorker?: number;
  /** Steal at most this many per round (KCL's maxLeasesToStealAtOneTime, default 1). */
  readonly maxLeasesToStealAtOneTime?: number;
}

export interface BalanceInput {
  readonly me: string;
  readonly leases: readonly Lease[];
  /** Keys of leases whose owner has not renewed them within the failover time. */
  readonly expired: ReadonlySet<string>;
  /** Shuffles candidates so that workers starting together don't all race for the same lease. */
  readonly shuffle?: <T>(list: T[]) => T[];
}

export interface BalanceDecision {
  readonly target: number;
  readonly toTake: Lease[];
  /** True when `toTake` are stolen from a live worker rather than free ones. */
  readonly stealing: boolean;
}

export function chooseLeasesToTake(input: BalanceInput, opts: BalanceOptions = {}): BalanceDecision {
  const { me, expired } = input;
  // Finished shards (checkpoint SHARD_END) stay in the table so children know their parents are
  // done and shard sync doesn't recreate them, but nobody needs to hold them.
  const leases = input.leases.filter((l) => l.checkpoint !== SHARD_END);
  const shuffle = input.shuffle ?? ((l) => l);
  const maxForWorker = opts.maxLeasesForWorker ?? Infinity;
  const maxSteal = opts.maxLeasesToStealAtOneTime ?? 1;

  // Live workers: owners of unexpired leases, plus me (I may hold nothing yet).
  const counts = new Map<string, number>([[me, 0]]);
  const free: Lease[] = [];
  for (const l of leases) {
    if (l.leaseOwner === undefined || expired.has(l.leaseKey)) {
      free.push(l);
      continue;
    }
    counts.set(l.leaseOwner, (counts.get(l.leaseOwner) ?? 0) + 1);
  }
  // Leases of an expired owner that I hold myself are not free: I'll renew them.
  const freeToTake = free.filter((l) => !(l.leaseOwner === me && !expired.has(l.leaseKey)));
  const workers = counts.size;
  let target = Math.ceil(leases.length / workers);
  if (target > maxForWorker) target = maxForWorker;
  const mine = counts.get(me) ?? 0;
  const needed = target - mine;
  if (needed <= 0) return { target, toTake: [], stealing: false };

  if (freeToTake.length > 0) return { target, toTake: shuffle(freeToTake.slice()).slice(0, needed), stealing: false };

  // Nothing free: steal from the busiest other worker if it holds at least the target.
  let busiest: string | undefined;
  let busiestCount = -1;
  for (const [w, c] of counts) {
    if (w === me) continue;
    if (c > busiestCount || (c === busiestCount && busiest !== undefined && w < busiest)) {
      busiest = w;
      busiestCount = c;
    }
  }
  if (busiest === undefined || busiestCount < target) return { target, toTake: [], stealing: false };
  let n = Math.min(needed, busiestCount - target);
  // It is exactly at the target while I am 2+ below: with a remainder the target overshoots for
  // some worker, so take one anyway or we'd stay unbalanced (KCL does the same).
  if (n <= 0 && needed > 1) n = 1;
  n = Math.min(n, maxSteal);
  if (n <= 0) return { target, toTake: [], stealing: false };
  const theirs = leases.filter((l) => l.leaseOwner === busiest);
  return { target, toTake: shuffle(theirs).slice(0, n), stealing: true };
}
