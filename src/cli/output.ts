import type { Writable } from 'node:stream';
import type { FlowBatch } from '../flowlog/batch.js';
import { protocolName, tcpFlagNames } from '../flowlog/names.js';

/** Waits until a stream that refused a write has room again, or has failed (the caller checks which). */
export function drainOrError(stream: NodeJS.WritableStream): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done);
      stream.off('error', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('error', done);
  });
}

export const OUTPUTS = ['table', 'jsonl', 'csv', 'count'] as const;
export type OutputKind = (typeof OUTPUTS)[number];

/** Writes records to a stream in one output format, buffering and honouring back-pressure. */
export abstract class RecordWriter {
  private pending: string[] = [];
  private pendingBytes = 0;
  written = 0;

  constructor(protected readonly out: Writable) {}

  /** Writes one record; awaits only when the buffer is flushed into a full stream. */
  async row(batch: FlowBatch, row: number): Promise<void> {
    this.written++;
    const text = this.format(batch, row);
    if (text === '') return;
    this.pending.push(text);
    this.pendingBytes += text.length;
    if (this.pendingBytes >= 1 << 16) await this.flush();
  }

  async end(): Promise<void> {
    const tail = this.footer();
    if (tail !== '') this.pending.push(tail);
    await this.flush();
  }

  protected abstract format(batch: FlowBatch, row: number): string;

  protected footer(): string {
    return '';
  }

  async flush(): Promise<void> {
    if (this.pending.length === 0) return;
    const chunk = this.pending.join('');
    this.pending = [];
    this.pendingBytes = 0;
    if (!this.out.write(chunk)) await new Promise<void>((resolve) => this.out.once('drain', resolve));
  }
}

/** One JSON object a line, keyed by AWS's Parquet/Athena column names. */
export class JsonLinesWriter extends RecordWriter {
  protected format(batch: FlowBatch, row: number): string {
    return JSON.stringify(batch.toObject(row)) + '\n';
  }
}

/** RFC 4180 CSV; a new header whenever the record format changes. */
export class CsvWriter extends RecordWriter {
  private spec = '';

  protected format(batch: FlowBatch, row: number): string {
    let head = '';
    if (batch.format.spec !== this.spec) {
      this.spec = batch.format.spec;
      head = batch.format.fields.map((f) => f.column).join(',') + '\n';
    }
    const cells: string[] = [];
    for (let i = 0; i < batch.format.fields.length; i++) {
      const v = batch.value(row, i);
      cells.push(v === null ? '' : typeof v === 'number' ? String(v) : csvCell(v));
    }
    return head + cells.join(',') + '\n';
  }
}

function csvCell(s: string): string {
  return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
}

export class CountWriter extends RecordWriter {
  protected format(): string {
    return '';
  }

  protected override footer(): string {
    return `${this.written}\n`;
  }
}

const RED = '\x1b[31m';
const BOLD = '\x1b[1m';
const DIM = '\x1b[2m';
const RESET = '\x1b[0m';

/**
 * Aligned columns for a person: ISO times, protocol and TCP flag names, REJECT in red. Widths come
 * from the header and the first rows seen and only ever grow, so output streams without waiting.
 */
export class TableWriter extends RecordWriter {
  private spec = '';
  private widths: number[] = [];
  private buffered: string[][] = [];
  private readonly sample = 50;

  constructor(
    out: Writable,
    private readonly color: boolean,
  ) {
    super(out);
  }

  protected format(batch: FlowBatch, row: number): string {
    let text = '';
    if (batch.format.spec !== this.spec) {
      text += this.drain();
      this.spec = batch.format.spec;
      const header = batch.format.fields.map((f) => f.column);
      this.widths = header.map((h) => h.length);
      this.buffered = [header];
    }
    const cells = batch.format.fields.map((f, i) => display(f.name, batch.value(row, i)));
    if (this.buffered.length > 0) {
      this.buffered.push(cells);
      if (this.buffered.length > this.sample) text += this.drain();
      return text;
    }
    return text + this.line(cells, false);
  }

  protected override footer(): string {
    return this.drain();
  }

  private drain(): string {
    if (this.buffered.length === 0) return '';
    for (const cells of this.buffered) cells.forEach((c, i) => (this.widths[i] = Math.max(this.widths[i] ?? 0, c.length)));
    const text = this.buffered.map((cells, k) => this.line(cells, k === 0)).join('');
    this.buffered = [];
    return text;
  }

  private line(cells: string[], header: boolean): string {
    const parts = cells.map((c, i) => {
      const w = this.widths[i] ?? 0;
      if (c.length > w) this.widths[i] = c.length;
      const padded = /^\d/.test(c) && !c.includes('T') && !c.includes('.') && !c.includes(':') ? c.padStart(w) : c.padEnd(w);
      if (!this.color) return padded;
      if (header) return BOLD + padded + RESET;
      if (c === 'REJECT') return RED + BOLD + padded + RESET;
      if (c === '-') return DIM + padded + RESET;
      return padded;
    });
    return parts.join('  ').trimEnd() + '\n';
  }
}

function display(name: string, v: number | string | null): string {
  if (v === null) return '-';
  if (typeof v === 'string') return v;
  switch (name) {
    case 'start':
    case 'end':
      return new Date(v * 1000).toISOString().replace('.000Z', 'Z');
    case 'protocol':
      return protocolName(v);
    case 'tcp-flags':
      return v === 0 ? '0' : `${tcpFlagNames(v).join('|')} (${v})`;
    default:
      return String(v);
  }
}

export function createWriter(kind: OutputKind, out: Writable, color: boolean): RecordWriter {
  switch (kind) {
    case 'jsonl':
      return new JsonLinesWriter(out);
    case 'csv':
      return new CsvWriter(out);
    case 'count':
      return new CountWriter(out);
    case 'table':
      return new TableWriter(out, color);
  }
}
