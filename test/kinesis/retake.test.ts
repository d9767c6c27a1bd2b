/**
 * A worker loses a lease while a flush of it is still writing: it takes the lease back at once
 * (second test: another worker takes it during its graceful stop).
 * The checkpoint run that began under the first tenure must not write its position under the
 * second (whose own records are not written yet), and the first tenure's late files must be
 * rolled back: at every point the checkpoint covers only records the archive holds, and in the
 * end each record is there once. Real lease table (dynalite), coordinator, consumer, pipeline
 * and archive; the records come from a reader that replays ten fixed Kinesis records whenever
 * the shard is read from its start.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { decodeManifest, MANIFEST_ROOT } from '../../src/archive/manifest.js';
import { readArchiveColumns } from '../../src/archive/read.js';
import { COL_SEQUENCE, COL_SUB_INDEX } from '../../src/archive/schema.js';
import { LocalStore } from '../../src/archive/store.js';
import { ArchiveWriter } from '../../src/archive/writer.js';
import { Pipeline } from '../../src/pipeline/pipeline.js';
import { ArchiveSink } from '../../src/pipeline/sinks/archive.js';
import { subscriptionPayload } from '../../src/sim/cloudwatch.js';
import { KinesisConsumer } from '../../src/sources/kinesis/consumer.js';
import { LeaseCoordinator } from '../../src/sources/kinesis/lease-coordinator.js';
import { LeaseTable } from '../../src/sources/kinesis/lease-table.js';
import { holdIdOf, TRIM_HORIZON } from '../../src/sources/kinesis/lease.js';
import type { ShardReader } from '../../src/sources/kinesis/records.js';
import { useLocalAws } from '../support/local-aws.js';
import { createStream, until } from './helpers.js';
import { GatedStore } from '../support/gated-store.js';

const SHARD = 'shardId-000000000000';
const PER_RECORD = 40;

describe('a lease lost while a flush of it is running', () => {
  const aws = useLocalAws();

  async function setup() {
    const stream = await createStream(aws.kinesis, 1, 'retake');
    const dir = await mkdtemp(join(tmpdir(), 'flowcut-retake-'));
    const store = new LocalStore(dir);
    const gated = new GatedStore(store);
    const line = (i: number) => `2 123456789012 eni-0abc 10.0.${i >> 8}.${i & 255} 10.1.0.1 ${1024 + i} 443 6 1 ${i} 1700000000 1700000060 ACCEPT OK`;
    const records = Array.from({ length: 10 }, (_, r) => ({
      streamName: stream,
      shardId: SHARD,
      sequenceNumber: String(5000 + r),
      partitionKey: 'k',
      arrivalMs: 0,
      data: subscriptionPayload(Array.from({ length: PER_RECORD }, (_, e) => line(r * PER_RECORD + e)), { logStream: 'eni-0abc-all', logGroup: 'g' }),
    }));
    const expected = records.flatMap((r) => Array.from({ length: PER_RECORD }, (_, e) => `${r.sequenceNumber}/${e + 1}`)).sort();
    let reads = 0;
    let handedReads = 0;
    const reader: ShardReader = async function* (opts) {
      if (opts.start.type === 'TRIM_HORIZON') {
        reads++;
        yield { records, millisBehindLatest: 0, shardEnd: false, childShards: [] };
        handedReads++; // the consumer asked for more: the batch is handed over
      }
      while (!opts.signal.aborted) await sleep(10);
    };

    const table = new LeaseTable(aws.dynamo, `app-${stream}`);
    // No timers that matter during the test: takes and checkpoints are driven by hand.
    const lost: string[] = [];
    const coordinator = new LeaseCoordinator({ table, workerId: 'W', failoverMs: 1500, renewIntervalMs: 600_000, takeIntervalMs: 600_000, onEvent: (e) => void (e.type === 'lost' && lost.push(e.leaseKey)) });
    const pipeline = new Pipeline([new ArchiveSink(new ArchiveWriter({ store: gated }))]);
    const consumer = new KinesisConsumer({ kinesis: aws.kinesis, table, coordinator, reader, handler: pipeline, streamName: stream, from: 'trim-horizon', checkpointIntervalMs: 600_000, shardSyncIntervalMs: 600_000, parentPollMs: 50 });

    const archived = async (): Promise<string[]> => {
      const out: string[] = [];
      for await (const o of store.list('AWSLogs/')) {
        if (!o.key.endsWith('.parquet')) continue;
        const { rows, columns } = await readArchiveColumns(await readFile(join(dir, o.key)));
        for (let r = 0; r < rows; r++) out.push(`${columns[COL_SEQUENCE]!.strings![r]}/${columns[COL_SUB_INDEX]!.numbers![r]}`);
      }
      return out.sort();
    };
    const manifestHolds = async (): Promise<string[]> => {
      const out: string[] = [];
      for await (const o of store.list(MANIFEST_ROOT)) out.push(decodeManifest((await store.get(o.key))!, o.key).hold ?? '');
      return out;
    };
    /** The checkpoint never runs ahead of the archive: every record up to it is archived. */
    const checkpointCovered = async (): Promise<void> => {
      const lease = (await table.getLease(SHARD))!;
      const ids = new Set(await archived());
      const missing = expected.filter((id) => lease.checkpoint !== TRIM_HORIZON && BigInt(id.split('/')[0]!) <= BigInt(lease.checkpoint) && !ids.has(id));
      expect({ checkpoint: lease.checkpoint, missing: missing.length }).toEqual({ checkpoint: lease.checkpoint, missing: 0 });
    };

    return { dir, store, gated, expected, table, coordinator, pipeline, consumer, archived, manifestHolds, checkpointCovered, lost, reads: () => reads, handedReads: () => handedReads };
  }

  it('never checkpoints the old tenure’s position under the new one, and archives each record once', async () => {
    const { dir, gated, expected, table, coordinator, pipeline, consumer, archived, manifestHolds, checkpointCovered, lost, reads, handedReads } = await setup();
    try {
      await consumer.start();
      await until(() => handedReads() === 1, 10_000, 'the first tenure to hand over the ten records');
      const first = holdIdOf((await table.getLease(SHARD))!);

      // The timer's checkpoint run: its flush of the first tenure's records stalls in storage.
      const staleRun = consumer.checkpointAll();
      await until(() => gated.parquetPutsWaiting > 0, 10_000, 'the flush to reach the Parquet puts');

      // Another worker takes the lease; W notices, and takes it back (from Z, or once Z's lease expires).
      await table.take((await table.getLease(SHARD))!, 'Z');
      await coordinator.takeLeases();
      expect(lost).toEqual([SHARD]); // W noticed
      await until(
        async () => {
          if (!coordinator.holds(SHARD)) await coordinator.takeLeases();
          return coordinator.holds(SHARD);
        },
        10_000,
        'W to take the lease back',
      );
      const second = holdIdOf((await table.getLease(SHARD))!);
      await until(() => handedReads() === 2, 10_000, 'the second tenure to read the records again');

      gated.open();
      await staleRun;
      // The first tenure's position was not checkpointed under the second.
      expect((await table.getLease(SHARD))!.checkpoint).toBe(TRIM_HORIZON);
      // The first tenure's ranges are rolled back once its flush landed.
      await until(async () => !(await manifestHolds()).includes(first), 10_000, 'the first tenure’s manifests to go');
      await checkpointCovered();
      expect(await archived()).toEqual([]);

      // The second tenure checkpoints its own records.
      await consumer.checkpointAll();
      const lease = (await table.getLease(SHARD))!;
      expect({ checkpoint: lease.checkpoint, hold: lease.checkpointHold }).toEqual({ checkpoint: '5009', hold: second });
      await checkpointCovered();
      expect(await archived()).toEqual(expected);
      expect(reads()).toBe(2);
    } finally {
      await consumer.stop();
      await pipeline.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a lease taken during the last flush of a graceful stop: the stopping worker undoes that flush', async () => {
    const { dir, gated, table, pipeline, consumer, archived, manifestHolds, handedReads } = await setup();
    try {
      await consumer.start();
      await until(() => handedReads() === 1, 10_000, 'the records to be handed over');
      const tenure = holdIdOf((await table.getLease(SHARD))!);
      const stopping = consumer.stop(); // its final flush stalls in storage
      await until(() => gated.parquetPutsWaiting > 0, 10_000, 'the final flush to reach the Parquet puts');
      await table.take((await table.getLease(SHARD))!, 'Z'); // Z takes the lease meanwhile
      gated.open();
      await stopping;
      const lease = (await table.getLease(SHARD))!;
      expect({ owner: lease.leaseOwner, checkpoint: lease.checkpoint }).toEqual({ owner: 'Z', checkpoint: TRIM_HORIZON });
      // Z re-reads everything from the start: W's files of it are gone, and so are its manifests.
      expect(await archived()).toEqual([]);
      expect(await manifestHolds()).not.toContain(tenure);
    } finally {
      await consumer.stop();
      await pipeline.close();
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a graceful stop whose last flush fails still gives its leases up, and reports the failure', async () => {
    const { dir, gated, table, pipeline, consumer, handedReads } = await setup();
    try {
      await consumer.start();
      await until(() => handedReads() === 1, 10_000, 'the records to be handed over');
      gated.failParquet = true;
      gated.open();
      await expect(consumer.stop()).rejects.toThrow('injected: S3 unavailable');
      const lease = (await table.getLease(SHARD))!;
      // Released for another worker to take at once, and nothing checkpointed past what is written.
      expect({ owner: lease.leaseOwner, checkpoint: lease.checkpoint }).toEqual({ owner: undefined, checkpoint: TRIM_HORIZON });
    } finally {
      gated.failParquet = false;
      await consumer.stop().catch(() => {});
      await pipeline.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
