import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { Command, Option } from 'commander';
import { subscriptionPayload } from '../../sim/cloudwatch.js';
import { SIM_HEADER, simulateTraffic, type SimLine } from '../../sim/traffic.js';
import { CliError } from '../errors.js';

const SHAPES = ['lines', 's3', 'get-records'] as const;
type Shape = (typeof SHAPES)[number];

interface SimulateOptions {
  minutes: string;
  seed: string;
  rate: string;
  attacks: boolean;
  as: Shape;
  out?: string;
  labels?: string;
  start?: string;
}

export function registerSimulate(program: Command): void {
  program
    .command('simulate')
    .description('Generate simulated VPC Flow Logs (a small VPC with normal traffic and injected attacks) for demos and tests.')
    .option('-m, --minutes <n>', 'length of the simulated period, in 1-minute aggregation windows', '60')
    .option('--seed <n>', 'random seed: the same seed gives the same traffic', '42')
    .option('--rate <n>', 'normal flows per network interface per minute (roughly)', '8')
    .option('--start <time>', 'ISO time of the first window (default 2026-01-05T00:00Z)')
    .option('--no-attacks', 'normal traffic only (no port scan, SSH brute force or exfiltration)')
    .addOption(new Option('--as <shape>', 'lines: plain v2 records; s3: a gzip text object as AWS writes to S3; get-records: `aws kinesis get-records` JSON of CloudWatch Logs payloads').choices(SHAPES).default('lines'))
    .option('-o, --out <path>', 'file to write (default stdout); for --as s3, a directory receives the object under AWS\'s key layout')
    .option('--labels <file>', 'also write the ground truth as CSV: record,label,interface_id; record is the 1-based line number in --as lines output (in an --as s3 object, the line number less the header line; label empty for normal traffic)')
    .action((opts: SimulateOptions) => runSimulate(opts));
}

function runSimulate(opts: SimulateOptions): void {
  const minutes = wholeNumber(opts.minutes, '--minutes');
  const startMs = opts.start === undefined ? Date.UTC(2026, 0, 5) : Date.parse(opts.start);
  if (Number.isNaN(startMs)) throw new CliError(`--start must be an ISO time, not '${opts.start}'`);
  const lines = simulateTraffic({ seed: wholeNumber(opts.seed, '--seed'), minutes, flowsPerEniMinute: wholeNumber(opts.rate, '--rate'), attacks: opts.attacks, startSec: Math.floor(startMs / 1000) });
  let body: Buffer;
  let target = opts.out;
  switch (opts.as) {
    case 'lines':
      body = Buffer.from(lines.map((l) => l.line).join('\n') + '\n');
      break;
    case 's3':
      body = gzipSync(`${SIM_HEADER}\n${lines.map((l) => l.line).join('\n')}\n`);
      if (target !== undefined && !/\.gz$/.test(target)) target = join(target, s3Key(startMs));
      break;
    case 'get-records':
      body = Buffer.from(JSON.stringify({ Records: cloudWatchRecords(lines), MillisBehindLatest: 0 }, null, 1));
      break;
  }
  if (target === undefined || target === '-') {
    process.stdout.write(body);
  } else {
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, body);
    process.stderr.write(`flowcut: wrote ${lines.length} records to ${target}\n`);
  }
  if (opts.labels) {
    writeFileSync(opts.labels, 'record,label,interface_id\n' + lines.map((l, i) => `${i + 1},${l.label},${l.interfaceId}`).join('\n') + '\n');
  }
}

/** One payload per ENI and minute, as CloudWatch Logs batches a log stream. */
function cloudWatchRecords(lines: SimLine[]): object[] {
  const groups = new Map<string, string[]>();
  for (const l of lines) {
    const key = `${l.interfaceId} ${Math.floor(l.endSec / 60)}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = []));
    g.push(l.line);
  }
  let seq = 49_000_000_000_000_000_000n;
  return [...groups].map(([key, group]) => {
    const eni = key.split(' ')[0]!;
    const minute = Number(key.split(' ')[1]);
    return {
      SequenceNumber: String(++seq),
      ApproximateArrivalTimestamp: minute * 60 + 75,
      Data: subscriptionPayload(group, { logStream: `${eni}-all`, logGroup: 'vpc-flow-logs' }).toString('base64'),
      PartitionKey: eni,
    };
  });
}

function s3Key(startMs: number): string {
  const d = new Date(startMs);
  const p = (n: number) => String(n).padStart(2, '0');
  const stamp = `${d.getUTCFullYear()}${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}T${p(d.getUTCHours())}${p(d.getUTCMinutes())}Z`;
  return `AWSLogs/123456789012/vpcflowlogs/us-east-1/${d.getUTCFullYear()}/${p(d.getUTCMonth() + 1)}/${p(d.getUTCDate())}/123456789012_vpcflowlogs_us-east-1_fl-0f1c0de5a1b2c3d4e_${stamp}_5eed0001.log.gz`;
}

function wholeNumber(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new CliError(`${name} must be a whole number, not '${text}'`);
  return n;
}
