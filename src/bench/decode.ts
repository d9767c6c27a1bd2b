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
import { SIM_HEADER, simulateTraffic } from '../sim/traffic.js';
import { median } from './support.js';
import type { KinesisRecordIn } from '../sources/types.js';

const EVENTS_PER_RECORD = 1000;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 9);

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

/** Counts what it is given and, like the pipeline once its sinks are done, gives batches back. */
class CountingSink implements RecordSink {
  records = 0;
  rejects = 0;
  checksum = 0;
  decoder?: FlowDecoder;
  batch(b: FlowBatch): void {
    this.records += b.length;
    const bytes = b.numbers[b.format.indexOf('bytes')];
    if (bytes) this.checksum += bytes[b.length - 1]!;
    this.decoder?.recycle(b);
  }
  reject(): void {
    this.rejects++;
  }
}

interface Case {
  name: string;
  run: () => void | Promise<void>;
  rates: number[];
}

/**
 * Runs every case once per round, interleaved, so that a machine shared with other work slows
 * all cases alike; ratios are taken within a round, then the median over rounds is reported.
 */
async function runRounds(cases: Case[], records: number): Promise<void> {
  // One round unmeasured first: compilation and the heap's first growth are not throughput.
  for (const c of cases) await c.run();
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of cases) {
      const t0 = process.hrtime.bigint();
      await c.run();
      c.rates.push(records / (Number(process.hrtime.bigint() - t0) / 1e9));
    }
  }
}

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 5);

async function main(): Promise<void> {
  const total = Number(process.env.BENCH_RECORDS ?? 300_000);
  console.log(`flowcut bench:decode — node ${process.version}, one warm-up round, then ${ROUNDS} measured rounds, median shown`);
  let lines: string[] | undefined = makeLines(total + 50_000);
  const records = makeRecords(lines);
  const n = records.length * EVENTS_PER_RECORD;
  const compressed = records.reduce((s, r) => s + r.data.length, 0);
  const inflated = records.reduce((s, r) => s + gunzipSync(r.data).length, 0);
  console.log(`input: ${records.length} Kinesis records × ${EVENTS_PER_RECORD} events = ${n} flow records; ${(compressed / 1e6).toFixed(1)} MB gzip, ${(inflated / 1e6).toFixed(1)} MB JSON (${(inflated / n).toFixed(0)} B/record)`);

  let naiveTokens = 0;
  const sink = new CountingSink();
  const decoder = new FlowDecoder(sink);
  sink.decoder = decoder;
  // S3 .log.gz text object: header + lines, streamed in 1 MiB chunks as a file or S3 body would be.
  const text = Buffer.from(`${SIM_HEADER}\n${lines.slice(0, n).join('\n')}\n`);
  // The inputs now live in buffers; the 350 k line strings would only make every collection
  // (of any case) slower, which a decoder in production does not pay.
  lines = undefined;
  const gz = gzipSync(text);
  const chunksOf = (buf: Buffer): Buffer[] => {
    const out: Buffer[] = [];
    for (let i = 0; i < buf.length; i += 1 << 20) out.push(buf.subarray(i, i + (1 << 20)));
    return out;
  };
  const gzChunks = chunksOf(gz), textChunks = chunksOf(text);
  const s3sink = new CountingSink();
  const s3decoder = new FlowDecoder(s3sink);
  s3sink.decoder = s3decoder;
  const object = (chunks: Buffer[]) => ({ location: 'bench.log.gz', key: 'bench.log.gz', open: async function* () { yield* chunks; } });
  const cases: Case[] = [
    {
      name: 'naive: JSON.parse(gunzipSync(data)) + message.split(" ")',
      run: () => {
        for (const r of records) {
          const payload = JSON.parse(gunzipSync(r.data).toString()) as { logEvents: { message: string }[] };
          for (const e of payload.logEvents) naiveTokens += e.message.split(' ').length;
        }
      },
      rates: [],
    },
    { name: 'gunzipSync alone (floor for any decoder)', run: () => records.forEach((r) => gunzipSync(r.data)), rates: [] },
    {
      name: 'flowcut: FlowDecoder.decodeKinesisRecord → typed columns',
      run: () => {
        for (const r of records) decoder.decodeKinesisRecord(r);
        decoder.flush();
      },
      rates: [],
    },
    { name: 'flowcut: S3 .log.gz object (gunzip + lines)', run: () => s3decoder.decodeObject(object(gzChunks)).then(() => s3decoder.flush()), rates: [] },
    { name: 'flowcut: the same lines without gzip (parsing alone)', run: () => s3decoder.decodeObject(object(textChunks)).then(() => s3decoder.flush()), rates: [] },
    { name: 'gunzipSync of the .log.gz alone', run: () => void gunzipSync(gz), rates: [] },
  ];
  await runRounds(cases, n);
  if (sink.rejects > 0 || sink.records !== n * (ROUNDS + 1)) throw new Error(`decoder lost records: ${sink.records} of ${n * (ROUNDS + 1)}, ${sink.rejects} rejects`);
  if (s3sink.rejects > 0 || s3sink.records !== 2 * n * (ROUNDS + 1)) throw new Error(`text decoder lost records: ${s3sink.records}, ${s3sink.rejects} rejects`);

  clearInterval(sampler);
  const naive = cases[0]!;
  const ratio = (c: Case) => median(c.rates.map((rate, i) => rate / naive.rates[i]!));
  console.log('');
  console.log('case'.padEnd(58) + 'median rec/s'.padStart(14) + '  best rec/s'.padStart(14) + '   × naive');
  for (const c of cases) {
    console.log(c.name.padEnd(58) + Math.round(median(c.rates)).toLocaleString('en-US').padStart(14) + Math.round(Math.max(...c.rates)).toLocaleString('en-US').padStart(14) + `   ${ratio(c).toFixed(2).padStart(6)}×`);
  }
  console.log('(× naive: the median over rounds of each round\'s ratio; rounds interleave the cases)');
  console.log('');
  console.log(`peak RSS ${(peakRss / 2 ** 20).toFixed(0)} MiB (includes the ${((compressed + gz.length + text.length) / 2 ** 20).toFixed(0)} MiB of input held in memory); heap used now ${(process.memoryUsage().heapUsed / 2 ** 20).toFixed(0)} MiB`);
  const [, , kin, s3, parsing] = cases as [Case, Case, Case, Case, Case];
  console.log(`goal: Kinesis decode ≥ 4× naive → ${ratio(kin).toFixed(2)}× (${Math.round(median(kin.rates)).toLocaleString('en-US')} records/s)`);
  console.log(`goal: S3 .log.gz line parsing ≥ 2 M records/s → parsing ${(median(parsing.rates) / 1e6).toFixed(2)} M/s (best ${(Math.max(...parsing.rates) / 1e6).toFixed(2)} M/s); with gunzip ${(median(s3.rates) / 1e6).toFixed(2)} M/s`);
  if (naiveTokens === 0) console.log('(naive baseline produced no tokens)');
}

await main();
