import type { FlowBatch, FlowRecordObject } from '../../src/flowlog/batch.js';
import type { Reject, RecordSink } from '../../src/flowlog/sink.js';

/** A sink that keeps everything, for assertions. */
export class CollectingSink implements RecordSink {
  readonly batches: FlowBatch[] = [];
  readonly rejects: Reject[] = [];

  batch(b: FlowBatch): void {
    this.batches.push(b);
  }

  reject(r: Reject): void {
    this.rejects.push(r);
  }

  get records(): FlowRecordObject[] {
    return this.batches.flatMap((b) => Array.from({ length: b.length }, (_, i) => b.toObject(i)));
  }

  get count(): number {
    return this.batches.reduce((n, b) => n + b.length, 0);
  }
}

/** ../shared beside the project root, where tests may read data but never copy it from. */
export const SHARED = new URL('../../../shared/', import.meta.url).pathname;
