import { describe, expect, it } from 'vitest';
import type { FlowBatch } from '../flowlog/batch.js';
import { subscriptionPayload } from '../sim/cloudwatch.js';
import type { KinesisRecordIn } from '../sources/types.js';
import { Pipeline } from './pipeline.js';
import type { Sink } from './sink.js';

const line = (i: number) => `2 123456789012 eni-0abc 10.0.${i >> 8}.${i & 255} 10.1.0.1 ${1024 + i} 443 6 1 ${i} 1700000000 1700000060 ACCEPT OK`;

function kinesisRecords(count: number, perRecord: number): KinesisRecordIn[] {
  return Array.from({ length: count }, (_, r) => ({
    streamName: 's',
    shardId: 'shardId-000000000000',
    sequenceNumber: String(1000 + r),
    partitionKey: 'k',
    arrivalMs: 0,
    data: subscriptionPayload(Array.from({ length: perRecord }, (_, e) => line(r * perRecord + e)), { logStream: 'eni-0abc-all', logGroup: 'g' }),
  }));
}

/** Reads records either as they arrive (write) or only at flush, from the batches it was given. */
class ReadingSink implements Sink {
  readonly name = 'reading';
  readonly seen: string[] = [];
  readonly batches = new Set<FlowBatch>();
  private held: FlowBatch[] = [];
  constructor(readonly keepsBatches: boolean) {}
  write(b: FlowBatch): void {
    this.batches.add(b);
    if (this.keepsBatches) this.held.push(b);
    else this.read(b);
  }
  async flush(): Promise<void> {
    for (const b of this.held) this.read(b);
    this.held = [];
  }
  private read(b: FlowBatch): void {
    for (let r = 0; r < b.length; r++) this.seen.push(`${String(b.get(r, 'srcaddr'))}:${String(b.get(r, 'srcport'))}`);
  }
}

describe('pipeline batches', () => {
  const expected = Array.from({ length: 30 * 200 }, (_, i) => `10.0.${i >> 8}.${i & 255}:${1024 + i}`);

  it('are reused once every sink is done with them', async () => {
    const sink = new ReadingSink(false);
    const pipeline = new Pipeline([sink]);
    for (let i = 0; i < 30; i += 5) await pipeline.handle('shardId-000000000000', kinesisRecords(30, 200).slice(i, i + 5));
    await pipeline.flush();
    expect(sink.seen).toEqual(expected);
    expect(sink.batches.size).toBeLessThan(4);
  });

  it('are never reused while a sink keeps them until its flush', async () => {
    const sink = new ReadingSink(true);
    const pipeline = new Pipeline([new ReadingSink(false), sink]);
    for (let i = 0; i < 30; i += 5) await pipeline.handle('shardId-000000000000', kinesisRecords(30, 200).slice(i, i + 5));
    await pipeline.flush();
    expect(sink.seen).toEqual(expected);
  });
});
