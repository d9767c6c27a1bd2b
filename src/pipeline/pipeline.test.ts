import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readArchiveColumns } from '../archive/read.js';
import { ARCHIVE_SCHEMA, COL_SEQUENCE, COL_SHARD } from '../archive/schema.js';
import { LocalStore } from '../archive/store.js';
import { ArchiveWriter } from '../archive/writer.js';
import type { ColumnValues } from '../archive/parquet/writer.js';
import type { FlowBatch } from '../flowlog/batch.js';
import { subscriptionPayload } from '../sim/cloudwatch.js';
import type { KinesisRecordIn } from '../sources/types.js';
import { Pipeline } from './pipeline.js';
import type { Sink } from './sink.js';
import { ArchiveSink } from './sinks/archive.js';

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

/** What kinesisRecords(30, 200) holds, as `srcaddr:srcport`. */
const expected = Array.from({ length: 30 * 200 }, (_, i) => `10.0.${i >> 8}.${i & 255}:${1024 + i}`);

/** The archive's Parquet files under `dir`, read back column by column. */
async function* archivedFiles(store: LocalStore, dir: string): AsyncGenerator<{ rows: number; columns: ColumnValues[] }> {
  for await (const o of store.list('AWSLogs/')) if (o.key.endsWith('.parquet')) yield await readArchiveColumns(await readFile(join(dir, o.key)));
}

/** How many archived rows each Kinesis sequence number has under `dir`. */
async function rowsPerSequence(store: LocalStore, dir: string): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for await (const { rows, columns } of archivedFiles(store, dir)) {
    for (let r = 0; r < rows; r++) seen.set(columns[COL_SEQUENCE]!.strings![r]!, (seen.get(columns[COL_SEQUENCE]!.strings![r]!) ?? 0) + 1);
  }
  return seen;
}

describe('pipeline batches', () => {

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

describe('pipeline with the archive sink', () => {
  it('writes the records of the failed flush with the next one, so its positions never skip them', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flowcut-flushfail-'));
    let failPuts = false;
    const store = new (class extends LocalStore {
      override async put(key: string, data: Uint8Array): Promise<void> {
        if (failPuts && key.endsWith('.parquet')) throw new Error('injected: S3 unavailable');
        await super.put(key, data);
      }
    })(dir);
    try {
      const pipeline = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }))]);
      const recs = kinesisRecords(3, 50).map((r) => ({ ...r, streamName: 'flows' }));
      await pipeline.handle('shardId-000000000000', recs.slice(0, 2));
      failPuts = true;
      await expect(pipeline.flush()).rejects.toThrow('injected');
      failPuts = false;
      await pipeline.handle('shardId-000000000000', recs.slice(2));
      const positions = await pipeline.flush();
      expect(positions.get('shardId-000000000000')).toEqual({ hold: '', sequenceNumber: recs[2]!.sequenceNumber });
      // Every record up to that position is in the archive, once.
      const seen = await rowsPerSequence(store, dir);
      expect([...seen.keys()].sort()).toEqual(recs.map((r) => r.sequenceNumber).sort());
      expect([...seen.values()]).toEqual([50, 50, 50]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a flush queued behind one that fails writes the failed records too before it resolves', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flowcut-flushrace-'));
    // The first Parquet put waits for `fail()`, then fails: the second flush is queued meanwhile.
    let fail!: () => void;
    const failing = new Promise<void>((r) => (fail = r));
    let first = true;
    const store = new (class extends LocalStore {
      override async put(key: string, data: Uint8Array): Promise<void> {
        if (first && key.endsWith('.parquet')) {
          first = false;
          await failing;
          throw new Error('injected: S3 unavailable');
        }
        await super.put(key, data);
      }
    })(dir);
    try {
      const pipeline = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }))]);
      const recs = kinesisRecords(3, 50).map((r) => ({ ...r, streamName: 'flows' }));
      await pipeline.handle('shardId-000000000000', recs.slice(0, 2));
      const f1 = pipeline.flush(); // say, a shard end's flush
      await pipeline.handle('shardId-000000000000', recs.slice(2));
      const f2 = pipeline.flush(); // the timer's checkpoint run, queued behind it
      fail();
      await expect(f1).rejects.toThrow('injected');
      const positions = await f2;
      // f2 claims every record up to recs[2]: all of them, the failed flush's included, are written.
      expect(positions.get('shardId-000000000000')!.sequenceNumber).toBe(recs[2]!.sequenceNumber);
      const seen = await rowsPerSequence(store, dir);
      expect([...seen.keys()].sort()).toEqual(recs.map((r) => r.sequenceNumber).sort());
      expect([...seen.values()]).toEqual([50, 50, 50]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a failed flush starts no new put after the failure and settles every started one before it rejects', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flowcut-flushsettle-'));
    const started: string[] = [];
    const landed: string[] = [];
    const store = new (class extends LocalStore {
      override async put(key: string, data: Uint8Array): Promise<void> {
        if (!key.endsWith('.parquet')) return super.put(key, data);
        started.push(key);
        if (started.length === 1) throw new Error('injected: S3 unavailable');
        await new Promise((r) => setTimeout(r, 100)); // a slow put, started beside the failing one
        await super.put(key, data);
        landed.push(key);
      }
    })(dir);
    try {
      // One Kinesis record whose events fall in six different hours: six partitions, six files.
      const hourLine = (h: number) => `2 123456789012 eni-0abc 10.0.0.${h} 10.1.0.1 1024 443 6 1 1 ${1_700_000_000 + h * 3600} ${1_700_000_060 + h * 3600} ACCEPT OK`;
      const rec = { streamName: 'flows', shardId: 'shardId-000000000000', sequenceNumber: '1000', partitionKey: 'k', arrivalMs: 0, data: subscriptionPayload(Array.from({ length: 6 }, (_, h) => hourLine(h)), { logStream: 'eni-0abc-all', logGroup: 'g' }) };
      const pipeline = new Pipeline([new ArchiveSink(new ArchiveWriter({ store, concurrency: 2 }))]);
      await pipeline.handle('shardId-000000000000', [rec]);
      await expect(pipeline.flush()).rejects.toThrow('injected');
      // The put started beside the failing one has landed already; none started after the failure.
      expect(started).toHaveLength(2);
      expect(landed).toEqual([started[1]]);
      await new Promise((r) => setTimeout(r, 200));
      expect(started).toHaveLength(2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("drops a stopped shard's buffered records, and keeps every other record exact while batches are refilled", async () => {
    const dir = await mkdtemp(join(tmpdir(), 'flowcut-drop-'));
    try {
      const store = new LocalStore(dir);
      const pipeline = new Pipeline([new ArchiveSink(new ArchiveWriter({ store }))]);
      const kept = kinesisRecords(30, 200).map((r) => ({ ...r, streamName: 'flows', shardId: 'shardId-000000000001' }));
      const lost = kinesisRecords(10, 200).map((r) => ({ ...r, streamName: 'flows' }));
      // Several handovers, so the pipeline refills batches the archive has already copied.
      for (let i = 0; i < 30; i += 5) {
        await pipeline.handle('shardId-000000000001', kept.slice(i, i + 5));
        if (i < 10) await pipeline.handle('shardId-000000000000', lost.slice(i, i + 5));
      }
      await pipeline.shardStopped('flows', 'shardId-000000000000', { hold: 'w#1', checkpointed: null, mayHave: null });
      await pipeline.flush();
      const srcport = ARCHIVE_SCHEMA.findIndex((c) => c.name === 'srcport');
      const srcaddr = ARCHIVE_SCHEMA.findIndex((c) => c.name === 'srcaddr');
      const seen: string[] = [];
      const shards = new Set<string | null>();
      for await (const { rows, columns } of archivedFiles(store, dir)) {
        for (let r = 0; r < rows; r++) {
          seen.push(`${columns[srcaddr]!.strings![r]}:${columns[srcport]!.numbers![r]}`);
          shards.add(columns[COL_SHARD]!.strings![r]!);
        }
      }
      expect([...shards]).toEqual(['shardId-000000000001']);
      expect(seen).toEqual(expected);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

