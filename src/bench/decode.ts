/**
 * npm run bench:decode — decode throughput on one core.
 *
 * Input: Kinesis records as CloudWatch Logs writes them for a flow-log subscription (gzip'd JSON,
 * 1,000 events each, `extractedFields` from AWS's documented space-delimited filter pattern), made
 * from simulated VPC traffic; and an S3 `.log.gz` text object. Baselines run in the same process on
 * the same bytes.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { FlowDecoder } from '../decode/decoder.js';
import type { FlowBatch } from '../flowlog/batch.js';
import type { RecordSink } from '../flowlog/sink.js';
import { subscriptionPayload } from '../sim/cloudwatch.js';
import { simulateTraffic } from '../sim/traffic.js';
import type { KinesisRecordIn } from '../sources/types.js';

const EVENTS_PER_RECORD = 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);

function makeLines(min: number): string[] {
  const lines: string[] = [];
  for (let seed = 1; lines.length < min; seed++) {
    for (const l of simulateTraffic({ seed, minutes: 240, flowsPerEniMinute: 40, startSec: 1767225600 + seed * 86400 })) lines.push(l.line);
  }
  return lines.slice(0, min);
}

function makeRecords(lines: string[]): KinesisRecordIn[] {
  const byEni = new Map<string, string[]>();
  for (const l of lines) {
    const eni = l.split(' ', 3)[2]!;
    let list = byEni.get(eni);
    if (!list) byEni.set(eni, (list = []));
    list.push(l);
  }
  const records: KinesisRecordIn[] = [];
  let seq = 0;
  for (const [eni, list] of byEni) {
    for (let i = 0; i + EVENTS_PER_RECORD <= list.length; i += EVENTS_PER_RECORD) {
      const data = subscriptionPayload(list.slice(i, i + EVENTS_PER_RECORD), { logStream: `${eni}-all`, logGroup: '/vpc/flow-logs' });
      records.push({ streamName: 'bench', shardId: 'shardId-000000000000', sequenceNumber: String(++seq), partitionKey: eni, arrivalMs: 0, data });
    }
  }
  return records;
}

class CountingSink implements RecordSink {
  records = 0;
  rejects = 0;
  checksum = 0;
  batch(b: FlowBatch): void {
    this.records += b.length;
    const bytes = b.numbers[b.format.indexOf('bytes')];
    if (bytes) this.checksum += bytes[b.length - 1]!;
  }
  reject(): void {
    this.rejects++;
  }
}

interface Result {
  name: string;
  /** Median and best of the rounds: the best is what the code does when the machine leaves it alone. */
  median: number;
  best: number;
}

async function measure(name: string, records: number, fn: () => void | Promise<void>): Promise<Result> {
  const rates: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    await fn();
    rates.push(records / (Number(process.hrtime.bigint() - t0) / 1e9));
  }
  rates.sort((a, b) => a - b);
  return { name, median: rates[Math.floor(rates.length / 2)]!, best: rates[rates.length - 1]! };
}

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 5);

async function main(): Promise<void> {
  const total = Number(process.env.BENCH_RECORDS ?? 300_000);
  console.log(`flowcut bench:decode — node ${process.version}, ${ROUNDS} rounds, median shown`);
  const lines = makeLines(total + 50_000);
  const records = makeRecords(lines);
  const n = records.length * EVENTS_PER_RECORD;
  const compressed = records.reduce((s, r) => s + r.data.length, 0);
  const inflated = records.reduce((s, r) => s + gunzipSync(r.data).length, 0);
  console.log(`input: ${records.length} Kinesis records × ${EVENTS_PER_RECORD} events = ${n} flow records; ${(compressed / 1e6).toFixed(1)} MB gzip, ${(inflated / 1e6).toFixed(1)} MB JSON (${(inflated / n).toFixed(0)} B/record)`);

  const results: Result[] = [];
  let naiveTokens = 0;
  results.push(
    await measure('naive: JSON.parse(gunzipSync(data)) + message.split(" ")', n, () => {
      for (const r of records) {
        const payload = JSON.parse(gunzipSync(r.data).toString()) as { logEvents: { message: string }[] };
        for (const e of payload.logEvents) naiveTokens += e.message.split(' ').length;
      }
    }),
  );
  results.push(
    await measure('gunzipSync alone (floor for any decoder)', n, () => {
      for (const r of records) gunzipSync(r.data);
    }),
  );
  const sink = new CountingSink();
  const decoder = new FlowDecoder(sink);
  results.push(
    await measure('flowcut: FlowDecoder.decodeKinesisRecord → typed columns', n, () => {
      for (const r of records) decoder.decodeKinesisRecord(r);
      decoder.flush();
    }),
  );
  if (sink.rejects > 0 || sink.records !== n * ROUNDS) throw new Error(`decoder lost records: ${sink.records} of ${n * ROUNDS}, ${sink.rejects} rejects`);

  // S3 .log.gz text object: header + lines, streamed in 1 MiB chunks as a file or S3 body would be.
  const text = Buffer.from(`version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n${lines.slice(0, n).join('\n')}\n`);
  const gz = gzipSync(text);
  const chunksOf = (buf: Buffer): Buffer[] => {
    const out: Buffer[] = [];
    for (let i = 0; i < buf.length; i += 1 << 20) out.push(buf.subarray(i, i + (1 << 20)));
    return out;
  };
  const gzChunks = chunksOf(gz), textChunks = chunksOf(text);
  const s3sink = new CountingSink();
  const s3decoder = new FlowDecoder(s3sink);
  const object = (chunks: Buffer[]) => ({ location: 'bench.log.gz', key: 'bench.log.gz', open: async function* () { yield* chunks; } });
  results.push(await measure('flowcut: S3 .log.gz object (gunzip + lines)', n, () => s3decoder.decodeObject(object(gzChunks)).then(() => s3decoder.flush())));
  results.push(await measure('flowcut: the same lines without gzip (parsing alone)', n, () => s3decoder.decodeObject(object(textChunks)).then(() => s3decoder.flush())));
  results.push(await measure('gunzipSync of the .log.gz alone', n, () => void gunzipSync(gz)));
  if (s3sink.rejects > 0 || s3sink.records !== 2 * n * ROUNDS) throw new Error(`text decoder lost records: ${s3sink.records}, ${s3sink.rejects} rejects`);

  clearInterval(sampler);
  const fmt = (v: number) => Math.round(v).toLocaleString('en-US').padStart(13);
  console.log('');
  console.log('case'.padEnd(58) + 'median rec/s'.padStart(13) + '  × naive' + 'best rec/s'.padStart(13) + '  × naive');
  const naive = results[0]!;
  for (const r of results) {
    console.log(r.name.padEnd(58) + fmt(r.median) + `  ${(r.median / naive.median).toFixed(2).padStart(6)}×` + fmt(r.best) + `  ${(r.best / naive.best).toFixed(2).padStart(6)}×`);
  }
  console.log('');
  console.log(`peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (includes the ${((compressed + gz.length + text.length) / 2 ** 20).toFixed(0)} MiB of input held in memory); heap used now ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);
  const kin = results[2]!, s3 = results[3]!, parsing = results[4]!;
  console.log(`goal: Kinesis decode ≥ 4× naive → median ${(kin.median / naive.median).toFixed(2)}×, best ${(kin.best / naive.best).toFixed(2)}×`);
  console.log(`goal: S3 line parsing ≥ 2 M records/s → parsing alone median ${(parsing.median / 1e6).toFixed(2)} M, best ${(parsing.best / 1e6).toFixed(2)} M; with gunzip median ${(s3.median / 1e6).toFixed(2)} M, best ${(s3.best / 1e6).toFixed(2)} M`);
  if (naiveTokens === 0) console.log('(naive baseline produced no tokens)');
}

await main();
