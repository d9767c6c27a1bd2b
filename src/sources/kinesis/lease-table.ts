/**
 * The lease table in DynamoDB: every read and write of leases, nothing else. Every write that
 * changes who holds a lease or what it says is conditional on the leaseCounter (or owner) the
 * caller read, so two workers can never both believe a write of theirs won; DynamoDB's
 * conditional writes are the only synchronisation between workers. No transactions and no
 * ReturnValuesOnConditionCheckFailure: KCL needs neither, and dynalite supports neither.
 */
import {
  type AttributeValue,
  type CreateTableCommandInput,
  ConditionalCheckFailedException,
  CreateTableCommand,
  DeleteItemCommand,
  DescribeTableCommand,
  type DynamoDBClient,
  GetItemCommand,
  PutItemCommand,
  ResourceInUseException,
  ScanCommand,
  UpdateItemCommand,
} from '@aws-sdk/client-dynamodb';
import type { Lease } from './lease.js';

/**
 * KCL's lease table: `leaseKey` hash key, on-demand billing, and the LeaseOwnerToLeaseKeyIndex
 * KCL 3 queries. The one definition the consumer and `flowcut setup` both create.
 */
export function leaseTableSchema(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    AttributeDefinitions: [
      { AttributeName: 'leaseKey', AttributeType: 'S' },
      { AttributeName: 'leaseOwner', AttributeType: 'S' },
    ],
    KeySchema: [{ AttributeName: 'leaseKey', KeyType: 'HASH' }],
    BillingMode: 'PAY_PER_REQUEST',
    GlobalSecondaryIndexes: [
      {
        IndexName: 'LeaseOwnerToLeaseKeyIndex',
        KeySchema: [
          { AttributeName: 'leaseOwner', KeyType: 'HASH' },
          { AttributeName: 'leaseKey', KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ],
  };
}

type Item = Record<string, AttributeValue>;

export function leaseToItem(l: Lease): Item {
  const item: Item = {
    leaseKey: { S: l.leaseKey },
    leaseCounter: { N: String(l.leaseCounter) },
    checkpoint: { S: l.checkpoint },
    checkpointSubSequenceNumber: { N: String(l.checkpointSubSequenceNumber) },
    ownerSwitchesSinceCheckpoint: { N: String(l.ownerSwitchesSinceCheckpoint) },
  };
  if (l.leaseOwner !== undefined) item.leaseOwner = { S: l.leaseOwner };
  // DynamoDB has no empty sets: an absent attribute is the empty set.
  if (l.parentShardIds.length > 0) item.parentShardId = { SS: [...l.parentShardIds] };
  if (l.childShardIds.length > 0) item.childShardIds = { SS: [...l.childShardIds] };
  if (l.startingHashKey !== undefined) item.startingHashKey = { S: l.startingHashKey };
  if (l.endingHashKey !== undefined) item.endingHashKey = { S: l.endingHashKey };
  if (l.checkpointTimestampMs !== undefined) item.checkpointTimestampMs = { N: String(l.checkpointTimestampMs) };
  if (l.checkpointHold !== undefined) item.checkpointHold = { S: l.checkpointHold };
  return item;
}

export function itemToLease(item: Item): Lease {
  const s = (k: string) => item[k]?.S;
  const n = (k: string) => (item[k]?.N === undefined ? undefined : Number(item[k]!.N));
  const leaseKey = s('leaseKey');
  if (leaseKey === undefined) throw new Error('lease item without leaseKey');
  const owner = s('leaseOwner');
  const start = s('startingHashKey');
  const end = s('endingHashKey');
  const ts = n('checkpointTimestampMs');
  const hold = s('checkpointHold');
  return {
    leaseKey,
    ...(owner !== undefined ? { leaseOwner: owner } : {}),
    leaseCounter: n('leaseCounter') ?? 0,
    // KCL writes TRIM_HORIZON-like sentinels; a lease with none has never been processed.
    checkpoint: s('checkpoint') ?? 'TRIM_HORIZON',
    checkpointSubSequenceNumber: n('checkpointSubSequenceNumber') ?? 0,
    ownerSwitchesSinceCheckpoint: n('ownerSwitchesSinceCheckpoint') ?? 0,
    parentShardIds: item.parentShardId?.SS ?? [],
    childShardIds: item.childShardIds?.SS ?? [],
    ...(start !== undefined ? { startingHashKey: start } : {}),
    ...(end !== undefined ? { endingHashKey: end } : {}),
    ...(ts !== undefined ? { checkpointTimestampMs: ts } : {}),
    ...(hold !== undefined ? { checkpointHold: hold } : {}),
  };
}

function isConditionFailure(err: unknown): boolean {
  return err instanceof ConditionalCheckFailedException || (err instanceof Error && err.name === 'ConditionalCheckFailedException');
}

export class LeaseTable {
  constructor(
    private readonly client: DynamoDBClient,
    readonly tableName: string,
  ) {}

  /**
   * Creates the table (KCL's key schema and owner index) unless it exists; waits until ACTIVE.
   * Looks first: a consumer running with the least-privilege policy setup prints (no
   * CreateTable) finds the table setup made instead of being refused.
   */
  async ensureTable(signal?: AbortSignal): Promise<void> {
    const exists = await this.client.send(new DescribeTableCommand({ TableName: this.tableName }), { abortSignal: signal }).then(
      () => true,
      (err: unknown) => {
        if (err instanceof Error && err.name === 'ResourceNotFoundException') return false;
        throw err;
      },
    );
    if (!exists) {
      try {
        await this.client.send(new CreateTableCommand(leaseTableSchema(this.tableName)));
      } catch (err) {
        if (!(err instanceof ResourceInUseException || (err instanceof Error && err.name === 'ResourceInUseException'))) throw err;
      }
    }
    for (let i = 0; ; i++) {
      const d = await this.client.send(new DescribeTableCommand({ TableName: this.tableName }), { abortSignal: signal });
      if (d.Table?.TableStatus === 'ACTIVE') return;
      if (i > 600) throw new Error(`lease table ${this.tableName} not ACTIVE after 5 minutes`);
      await new Promise((r) => setTimeout(r, 500));
    }
  }

  /** Every lease, read consistently (a lease taken a moment ago must show its new owner). */
  async listLeases(signal?: AbortSignal): Promise<Lease[]> {
    const out: Lease[] = [];
    let start: Item | undefined;
    do {
      const page = await this.client.send(
        new ScanCommand({ TableName: this.tableName, ConsistentRead: true, ...(start ? { ExclusiveStartKey: start } : {}) }),
        { abortSignal: signal },
      );
      for (const item of page.Items ?? []) {
        // Rows of KCL 3's single-table format that are not leases.
        if (item.entityType !== undefined && item.entityType.S !== 'LEASE') continue;
        out.push(itemToLease(item));
      }
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return out;
  }

  async getLease(leaseKey: string, signal?: AbortSignal): Promise<Lease | undefined> {
    const r = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: { leaseKey: { S: leaseKey } }, ConsistentRead: true }), signal ? { abortSignal: signal } : {});
    return r.Item ? itemToLease(r.Item) : undefined;
  }

  /** Creates the lease unless one with its key exists. True if this call created it. */
  async createIfAbsent(lease: Lease): Promise<boolean> {
    try {
      await this.client.send(
        new PutItemCommand({ TableName: this.tableName, Item: leaseToItem(lease), ConditionExpression: 'attribute_not_exists(leaseKey)' }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /** Renews a held lease: counter + 1 if nobody touched it since. Undefined when it was lost. */
  async renew(lease: Lease, owner: string): Promise<Lease | undefined> {
    return this.conditionalUpdate(
      lease,
      'SET leaseCounter = :next',
      'leaseCounter = :counter AND leaseOwner = :owner',
      { ':owner': { S: owner } },
      { leaseCounter: lease.leaseCounter + 1 },
    );
  }

  /**
   * Takes a lease (unowned, expired, or stolen): owner := me, counter + 1, conditional on the
   * counter we read, so of two takers exactly one wins. Undefined when another write came first.
   */
  async take(lease: Lease, owner: string): Promise<Lease | undefined> {
    const switched = lease.leaseOwner !== owner;
    return this.conditionalUpdate(
      lease,
      `SET leaseCounter = :next, leaseOwner = :owner${switched ? ', ownerSwitchesSinceCheckpoint = if_not_exists(ownerSwitchesSinceCheckpoint, :zero) + :one' : ''} REMOVE checkpointOwner`,
      'leaseCounter = :counter',
      { ':owner': { S: owner }, ...(switched ? { ':one': { N: '1' }, ':zero': { N: '0' } } : {}) },
      {
        leaseCounter: lease.leaseCounter + 1,
        leaseOwner: owner,
        ownerSwitchesSinceCheckpoint: lease.ownerSwitchesSinceCheckpoint + (switched ? 1 : 0),
      },
    );
  }

  /**
   * Gives a held lease up (graceful shutdown): no owner, counter + 1, so any worker takes it at
   * once instead of waiting for it to expire. Conditional on still being the owner.
   */
  async evict(lease: Lease, owner: string): Promise<boolean> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { leaseKey: { S: lease.leaseKey } },
          UpdateExpression: 'REMOVE leaseOwner ADD leaseCounter :one',
          ConditionExpression: 'leaseOwner = :owner',
          ExpressionAttributeValues: { ':owner': { S: owner }, ':one': { N: '1' } },
        }),
      );
      return true;
    } catch (err) {
      if (isConditionFailure(err)) return false;
      throw err;
    }
  }

  /**
   * Records progress on a held lease; also a renewal (counter + 1). Undefined when lost. `hold`
   * (holdIdOf) is stored with the checkpoint, or removed when not given, so it always names the
   * writer of the checkpoint it sits beside.
   */
  async checkpoint(lease: Lease, owner: string, checkpoint: string, subSequenceNumber = 0, hold?: string): Promise<Lease | undefined> {
    const { checkpointHold: _previous, ...rest } = lease;
    return this.conditionalUpdate(
      rest,
      `SET leaseCounter = :next, checkpoint = :cp, checkpointSubSequenceNumber = :sub, ownerSwitchesSinceCheckpoint = :zero${hold !== undefined ? ', checkpointHold = :hold' : ''}${hold === undefined ? ' REMOVE checkpointHold' : ''}`,
      'leaseCounter = :counter AND leaseOwner = :owner',
      { ':owner': { S: owner }, ':cp': { S: checkpoint }, ':sub': { N: String(subSequenceNumber) }, ':zero': { N: '0' }, ...(hold !== undefined ? { ':hold': { S: hold } } : {}) },
      { leaseCounter: lease.leaseCounter + 1, checkpoint, checkpointSubSequenceNumber: subSequenceNumber, ownerSwitchesSinceCheckpoint: 0, ...(hold !== undefined ? { checkpointHold: hold } : {}) },
    );
  }

  /**
   * Notes a parent's children (KCL writes them when the parent ends). Adds to a set, so it needs
   * no counter condition and does not disturb the holder's renewals.
   */
  async addChildShardIds(leaseKey: string, childShardIds: readonly string[]): Promise<void> {
    if (childShardIds.length === 0) return;
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: { leaseKey: { S: leaseKey } },
        UpdateExpression: 'ADD childShardIds :c',
        ConditionExpression: 'attribute_exists(leaseKey)',
        ExpressionAttributeValues: { ':c': { SS: [...childShardIds] } },
      }),
    );
  }

  async deleteLease(leaseKey: string): Promise<void> {
    await this.client.send(new DeleteItemCommand({ TableName: this.tableName, Key: { leaseKey: { S: leaseKey } } }));
  }

  private async conditionalUpdate(
    lease: Lease,
    update: string,
    condition: string,
    values: Item,
    changed: Partial<Lease>,
  ): Promise<Lease | undefined> {
    try {
      await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: { leaseKey: { S: lease.leaseKey } },
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeValues: {
            ':counter': { N: String(lease.leaseCounter) },
            ':next': { N: String(lease.leaseCounter + 1) },
            ...values,
          },
        }),
      );
    } catch (err) {
      if (isConditionFailure(err)) return undefined;
      throw err;
    }
    return { ...lease, ...changed };
  }
}
