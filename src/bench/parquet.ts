/**
 * npm run bench:parquet — reading flow-log Parquet back on one core.
 *
 * Input: simulated VPC traffic (src/sim/traffic.ts; BENCH_RECORDS records, 500,000 by default)
 * written by flowcut's own ArchiveWriter, i.e. one file per hour partition, row groups of up to
 * 2^20 rows and one page per column chunk (BENCH_CODEC, zstd by default). That is what
 * `flowcut cat` or a re-archive reads when its input is flowcut's archive.
 *
 * Cases, interleaved round by round on the same bytes:
 * - hyparquet's parquetRead of the whole file into rows (no inflation limit): the library used
 *   the plain way;
 * - reads of 65,536 rows into rows under the inflation limit: the decoder before it read whole
 *   row groups, which inflated a single-page chunk again for every read;
 * - decodeParquet, the decoder itself: whole row groups within the limit, columns straight into
 *   FlowBatch columns.
 */
import { readFile, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parquetMetadata, parquetRead } from 'hyparquet';
import type { Codec } from '../archive/parquet/writer.js';
import { LocalStore } from '../archive/store.js';
import { hashHex } from '../archive/units.js';
import { ArchiveWriter } from '../archive/writer.js';
import { CappedInflation, decodeParquet, flowColumnsOf } from '../decode/parquet.js';
import { DEFAULT_LIMITS } from '../decode/errors.js';
import { loadZstd } from '../decode/zstd.js';
import type { FlowBatch, Origin } from '../flowlog/batch.js';
import type { LineParser } from '../flowlog/parser.js';
import { SIM_HEADER, simulateTraffic } from '../sim/traffic.js';
import { median, parseLines } from './support.js';

const TARGET = Number(process.env.BENCH_RECORDS ?? 500_000);
const CODEC = (process.env.BENCH_CODEC ?? 'zstd') as Codec;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const LIMIT = DEFAULT_LIMITS.maxInflatedBytes;

/** The simulated records as the archive writes them: one Parquet file's bytes. */
async function archiveFile(dir: string): Promise<{ bytes: Buffer; records: number }> {
  // 50 minutes inside one hour, so that every record lands in the same hour partition (one file);
  // the rate grows until there are enough records (about 1.8 per ENI-minute per unit of rate).
  let lines: string[] = [];
  for (let rate = Math.ceil(TARGET / 90); lines.length < TARGET; rate *= 2) {
    lines = simulateTraffic({ seed: 1, minutes: 50, flowsPerEniMinute: rate, startSec: 1767225600 }).map((l) => l.line);
  }
  lines.length = TARGET;
  const origin: Origin = { location: 'bench://parquet', kind: 'file' };
  const batches = parseLines(Buffer.from(`${SIM_HEADER}\n${lines.join('\n')}\n`), origin);
  const store = new LocalStore(dir);
  const writer = new ArchiveWriter({ store, codec: CODEC, chunkRecords: 4_000_000, maxRecords: 4_000_000, maxBytes: 2 ** 40 });
  const unit = { objectId: hashHex('bench-parquet', 20), location: origin.location };
  for (const b of batches) writer.add(b, unit);
  writer.endObject(unit);
  const r = await writer.flush();
  // The largest file, should the records have been split over more than one.
  let best: Buffer = Buffer.alloc(0);
  for (const key of r.files) {
    const bytes = await readFile(join(dir, key));
    if (bytes.length > best.length) best = bytes;
  }
  const meta = parquetMetadata(best.buffer.slice(best.byteOffset, best.byteOffset + best.byteLength) as ArrayBuffer);
  return { bytes: best, records: Number(meta.num_rows) };
}

interface Case {
  readonly name: string;
  readonly run: () => Promise<number>;
  readonly rates: number[];
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US');
}

async function main(): Promise<void> {
  await loadZstd();
  const dir = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'flowcut-bench-parquet-'));
  try {
    const { bytes, records } = await archiveFile(dir);
    const file = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
    const meta = parquetMetadata(file);
    const columns = flowColumnsOf(meta);
    const inflated = meta.row_groups.flatMap((g) => g.columns).reduce((t, c) => t + Number(c.meta_data?.total_uncompressed_size ?? 0), 0);
    console.log(`flowcut bench:parquet — node ${process.version}, one warm-up round, then ${ROUNDS} measured rounds, median shown`);
    console.log(
      `input: one archive file of ${fmt(records)} records (${(bytes.length / 2 ** 20).toFixed(1)} MiB ${CODEC}, ${(inflated / 2 ** 20).toFixed(1)} MiB inflated, ${meta.row_groups.length} row group(s), ${columns.length} flow-log columns, one page per column chunk), inflation limit ${LIMIT / 2 ** 20} MiB`,
    );
    const limited = new CappedInflation(LIMIT);
    const unlimited = new CappedInflation(Number.POSITIVE_INFINITY);
    const cases: Case[] = [
      {
        name: 'hyparquet parquetRead, whole file into rows (no limit)',
        rates: [],
        run: async () => {
          let n = 0;
          await parquetRead({ file, metadata: meta, columns, compressors: unlimited.compressors, onComplete: (rows) => (n = rows.length) });
          return n;
        },
      },
      {
        name: '65,536-row reads into rows, limit per read (before)',
        rates: [],
        run: async () => {
          let n = 0;
          for (let start = 0; start < records; start += 65_536) {
            limited.startRead();
            await parquetRead({ file, metadata: meta, columns, rowStart: start, rowEnd: Math.min(records, start + 65_536), compressors: limited.compressors, onComplete: (rows) => (n += rows.length) });
          }
          return n;
        },
      },
      {
        name: 'decodeParquet: row groups whole, columns into batches',
        rates: [],
        run: async () => {
          let n = 0;
          const parser = { emit: (b: FlowBatch) => (n += b.length) } as unknown as LineParser;
          await decodeParquet(bytes, { location: 'bench://parquet', kind: 'file' }, parser, LIMIT);
          return n;
        },
      },
    ];
    for (const c of cases) {
      const n = await c.run();
      if (n !== records) throw new Error(`${c.name}: ${n} rows, expected ${records}`);
    }
    for (let r = 0; r < ROUNDS; r++) {
      for (const c of cases) {
        const t0 = process.hrtime.bigint();
        await c.run();
        c.rates.push(records / (Number(process.hrtime.bigint() - t0) / 1e9));
      }
    }
    console.log('');
    console.log('case'.padEnd(58) + 'median rec/s'.padStart(14) + '  ms/file'.padStart(10));
    for (const c of cases) console.log(c.name.padEnd(58) + fmt(median(c.rates)).padStart(14) + fmt((1000 * records) / median(c.rates)).padStart(10));
    const [whole, before, now] = cases.map((c) => median(c.rates)) as [number, number, number];
    console.log('');
    console.log(`decodeParquet: ${(now / before).toFixed(1)}× the 65,536-row reads, ${(now / whole).toFixed(2)}× hyparquet's whole-file read`);
    console.log(`RSS at the end ${(process.memoryUsage().rss / 2 ** 20).toFixed(0)} MiB`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await main();
