/** Shared by the Kinesis consumer tests: streams, puts, waiting. */
import { setTimeout as sleep } from 'node:timers/promises';
import { CreateStreamCommand, DescribeStreamSummaryCommand, type KinesisClient, PutRecordsCommand } from '@aws-sdk/client-kinesis';

/** Start of the upper half of the hash key space. */
export const HALF = 2n ** 127n;
export const QUARTER = 2n ** 126n;

let counter = 0;
export async function createStream(client: KinesisClient, shards: number, prefix = 'kc'): Promise<string> {
  const name = `${prefix}-${process.pid}-${++counter}`;
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  for (let i = 0; i < 200; i++) {
    const d = await client.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (d.StreamDescriptionSummary?.StreamStatus === 'ACTIVE') return name;
    await sleep(50);
  }
  throw new Error(`stream ${name} not ACTIVE`);
}

export interface Put {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly data: string;
}

/** Puts small text records with explicit hash keys (so the shard is known) in one call. */
export async function putText(client: KinesisClient, stream: string, items: Array<{ data: string; hashKey: bigint }>): Promise<Put[]> {
  const out: Put[] = [];
  for (let i = 0; i < items.length; i += 500) {
    const chunk = items.slice(i, i + 500);
    const res = await client.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: chunk.map((it) => ({ Data: new TextEncoder().encode(it.data), PartitionKey: it.data, ExplicitHashKey: it.hashKey.toString() })),
      }),
    );
    if ((res.FailedRecordCount ?? 0) > 0) throw new Error('put failed');
    (res.Records ?? []).forEach((r, k) => out.push({ shardId: r.ShardId!, sequenceNumber: r.SequenceNumber!, data: chunk[k]!.data }));
  }
  return out;
}

export async function until(cond: () => boolean | Promise<boolean>, timeoutMs: number, what: string | (() => string)): Promise<number> {
  const t0 = Date.now();
  while (!(await cond())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(25);
  }
  return Date.now() - t0;
}
