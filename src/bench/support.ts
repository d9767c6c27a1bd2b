import type { FlowBatch, Origin } from '../flowlog/batch.js';
import { LineParser } from '../flowlog/parser.js';
import type { RecordSink } from '../flowlog/sink.js';

class Collect implements RecordSink {
  batches: FlowBatch[] = [];
  rejects = 0;
  batch(b: FlowBatch): void {
    this.batches.push(b);
  }
  reject(): void {
    this.rejects++;
  }
}

/** A text object's lines as FlowBatch columns (untimed bench input); a rejected line is a bench bug. */
export function parseLines(text: Buffer, origin: Origin): FlowBatch[] {
  const sink = new Collect();
  const parser = new LineParser(sink, { batchSize: 4096 });
  parser.parseLines(text, 0, text.length, origin, 1);
  parser.flush();
  if (sink.rejects > 0) throw new Error(`${sink.rejects} lines rejected in ${origin.location}`);
  return sink.batches;
}

export function median(values: number[]): number {
  const v = [...values].sort((x, y) => x - y);
  return v[Math.floor(v.length / 2)]!;
}
