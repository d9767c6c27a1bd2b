/**
 * Keeps the lease table in step with the stream's shards: a lease for every shard, created with
 * the right starting point, and finished leases removed once their shard has aged out.
 *
 * Starting points: on the first sync of an empty table, every shard gets the configured
 * position (for `latest`, shards that are already closed get SHARD_END: they hold nothing new).
 * Later, a shard whose parent has a lease starts at TRIM_HORIZON (it holds only what was written
 * after the parent closed, and must not skip any of it); any other new shard gets the configured
 * position. Two workers syncing an empty table at the same moment may disagree for `latest`; the
 * difference is reading more, never less.
 */
import { ListShardsCommand, type KinesisClient, type Shard } from '@aws-sdk/client-kinesis';
import { initialCheckpoint, SHARD_END, TRIM_HORIZON, type InitialPosition, type Lease } from './lease.js';
import type { LeaseTable } from './lease-table.js';

export async function listAllShards(client: Pick<KinesisClient, 'send'>, streamName: string, signal?: AbortSignal): Promise<Shard[]> {
  const all: Shard[] = [];
  let token: string | undefined;
  do {
    const page = await client.send(
      // ListShards rejects StreamName together with NextToken.
      new ListShardsCommand(token !== undefined ? { NextToken: token } : { StreamName: streamName }),
      { abortSignal: signal },
    );
    all.push(...(page.Shards ?? []));
    token = page.NextToken;
  } while (token !== undefined);
  return all;
}

export function parentsOf(shard: Shard): string[] {
  return [shard.ParentShardId, shard.AdjacentParentShardId].filter((p): p is string => !!p);
}

export function newLease(leaseKey: string, fields: Partial<Lease>): Lease {
  return {
    leaseKey,
    leaseCounter: 0,
    checkpoint: TRIM_HORIZON,
    checkpointSubSequenceNumber: 0,
    ownerSwitchesSinceCheckpoint: 0,
    parentShardIds: [],
    childShardIds: [],
    ...fields,
  };
}

export interface SyncResult {
  readonly created: string[];
  readonly deleted: string[];
}

export async function syncShards(
  client: Pick<KinesisClient, 'send'>,
  table: LeaseTable,
  streamName: string,
  from: InitialPosition,
  signal?: AbortSignal,
): Promise<SyncResult> {
  const shards = await listAllShards(client, streamName, signal);
  const leases = await table.listLeases(signal);
  const known = new Set(leases.map((l) => l.leaseKey));
  const firstSync = leases.length === 0;
  const initial = initialCheckpoint(from);
  const created: string[] = [];
  for (const s of shards) {
    const id = s.ShardId;
    if (!id || known.has(id)) continue;
    const parents = parentsOf(s);
    const closed = s.SequenceNumberRange?.EndingSequenceNumber !== undefined;
    let start: Pick<Lease, 'checkpoint' | 'checkpointTimestampMs'>;
    if (!firstSync && parents.some((p) => known.has(p))) start = { checkpoint: TRIM_HORIZON };
    else if (from === 'latest' && closed) start = { checkpoint: SHARD_END };
    else start = initial;
    const lease = newLease(id, {
      ...start,
      parentShardIds: parents,
      ...(s.HashKeyRange?.StartingHashKey ? { startingHashKey: s.HashKeyRange.StartingHashKey } : {}),
      ...(s.HashKeyRange?.EndingHashKey ? { endingHashKey: s.HashKeyRange.EndingHashKey } : {}),
    });
    if (await table.createIfAbsent(lease)) created.push(id);
  }
  // A finished lease whose shard is past retention is no longer anyone's parent worth waiting on.
  const listed = new Set(shards.map((s) => s.ShardId));
  const deleted: string[] = [];
  for (const l of leases) {
    if (l.checkpoint === SHARD_END && !listed.has(l.leaseKey) && shards.length > 0) {
      await table.deleteLease(l.leaseKey);
      deleted.push(l.leaseKey);
    }
  }
  return { created, deleted };
}
