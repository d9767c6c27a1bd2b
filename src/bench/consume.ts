/**
 * npm run bench:consume — how much Kinesis one flowcut worker keeps up with.
 *
 * 1. Pipeline, network out, one core: Kinesis records as CloudWatch Logs writes them for a
 *    flow-log subscription (gzip JSON, grouped per ENI log stream by the replay code), held in
 *    memory and handed to the consumer's RecordHandler (decode → sinks → flush) in GetRecords-
 *    sized batches. A shard serves at most 2 MB/s to a reader, so compressed MB/s ÷ 2 is the
 *    number of fully loaded shards one core keeps up with.
 *    The same with the Parquet archive as the sink (local disk, a flush and so a checkpoint's
 *    worth of durable files every 500 Kinesis records): decode, parse and archive on one core.
 * 2. End to end against kinesis-local: records put into a 4-shard stream beforehand, then one
 *    worker (leases in dynalite) reads them all with GetRecords. kinesis-local is the limit here
 *    (a Scala.js emulator: ~2k records/s per reader, see local-aws.md), not flowcut.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';

// As in the CLI: the pinned SDK works on Node 20; don't print its upgrade notice.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
import { createDynamoDbClient, createKinesisClient } from '../aws/clients.js';
import { startDynalite } from '../pipeline/embedded/dynalite.js';
import { startEmbeddedKinesis } from '../pipeline/embedded/kinesis-local.js';
import { Pipeline } from '../pipeline/pipeline.js';
import { cloudWatchPayloads, replayPayloads, type LogEvent, type Payload } from '../pipeline/replay.js';
import { startService } from '../pipeline/service.js';
import { ArchiveSink } from '../pipeline/sinks/archive.js';
import { CountingSink } from '../pipeline/sinks/counting.js';
import { ArchiveWriter } from '../archive/writer.js';
import { LocalStore } from '../archive/store.js';
import type { Codec } from '../archive/parquet/writer.js';
import { simulateTraffic } from '../sim/traffic.js';
import type { KinesisRecordIn } from '../sources/types.js';

const SHARD_BYTES_PER_S = 2 * 1024 * 1024;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const E2E_PAYLOADS = Number(process.env.BENCH_E2E_PAYLOADS ?? 2000);
/** The archive's page compression (the writer's default, zstd, unless BENCH_CODEC says otherwise). */
const CODEC = (process.env.BENCH_CODEC ?? 'zstd') as Codec;

function payloads(minEvents: number, flowsPerEniMinute: number): Payload[] {
  const events: LogEvent[] = [];
  for (let seed = 1; events.length < minEvents; seed++) {
    for (const l of simulateTraffic({ seed, minutes: 120, flowsPerEniMinute, startSec: 1_767_225_600 + seed * 86_400 })) {
      events.push({ message: l.line, timestampMs: l.endSec * 1000, logStream: `${l.interfaceId}-all`, logGroup: '/vpc/flow-logs', owner: '123456789012' });
    }
  }
  events.sort((a, b) => a.timestampMs - b.timestampMs);
  return [...cloudWatchPayloads(events)];
}

function asRecords(ps: Payload[]): KinesisRecordIn[] {
  return ps.map((p, i) => ({ streamName: 'bench', shardId: 'shardId-000000000000', sequenceNumber: String(49_000_000_000_000n + BigInt(i)), partitionKey: p.logStream, arrivalMs: 0, data: p.data }));
}

const fmt = (n: number, d = 0) => n.toLocaleString('en-US', { maximumFractionDigits: d, minimumFractionDigits: d });

/** What the records go to: counted only, or written to a Parquet archive in a temporary directory. */
type Target = 'count' | 'archive';

async function pipelineBench(label: string, records: KinesisRecordIn[], target: Target = 'count', flushEvery = 10): Promise<number> {
  const bytes = records.reduce((n, r) => n + r.data.byteLength, 0);
  const events = records.length;
  let best = Infinity;
  let flows = 0;
  // Round 0 warms the JIT up and is not counted.
  for (let round = 0; round <= ROUNDS; round++) {
    const counter = new CountingSink();
    const dir = target === 'archive' ? await mkdtemp(join(tmpdir(), 'flowcut-bench-')) : undefined;
    const archive = dir !== undefined ? new ArchiveWriter({ store: new LocalStore(dir), codec: CODEC, strongerLevels: false /* as flowcut run */ }) : undefined;
    const pipeline = new Pipeline(archive ? [new ArchiveSink(archive)] : [counter]);
    const t0 = performance.now();
    // GetRecords-sized handovers (500 records); a flush, what precedes every checkpoint, every
    // `flushEvery` of them.
    for (let i = 0, n = 0; i < records.length; i += 500, n++) {
      await pipeline.handle('shardId-000000000000', records.slice(i, i + 500));
      if (n % flushEvery === flushEvery - 1) await pipeline.flush();
    }
    await pipeline.flush();
    if (round > 0) best = Math.min(best, performance.now() - t0);
    flows = archive ? pipeline.stats.records : counter.records;
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  }
  const s = best / 1000;
  const mbps = bytes / s / 1e6;
  const shards = bytes / s / SHARD_BYTES_PER_S;
  console.log(
    `  ${label}: ${fmt(events)} Kinesis records (${fmt(flows / events)} flows each, ${fmt(bytes / events / 1024, 1)} KiB gzip'd), best of ${ROUNDS}: ` +
      `${fmt(events / s)} records/s, ${fmt(flows / s)} flows/s, ${fmt(mbps, 1)} MB/s compressed = ${fmt(shards, 1)} fully loaded shards`,
  );
  return shards;
}

async function endToEnd(): Promise<void> {
  const kl = await startEmbeddedKinesis('bench:4');
  const dyn = await startDynalite();
  const aws = { region: 'us-east-1', credentials: { accessKeyId: 'b', secretAccessKey: 'b' } };
  const kinesis = createKinesisClient({ ...aws, endpoint: kl.endpoint });
  const dynamo = createDynamoDbClient({ ...aws, endpoint: dyn.endpoint });
  try {
    // Small payloads (CloudWatch batches of a quiet VPC) so kinesis-local's put rate allows a few
    // thousand records; the payload mix differs from the in-memory run.
    const ps = payloads(E2E_PAYLOADS * 40, 2).slice(0, E2E_PAYLOADS);
    const bytes = ps.reduce((n, p) => n + p.data.length, 0);
    const put = await replayPayloads(kinesis, ps, { streamName: 'bench', asFastAsPossible: true, distribution: 'random' });
    const sink = new CountingSink();
    const t0 = performance.now();
    const svc = await startService(
      { stream: 'bench', app: 'bench-leases', workerId: 'bench', from: 'trim-horizon', failoverMs: 10_000, checkpointIntervalMs: 1000, shardSyncIntervalMs: 60_000, idlePollMs: 200 },
      { kinesis, dynamo, sinks: [sink] },
    );
    while (svc.pipeline.kinesisRecords < ps.length) await new Promise((r) => setTimeout(r, 20));
    const s = (performance.now() - t0) / 1000;
    await svc.stop();
    console.log(
      `  one worker, polling, 4 shards of kinesis-local: ${fmt(ps.length)} records (${fmt(bytes / 1e6, 2)} MB, ${fmt(put.events)} flows) in ${fmt(s, 2)} s: ` +
        `${fmt(ps.length / s)} records/s, ${fmt(bytes / s / 1e6, 2)} MB/s, ${fmt(sink.records / s)} flows/s (startup, lease table and shard sync included)`,
    );
  } finally {
    kinesis.destroy();
    dynamo.destroy();
    await dyn.stop();
    await kl.stop();
  }
}

console.log(`bench:consume (node ${process.version}, one core)`);
console.log('decode → sinks, records from memory (no network):');
// Busy ENIs: CloudWatch payloads of ~1,000 events (a minute of one ENI); quieter ones: ~130.
const busyRecords = asRecords(payloads(1_500_000, 3000));
const busy = await pipelineBench('busy ENIs', busyRecords);
await pipelineBench('quieter ENIs', asRecords(payloads(300_000, 400)));
console.log(`decode → Parquet archive on local disk (${CODEC}; a durable flush every 500 Kinesis records):`);
const archived = await pipelineBench('busy ENIs', busyRecords, 'archive', 1);
console.log(`=> one core keeps up with ${fmt(busy, 1)} fully loaded shards (2 MB/s each) of busy-VPC flow-log payloads through decode and parse,`);
console.log(`   ${fmt(archived, 1)} through decode, parse and the archive (goal ≥ 8)`);
if (process.env.BENCH_SKIP_E2E !== '1') {
  console.log('end to end from kinesis-local:');
  await endToEnd();
}
