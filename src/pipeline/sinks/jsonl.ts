/**
 * Decoded records as JSON lines on a stream (stdout for `flowcut run --output jsonl`), each with
 * its identity (kinesis_shard_id, kinesis_sequence_number, event_index) so that a reader can
 * drop the duplicates that at-least-once delivery produces after a failover.
 */
import type { Writable } from 'node:stream';
import type { FlowBatch } from '../../flowlog/batch.js';
import type { Sink } from '../sink.js';

export class JsonLinesSink implements Sink {
  readonly name = 'jsonl';
  private chunks: string[] = [];
  private size = 0;

  constructor(private readonly out: Writable) {}

  async write(batch: FlowBatch): Promise<void> {
    for (let r = 0; r < batch.length; r++) {
      const o = batch.origins[r];
      const line = JSON.stringify({
        ...batch.toObject(r),
        kinesis_shard_id: o?.shardId ?? null,
        kinesis_sequence_number: o?.sequenceNumber ?? null,
        event_index: batch.subIndex[r],
      });
      this.chunks.push(line, '\n');
      this.size += line.length + 1;
    }
    if (this.size >= 1 << 16) await this.drainTo();
  }

  /** Written to the stream and accepted by it: for a pipe, that is as durable as it gets. */
  async flush(): Promise<void> {
    await this.drainTo();
  }

  private async drainTo(): Promise<void> {
    if (this.chunks.length === 0) return;
    const text = this.chunks.join('');
    this.chunks = [];
    this.size = 0;
    if (!this.out.write(text)) await new Promise<void>((resolve) => this.out.once('drain', resolve));
  }
}
