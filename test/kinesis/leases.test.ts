/**
 * The lease protocol against dynalite, with no stream at all: conditional writes, balance,
 * expiry, stealing and graceful release.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { UpdateItemCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { LeaseCoordinator, type LeaseEvent } from '../../src/sources/kinesis/lease-coordinator.js';
import { chooseLeasesToTake } from '../../src/sources/kinesis/lease-balance.js';
import { LeaseTable } from '../../src/sources/kinesis/lease-table.js';
import { holdIdOf, TRIM_HORIZON, type Lease } from '../../src/sources/kinesis/lease.js';
import { localDynamoClient, startDynalite, type LocalDynamo } from '../support/dynalite.js';

function lease(key: string, extra: Partial<Lease> = {}): Lease {
  return { leaseKey: key, leaseCounter: 0, checkpoint: TRIM_HORIZON, checkpointSubSequenceNumber: 0, ownerSwitchesSinceCheckpoint: 0, parentShardIds: [], childShardIds: [], ...extra };
}

describe('chooseLeasesToTake', () => {
  const owned = (owner: string | undefined, n: number, from = 0) =>
    Array.from({ length: n }, (_, i) => lease(`s${from + i}`, owner === undefined ? {} : { leaseOwner: owner }));

  it('takes free leases up to ceil(leases / workers)', () => {
    const leases = [...owned('b', 1), ...owned(undefined, 4, 1)];
    const d = chooseLeasesToTake({ me: 'a', leases, expired: new Set() });
    expect(d.target).toBe(3);
    expect(d.toTake.map((l) => l.leaseKey)).toEqual(['s1', 's2', 's3']);
    expect(d.stealing).toBe(false);
  });

  it('treats expired leases as free and does not count their owner as a worker', () => {
    const leases = owned('dead', 4);
    const d = chooseLeasesToTake({ me: 'a', leases, expired: new Set(['s0', 's1', 's2', 's3']) });
    expect(d.target).toBe(4);
    expect(d.toTake).toHaveLength(4);
  });

  it('steals one at a time from the busiest worker, and stops at balance', () => {
    let leases = [...owned('b', 3), ...owned('c', 1, 3)];
    let d = chooseLeasesToTake({ me: 'a', leases, expired: new Set() });
    expect(d.target).toBe(2);
    expect(d.stealing).toBe(true);
    expect(d.toTake).toHaveLength(1);
    expect(d.toTake[0]!.leaseOwner).toBe('b');
    // 5 leases over 2 workers: 3/2 is balanced, nobody steals.
    leases = [...owned('b', 3), ...owned('a', 2, 3)];
    d = chooseLeasesToTake({ me: 'a', leases, expired: new Set() });
    expect(d.toTake).toHaveLength(0);
    // 4 leases all with b, a has none: steal, even though b - target is 2 one per round.
    d = chooseLeasesToTake({ me: 'a', leases: owned('b', 4), expired: new Set() });
    expect(d.toTake).toHaveLength(1);
  });
});

describe('leases in dynalite', () => {
  let dyn: LocalDynamo;
  let client: DynamoDBClient;
  let n = 0;
  const newTable = async (): Promise<LeaseTable> => {
    const t = new LeaseTable(client, `leases-${++n}`);
    await t.ensureTable();
    return t;
  };

  beforeAll(async () => {
    dyn = await startDynalite();
    client = localDynamoClient(dyn.endpoint);
  });
  afterAll(async () => {
    client?.destroy();
    await dyn?.stop();
  });

  /**
   * Worker W's coordinator holding a new lease `key` of `t`, through a client whose next
   * UpdateItem after `arm()` goes to `next` (given the real send) instead of straight to dynalite.
   */
  async function coordinatorWithFaultyUpdate(t: LeaseTable, key: string, next: (send: (c: unknown) => Promise<unknown>, command: UpdateItemCommand) => Promise<unknown>) {
    const send = (c: unknown) => (client.send as (c: unknown) => Promise<unknown>)(c);
    let armed = false;
    const faulty = {
      send: async (command: unknown) => {
        if (!armed || !(command instanceof UpdateItemCommand)) return send(command);
        armed = false;
        return next(send, command);
      },
    } as unknown as DynamoDBClient;
    await t.createIfAbsent(lease(key));
    const co = new LeaseCoordinator({ table: new LeaseTable(faulty, t.tableName), workerId: 'W', failoverMs: 60_000, takeIntervalMs: 60_000 });
    await co.takeLeases();
    return { co, hold: holdIdOf((await t.getLease(key))!), arm: () => void (armed = true) };
  }

  it('stores the KCL schema and refuses stale writes', async () => {
    const t = await newTable();
    await t.ensureTable(); // idempotent
    expect(await t.createIfAbsent(lease('shardId-000000000001', { parentShardIds: ['shardId-000000000000'] }))).toBe(true);
    expect(await t.createIfAbsent(lease('shardId-000000000001'))).toBe(false);
    const l0 = (await t.getLease('shardId-000000000001'))!;
    expect(l0.parentShardIds).toEqual(['shardId-000000000000']);

    const a = (await t.take(l0, 'A'))!;
    expect(a).toMatchObject({ leaseOwner: 'A', leaseCounter: 1, ownerSwitchesSinceCheckpoint: 1 });
    // B read the lease before A took it: its take must fail.
    expect(await t.take(l0, 'B')).toBeUndefined();
    const a2 = (await t.renew(a, 'A'))!;
    expect(a2.leaseCounter).toBe(2);
    expect(await t.renew(a, 'A')).toBeUndefined(); // stale counter
    const a3 = (await t.checkpoint(a2, 'A', '49600000000000000001'))!;
    const stored = (await t.getLease('shardId-000000000001'))!;
    expect(stored).toEqual(a3);
    expect(stored).toMatchObject({ checkpoint: '49600000000000000001', leaseCounter: 3, ownerSwitchesSinceCheckpoint: 0 });
    // B steals; A's next checkpoint is refused.
    const b = (await t.take(stored, 'B'))!;
    expect(b.ownerSwitchesSinceCheckpoint).toBe(1);
    expect(await t.checkpoint(a3, 'A', '49600000000000000002')).toBeUndefined();
    expect(await t.evict(b, 'A')).toBe(false);
    expect(await t.evict(b, 'B')).toBe(true);
    const freed = (await t.getLease('shardId-000000000001'))!;
    expect(freed.leaseOwner).toBeUndefined();
    expect(freed.leaseCounter).toBe(5);
    await t.addChildShardIds('shardId-000000000001', ['shardId-000000000002', 'shardId-000000000003']);
    expect((await t.getLease('shardId-000000000001'))!.childShardIds.slice().sort()).toEqual(['shardId-000000000002', 'shardId-000000000003']);
  });

  it('lets exactly one of many concurrent takers win', async () => {
    const t = await newTable();
    await t.createIfAbsent(lease('s'));
    const l = (await t.getLease('s'))!;
    const wins = (await Promise.all(Array.from({ length: 8 }, (_, i) => t.take(l, `w${i}`)))).filter((x) => x !== undefined);
    expect(wins).toHaveLength(1);
    expect((await t.getLease('s'))!.leaseOwner).toBe(wins[0]!.leaseOwner);
  });

  const FAILOVER = 600;
  const coordinator = (table: LeaseTable, workerId: string, events: LeaseEvent[] = []) =>
    new LeaseCoordinator({ table, workerId, failoverMs: FAILOVER, takeIntervalMs: 150, onEvent: (e) => events.push(e) });

  async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<number> {
    const t0 = Date.now();
    while (!(await cond())) {
      if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
      await sleep(20);
    }
    return Date.now() - t0;
  }

  it('balances 4 leases over 2 workers, fails over when one dies, and hands over at once on release', async () => {
    const t = await newTable();
    for (let i = 0; i < 4; i++) await t.createIfAbsent(lease(`shard-${i}`));
    const ea: LeaseEvent[] = [];
    const a = coordinator(t, 'A', ea);
    const b = coordinator(t, 'B');
    a.start();
    await until(() => a.heldLeases().length === 4, 2000, 'A to take all 4 free leases');
    b.start();
    // B must steal to reach its share, one per round; A must notice and let go.
    await until(() => a.heldLeases().length === 2 && b.heldLeases().length === 2, 5000, '2/2 balance');
    expect(ea.filter((e) => e.type === 'lost')).toHaveLength(2);
    const owners = (await t.listLeases()).map((l) => l.leaseOwner).sort();
    expect(owners).toEqual(['A', 'A', 'B', 'B']);
    // Stays balanced: nobody keeps stealing.
    await sleep(FAILOVER);
    expect([a.heldLeases().length, b.heldLeases().length]).toEqual([2, 2]);

    // A "dies": stops renewing without releasing. B takes A's leases once they expire.
    await a.stop();
    const failoverTook = await until(() => b.heldLeases().length === 4, 5000, 'B to take the expired leases');
    expect(failoverTook).toBeGreaterThanOrEqual(FAILOVER - 200);

    // Graceful: C joins and gets 2; then B releases everything and C takes them at once.
    const c = coordinator(t, 'C');
    c.start();
    await until(() => c.heldLeases().length === 2, 5000, 'C to reach 2');
    await until(() => b.heldLeases().length === 2, 2000, 'B to drop to 2');
    await b.releaseAll();
    const released = await until(() => c.heldLeases().length === 4, 2000, 'C to take released leases');
    expect(released).toBeLessThan(FAILOVER); // no expiry wait
    await c.releaseAll();
    expect((await t.listLeases()).every((l) => l.leaseOwner === undefined)).toBe(true);
  });

  it('serialises checkpoints with renewals so neither fails the other', async () => {
    const t = await newTable();
    await t.createIfAbsent(lease('s'));
    const a = new LeaseCoordinator({ table: t, workerId: 'A', failoverMs: 300, renewIntervalMs: 1, takeIntervalMs: 50 });
    a.start();
    await until(() => a.holds('s'), 2000, 'take');
    for (let i = 1; i <= 30; i++) expect(await a.checkpoint('s', String(1000 + i))).toBe(true);
    await a.releaseAll();
    expect((await t.getLease('s'))!.checkpoint).toBe('1030');
  });

  it('stores with each checkpoint the tenure that wrote it, and tells a lost tenure what it wrote', async () => {
    const t = await newTable();
    await t.createIfAbsent(lease('s'));
    const l = (await t.getLease('s'))!;
    const a = (await t.take(l, 'A'))!;
    const holdA = holdIdOf(a);
    expect(holdA).toBe('A#1');
    const a2 = (await t.checkpoint(a, 'A', '100', 0, holdA))!;
    expect(await t.getLease('s')).toEqual(a2);
    expect(a2.checkpointHold).toBe(holdA);
    // A checkpoint written without a tenure (by a tool that knows none) must not keep the old one.
    const a3 = (await t.checkpoint(a2, 'A', '101'))!;
    expect(a3.checkpointHold).toBeUndefined();
    expect((await t.getLease('s'))!.checkpointHold).toBeUndefined();
    // Another take of the lease is another tenure, even by the same worker.
    const again = (await t.take(a3, 'A'))!;
    expect(holdIdOf(again)).not.toBe(holdA);

    // The coordinator: what a tenure wrote stays known after the lease is lost.
    await t.createIfAbsent(lease('c'));
    const co = new LeaseCoordinator({ table: t, workerId: 'W', failoverMs: 60_000, takeIntervalMs: 60_000 });
    await co.takeLeases();
    expect(co.holds('c')).toBe(true);
    const taken = (await t.getLease('c'))!;
    const hold = holdIdOf(taken);
    expect(await co.checkpointWrittenBy('c', hold)).toEqual({ checkpointed: null, mayHave: null });
    expect(await co.checkpoint('c', '500')).toBe(true);
    expect((await t.getLease('c'))!.checkpointHold).toBe(hold);
    // X steals it: W's next checkpoint is refused and does not count.
    await t.take((await t.getLease('c'))!, 'X');
    expect(await co.checkpoint('c', '600')).toBe(false);
    expect(co.holds('c')).toBe(false);
    expect(await co.checkpointWrittenBy('c', hold)).toEqual({ checkpointed: '500', mayHave: '500' });
    expect(await co.checkpointWrittenBy('c', 'W#999')).toEqual({ checkpointed: null, mayHave: null });
    await co.stop();
  });

  it('counts a checkpoint whose reply was lost as possibly written, and one the table refused as not', async () => {
    const t = await newTable();
    // The write reaches dynalite, then the reply is lost (as a timeout after the request landed).
    const { co, hold, arm } = await coordinatorWithFaultyUpdate(t, 'u', async (send, command) => {
      await send(command);
      throw Object.assign(new Error('injected: reply lost'), { name: 'TimeoutError' });
    });
    expect(await co.checkpoint('u', '700')).toBe(true);
    arm();
    await expect(co.checkpoint('u', '800')).rejects.toThrow('reply lost');
    expect((await t.getLease('u'))!.checkpoint).toBe('800'); // it did land
    // The next write uses the counter W last saw, so the table refuses it: W has lost the lease.
    expect(await co.checkpoint('u', '900')).toBe(false);
    expect(co.holds('u')).toBe(false);
    expect(await co.checkpointWrittenBy('u', hold)).toEqual({ checkpointed: '800', mayHave: '800' });
    await co.stop();
  });

  it('settles a checkpoint whose request failed without landing from the table: it does not count', async () => {
    const t = await newTable();
    const { co, hold, arm } = await coordinatorWithFaultyUpdate(t, 'v', async () => {
      throw Object.assign(new Error('injected: connection reset'), { name: 'TimeoutError' });
    });
    expect(await co.checkpoint('v', '700')).toBe(true);
    arm();
    await expect(co.checkpoint('v', '800')).rejects.toThrow('connection reset');
    expect((await t.getLease('v'))!.checkpoint).toBe('700'); // it never landed
    await t.take((await t.getLease('v'))!, 'X'); // the lease is lost before W writes again
    expect(await co.checkpoint('v', '900')).toBe(false);
    // The table still holds this tenure's 700: that, not the unknown 800, is what it committed.
    expect(await co.checkpointWrittenBy('v', hold)).toEqual({ checkpointed: '700', mayHave: '700' });
    await co.stop();
  });

  it('counts a checkpoint that landed but whose retry was refused (the SDK retried a lost reply)', async () => {
    const t = await newTable();
    const { co, hold, arm } = await coordinatorWithFaultyUpdate(t, 'r', async (send, command) => {
      await send(command); // lands; its reply is lost
      return send(new UpdateItemCommand(command.input)); // the retry: refused, the counter has moved
    });
    expect(await co.checkpoint('r', '700')).toBe(true);
    arm();
    expect(await co.checkpoint('r', '800')).toBe(false); // seen as refused: W lets the lease go
    expect((await t.getLease('r'))!.checkpoint).toBe('800');
    expect(await co.checkpointWrittenBy('r', hold)).toEqual({ checkpointed: '800', mayHave: '800' });
    await co.stop();
  });

  it('treats a refused checkpoint as not landed once a later tenure has checkpointed over it', async () => {
    const t = await newTable();
    await t.createIfAbsent(lease('p'));
    const co = new LeaseCoordinator({ table: t, workerId: 'W', failoverMs: 60_000, takeIntervalMs: 60_000 });
    await co.takeLeases();
    const hold = holdIdOf((await t.getLease('p'))!);
    expect(await co.checkpoint('p', '700')).toBe(true);
    const x = (await t.take((await t.getLease('p'))!, 'X'))!;
    await t.checkpoint(x, 'X', '900', 0, holdIdOf(x));
    expect(await co.checkpoint('p', '800')).toBe(false);
    // 700 landed for sure. Had 800 landed, X's recovery would have committed what it covers
    // before X's own checkpoint, so whatever of W is still listed past 700 is not committed.
    expect(await co.checkpointWrittenBy('p', hold)).toEqual({ checkpointed: '700', mayHave: '700' });
    await co.stop();
  });

  it('keeps what a tenure wrote when giving its lease up fails', async () => {
    const t = await newTable();
    const { co, hold, arm } = await coordinatorWithFaultyUpdate(t, 'e', async () => {
      throw Object.assign(new Error('injected: throttled'), { name: 'ThrottlingException' });
    });
    expect(await co.checkpoint('e', 'SHARD_END', 0, hold)).toBe(true);
    arm();
    await expect(co.release('e', hold)).rejects.toThrow('throttled');
    expect(await co.checkpointWrittenBy('e', hold)).toEqual({ checkpointed: 'SHARD_END', mayHave: 'SHARD_END' });
    await co.stop();
  });
});
