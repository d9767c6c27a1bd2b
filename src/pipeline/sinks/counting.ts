/** Counts records and does nothing else: `--output none` and the benchmark's sink. */
import type { FlowBatch } from '../../flowlog/batch.js';
import type { Sink } from '../sink.js';

export class CountingSink implements Sink {
  readonly name = 'count';
  records = 0;
  batches = 0;

  write(batch: FlowBatch): void {
    this.records += batch.length;
    this.batches++;
  }

  async flush(): Promise<void> {}
}
