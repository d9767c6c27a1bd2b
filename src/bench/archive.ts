/**
 * npm run bench:archive — the Parquet archive on one core, against AWS's own text objects.
 *
 * A day of simulated traffic (src/sim/traffic.ts, one seed per hour, ~10 M records by default;
 * BENCH_RECORDS to change) is cut into AWS's S3 text objects (header line + lines, gzip, one
 * object per 5 minutes for one account and region, as a flow log to S3 delivers them) whose
 * gzip size is the baseline. The same bytes are parsed with the line parser (untimed) into
 * FlowBatch columns, which the ArchiveWriter writes as Parquet on local disk (timed: add() +
 * flush(), i.e. columns → encoding → compression → fsync'd files), one file per hour partition.
 * Then the day-long top-talkers question runs with DuckDB over the archive.
 *
 * Also: the same first hour written as one file per 5-minute object (what a backfill of AWS's
 * objects gives before compaction), to show what small files cost.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { openArchiveView, QUESTIONS } from '../archive/query.js';
import { LocalStore } from '../archive/store.js';
import { hashHex } from '../archive/units.js';
import { ArchiveWriter } from '../archive/writer.js';
import type { Codec } from '../archive/parquet/writer.js';
import type { FlowBatch, Origin } from '../flowlog/batch.js';
import { SIM_HEADER, simulateTraffic } from '../sim/traffic.js';
import { parseLines } from './support.js';

const TARGET = Number(process.env.BENCH_RECORDS ?? 10_000_000);
const CODEC = (process.env.BENCH_CODEC ?? 'zstd') as Codec;
const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const FLOW_LOG = 'fl-0123456789abcdef0';
const DAY = Math.floor(Date.UTC(2026, 0, 5) / 1000);
/** Records per ENI-minute of simulateTraffic's `rate` 1, over a day (measured: 682,643 at rate 100). */
const PER_RATE_DAY = 6826;

const GOAL_RATE = 500_000;
const GOAL_SIZE = 0.6;

interface TextObject {
  readonly key: string;
  readonly origin: Origin;
  readonly text: Buffer;
}

/** One hour of traffic as AWS's 5-minute text objects. */
function hourObjects(h: number, rate: number): TextObject[] {
  const start = DAY + h * 3600;
  const lines = simulateTraffic({ seed: 1000 + h, startSec: start, minutes: 60, flowsPerEniMinute: rate, account: ACCOUNT, attacks: h % 6 === 3 });
  const windows: string[][] = Array.from({ length: 12 }, () => []);
  for (const l of lines) {
    const minute = Math.min(59, Math.max(0, Math.floor((l.endSec - 1 - start) / 60)));
    windows[Math.floor(minute / 5)]!.push(l.line);
  }
  return windows.map((w, i) => {
    const t = new Date((start + i * 300 + 300) * 1000);
    const stamp = t.toISOString().replace(/[-:]/g, '').slice(0, 13) + 'Z';
    const d = t.toISOString().slice(0, 10).replace(/-/g, '/');
    const key = `AWSLogs/${ACCOUNT}/vpcflowlogs/${REGION}/${d}/${ACCOUNT}_vpcflowlogs_${REGION}_${FLOW_LOG}_${stamp}_${hashHex(stamp, 8)}.log.gz`;
    const origin: Origin = { location: `s3://bench-flow-logs/${key}`, kind: 's3', s3: { account: ACCOUNT, region: REGION, flowLogId: FLOW_LOG, timeMs: t.getTime(), hive: false } };
    return { key, origin, text: Buffer.from(`${SIM_HEADER}\n${w.join('\n')}\n`) };
  });
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

let peakRss = 0;
const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 20);
const gc = (globalThis as { gc?: () => void }).gc;

async function main(): Promise<void> {
  const rate = Math.max(1, Math.round(TARGET / PER_RATE_DAY));
  console.log(`flowcut bench:archive — node ${process.version}, codec ${CODEC}, one day of simulated traffic (rate ${rate}/ENI-minute, target ${fmt(TARGET)} records)`);
  const dir = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'flowcut-bench-archive-'));
  const store = new LocalStore(dir);
  const writer = new ArchiveWriter({ store, codec: CODEC, chunkRecords: 4_000_000, maxRecords: 4_000_000, maxBytes: 2 ** 40 });
  let records = 0, textBytes = 0, gzipBytes = 0, objects = 0, parquetBytes = 0, files = 0;
  let genMs = 0, gzipMs = 0, parseMs = 0, writeMs = 0;
  let smallFiles = { records: 0, bytes: 0, files: 0, gzip: 0 };
  try {
    for (let h = 0; h < 24; h++) {
      let t = performance.now();
      const objs = hourObjects(h, rate);
      genMs += performance.now() - t;
      t = performance.now();
      let hourGzip = 0;
      for (const o of objs) hourGzip += gzipSync(o.text).length;
      gzipMs += performance.now() - t;
      gzipBytes += hourGzip;
      textBytes += objs.reduce((s, o) => s + o.text.length, 0);
      objects += objs.length;
      t = performance.now();
      const parsed = objs.map((o) => parseLines(o.text, o.origin));
      parseMs += performance.now() - t;
      const n = parsed.reduce((s, bs) => s + bs.reduce((x, b) => x + b.length, 0), 0);
      gc?.();
      // Timed: the archive writer alone, from FlowBatch columns to durable Parquet files.
      const unit = { objectId: hashHex(`bench-hour-${h}`, 20), location: `bench://hour/${h}` };
      t = performance.now();
      for (const batches of parsed) for (const b of batches) writer.add(b, unit);
      writer.endObject(unit);
      const r = await writer.flush();
      writeMs += performance.now() - t;
      parquetBytes += r.bytes;
      files += r.files.length;
      records += n;
      if (h === 0) {
        // The same hour as one file per 5-minute object (backfill of AWS's objects, before compaction).
        const small = new ArchiveWriter({ store: new LocalStore(join(dir, 'small')), codec: CODEC });
        for (let i = 0; i < parsed.length; i++) {
          const u = { objectId: hashHex(objs[i]!.key, 20), location: objs[i]!.origin.location };
          for (const b of parsed[i]!) small.add(b, u);
          small.endObject(u);
        }
        const s = await small.flush();
        smallFiles = { records: n, bytes: s.bytes, files: s.files.length, gzip: hourGzip };
      }
      process.stderr.write(`\rhour ${String(h + 1).padStart(2)}/24: ${fmt(records)} records`);
    }
    process.stderr.write('\n');
    clearInterval(sampler);

    // The day-long top-talkers question, with the view (file listing and checks) included.
    const since = DAY * 1000, until = (DAY + 86_400) * 1000;
    const times: number[] = [];
    let top: Record<string, unknown>[] = [];
    let count = 0;
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      const view = await openArchiveView(store, { since, until });
      try {
        if (view.skipped.length > 0) throw new Error(`the view skipped ${view.skipped.length} file(s): ${view.skipped[0]!.key}: ${view.skipped[0]!.reason}`);
        top = (await view.connection.runAndReadAll(QUESTIONS.topTalkers(10))).getRowObjectsJson();
        times.push(performance.now() - t);
        if (i === 0) count = Number((await view.connection.runAndReadAll('SELECT count(*) AS n FROM flows')).getRowObjectsJson()[0]!.n);
      } finally {
        await view.close();
      }
    }
    if (count !== records) throw new Error(`archive holds ${count} records, ${records} were written`);

    const rate1 = records / (writeMs / 1000);
    const perRecord = parquetBytes / records, gzPerRecord = gzipBytes / records;
    const ratio = parquetBytes / gzipBytes;
    console.log('');
    console.log(`input: ${fmt(records)} records over 24 h (${fmt(objects)} AWS text objects, ${fmt(textBytes / 1e6, 1)} MB text, ${fmt(gzipBytes / 1e6, 1)} MB gzip)`);
    console.log(`setup (untimed): simulate ${fmt(genMs / 1000, 1)} s, gzip ${fmt(gzipMs / 1000, 1)} s, parse ${fmt(parseMs / 1000, 1)} s`);
    console.log('');
    console.log(`write (FlowBatch → Parquet ${CODEC}, local disk, fsync): ${fmt(writeMs / 1000, 2)} s → ${fmt(rate1)} records/s; ${files} files, ${fmt(parquetBytes / 1e6, 1)} MB`);
    console.log(`size per record: Parquet ${fmt(perRecord, 2)} B, AWS .log.gz (5-min objects) ${fmt(gzPerRecord, 2)} B, text ${fmt(textBytes / records, 1)} B`);
    console.log(`first hour as 12 five-minute files: ${fmt(smallFiles.bytes / smallFiles.records, 2)} B/record = ${fmt(smallFiles.bytes / smallFiles.gzip, 3)}× gzip (${smallFiles.files} files)`);
    console.log(`top-talkers over the day (${fmt(count)} records, ${files} files; view + query): first ${fmt(times[0]! / 1000, 2)} s, best ${fmt(Math.min(...times) / 1000, 2)} s`);
    console.log(`  top: ${top.slice(0, 3).map((r) => `${String(r.srcaddr)} ${String(r.bytes)} B`).join(', ')}`);
    console.log(`peak RSS ${fmt(peakRss / 2 ** 20)} MiB`);
    console.log('');
    console.log('goal                                   measured');
    console.log(`write ≥ ${fmt(GOAL_RATE)} records/s on one core       ${fmt(rate1)} records/s  ${rate1 >= GOAL_RATE ? 'met' : 'NOT met'}`);
    console.log(`size ≤ ${GOAL_SIZE}× AWS gzip text (${CODEC})       ${fmt(ratio, 3)}×  ${ratio <= GOAL_SIZE ? 'met' : 'NOT met'}`);
    console.log(`day-long top-talkers over ${fmt(records / 1e6, 1)} M records    ${fmt(times[0]! / 1000, 2)} s (first run)`);
  } finally {
    clearInterval(sampler);
    if (!process.env.BENCH_KEEP) await rm(dir, { recursive: true, force: true });
    else console.log(`archive kept in ${dir}`);
  }
}

await main();
