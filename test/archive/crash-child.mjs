// A stand-in for the streaming service, run as a child process by crash.test.ts and killed with
// SIGKILL at random moments. It archives generated Kinesis records the way the service will:
// recover(checkpoints) at start, add() decoded records, flush() at record boundaries (age- and
// size-based, with limits drawn at random each run so file boundaries differ between runs), then
// checkpoint what the flush covered (atomically, in a JSON file standing in for the lease table),
// then release(). Uses the built code in dist/ (npm test builds first).
import { open, readFile, rename } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { FlowDecoder } from '../../dist/decode/decoder.js';
import { ArchiveWriter } from '../../dist/archive/writer.js';
import { LocalStore } from '../../dist/archive/store.js';
import { subscriptionPayload } from '../../dist/sim/cloudwatch.js';
import { simulateTraffic } from '../../dist/sim/traffic.js';

export const STREAM = 'vpc-flows';
export const SHARDS = ['shardId-000000000000', 'shardId-000000000001'];

/** Deterministic input: per shard, Kinesis records of 1..120 flow events, sequence numbers increasing. */
export function generateRecords(seed, perShard) {
  const lines = simulateTraffic({ seed, minutes: 180, flowsPerEniMinute: 6 }).map((l) => l.line);
  const records = [];
  let at = 0;
  for (let k = 0; k < perShard; k++) {
    for (const [s, shardId] of SHARDS.entries()) {
      const n = 1 + ((k * 37 + s * 11) % 120);
      const chunk = [];
      for (let i = 0; i < n; i++) chunk.push(lines[at++ % lines.length]);
      const sequenceNumber = `4959${String(s)}${String(k * 10 + 7).padStart(40, '0')}`;
      records.push({
        streamName: STREAM,
        shardId,
        sequenceNumber,
        partitionKey: `pk-${k}`,
        arrivalMs: Date.UTC(2026, 0, 5) + k * 1000,
        data: subscriptionPayload(chunk, { logStream: `eni-${s}-all`, logGroup: '/vpc/flows', timestampMs: () => Date.UTC(2026, 0, 5) + k * 1000 }),
      });
    }
  }
  return records;
}

async function writeAtomic(path, text) {
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w');
  await fh.writeFile(text);
  await fh.sync();
  await fh.close();
  await rename(tmp, path);
}

async function main() {
  const [dir, checkpointPath, seed, perShard, maxAgeMs] = process.argv.slice(2);
  const checkpoints = JSON.parse(await readFile(checkpointPath, 'utf8').catch(() => '{}'));
  const writer = new ArchiveWriter({
    store: new LocalStore(dir),
    maxAgeMs: Number(maxAgeMs),
    maxRecords: 50 + Math.floor(Math.random() * 2000),
    codec: Math.random() < 0.5 ? 'snappy' : 'gzip',
  });
  await writer.recover(SHARDS.map((shardId) => ({ streamName: STREAM, shardId, sequenceNumber: checkpoints[shardId] ?? null })));
  const decoder = new FlowDecoder({ batch: (b) => writer.add(b), reject: (r) => { throw new Error(`unexpected reject ${r.reason}`); } }, { batchSize: 1 + Math.floor(Math.random() * 300) });
  const flush = async () => {
    const result = await writer.flush();
    if (result.records === 0) return;
    process.stdout.write('D\n'); // durable, not yet checkpointed: the window replays must survive
    for (const p of result.positions) checkpoints[p.shardId] = p.sequenceNumber;
    // A checkpoint takes a round trip (DynamoDB in the service): a window a kill can hit.
    await sleep(Math.random() * 3);
    await writeAtomic(checkpointPath, JSON.stringify(checkpoints));
    await writer.release(result);
    // Progress for the parent, which times its kills from these (so they land while records flow).
    process.stdout.write('F\n');
  };
  for (const rec of generateRecords(Number(seed), Number(perShard))) {
    const cp = checkpoints[rec.shardId];
    if (cp !== undefined && (rec.sequenceNumber.length < cp.length || (rec.sequenceNumber.length === cp.length && rec.sequenceNumber <= cp))) continue;
    decoder.decodeKinesisRecord(rec);
    decoder.flush();
    if (writer.shouldFlush()) await flush();
    // Paced like a shard reader, so that kills land while records flow, not only at start-up.
    await sleep(1);
  }
  await flush();
  process.stdout.write('DONE\n');
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop())) await main();
