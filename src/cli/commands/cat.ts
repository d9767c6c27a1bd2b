import { Command, Option } from 'commander';
import { createKinesisClient, createS3Client } from '../../aws/clients.js';
import { FlowDecoder, INPUT_KINDS, type InputKind } from '../../decode/decoder.js';
import type { FlowBatch } from '../../flowlog/batch.js';
import { FilterError, parseCondition, RecordFilter } from '../../flowlog/filter.js';
import { rejectPlace, type Reject } from '../../flowlog/sink.js';
import { listLocalObjects } from '../../sources/files.js';
import { tailKinesis, type TailFrom } from '../../sources/kinesis-tail.js';
import { listS3Objects } from '../../sources/s3.js';
import type { ObjectIn } from '../../sources/types.js';
import { CliError, formatOption } from '../errors.js';
import { RejectsFile } from '../rejects-file.js';
import { createWriter, OUTPUTS, type OutputKind, type RecordWriter } from '../output.js';

interface CatOptions {
  output?: OutputKind;
  where: string[];
  format?: string;
  input: InputKind;
  rejects?: string;
  from: string;
  limit?: string;
  region?: string;
  endpointUrl?: string;
  exitWhenIdle?: string;
  color?: boolean;
  quiet?: boolean;
}

/** Stops decoding once --limit records were written. */
class LimitReached extends Error {}

const SHOWN_REJECTS = 5;

export function registerCat(program: Command): void {
  program
    .command('cat')
    .description('Decode VPC Flow Logs from any delivery and print them as records a person can read.')
    .argument('<source...>', 'file, directory, - (stdin), s3://bucket/prefix or kinesis://STREAM')
    .addOption(new Option('-o, --output <kind>', 'table (default on a terminal), jsonl (default otherwise), csv, or count').choices(OUTPUTS))
    .option('-w, --where <condition>', 'keep records matching FIELD OP VALUE (OP: = != > >= < <=); repeat to AND', collect, [])
    .option('-f, --format <format>', "format of lines without a header: AWS's '${field} ...' string, field names, or 'default'")
    .addOption(new Option('--input <kind>', 'what the bytes hold; auto detects gzip, CloudWatch JSON, envelopes, Parquet and lines').choices(INPUT_KINDS).default('auto'))
    .option('--rejects <file>', 'write lines and payloads that could not be decoded to FILE (JSON lines with location and reason; past 100 in one payload or object, the rest are counted in one line)')
    .option('--from <position>', 'for kinesis://: latest, trim-horizon, or an ISO time', 'latest')
    .option('--exit-when-idle <seconds>', 'for kinesis://: stop once every shard has had no new records for this long')
    .option('-n, --limit <n>', 'stop after writing N records')
    .option('--region <region>', 'AWS region (default: AWS_REGION or your profile)')
    .option('--endpoint-url <url>', 'endpoint for S3 or Kinesis (default: AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL)')
    .option('--no-color', 'no colours in table output (also NO_COLOR=1; FORCE_COLOR=1 forces them)')
    .option('-q, --quiet', 'no summary on stderr')
    .addHelpText(
      'after',
      `
Examples:
  flowcut cat flows.log.gz                              an S3 text object, with its header
  flowcut cat ./AWSLogs/ --where action=REJECT          every object below a directory
  aws kinesis get-records --shard-iterator "$IT" | flowcut cat -
  flowcut cat s3://my-bucket/AWSLogs/123456789012/vpcflowlogs/ --output csv
  flowcut cat kinesis://vpc-flows --from trim-horizon --where dstport=22 --where 'srcaddr!=10.0.0.0/8'

Records use AWS's Parquet/Athena column names (account_id, log_status, tcp_flags, ...); '-' is null.
Bad lines are counted and reported with their location; decoding goes on.`,
    )
    .action(async (sources: string[], opts: CatOptions) => runCat(sources, opts));
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

async function runCat(sources: string[], opts: CatOptions): Promise<void> {
  let filter: RecordFilter;
  try {
    filter = new RecordFilter(opts.where.map(parseCondition));
  } catch (err) {
    if (err instanceof FilterError) throw new CliError(err.message);
    throw err;
  }
  const format = formatOption(opts.format);
  const limit = opts.limit === undefined ? Infinity : positiveInt(opts.limit, '--limit');
  const from = parseFrom(opts.from);
  const idleMs = opts.exitWhenIdle === undefined ? undefined : positiveInt(opts.exitWhenIdle, '--exit-when-idle') * 1000;
  const output: OutputKind = opts.output ?? (process.stdout.isTTY ? 'table' : 'jsonl');
  const color = opts.color !== false && !process.env.NO_COLOR && (process.stdout.isTTY === true || (process.env.FORCE_COLOR ?? '0') !== '0');
  const writer = createWriter(output, process.stdout, color);
  const rejectsFile = opts.rejects ? new RejectsFile(opts.rejects, 'w') : undefined;
  let shownRejects = 0;

  const queue: FlowBatch[] = [];
  const onReject = (r: Reject): void => {
    rejectsFile?.write(r);
    if (shownRejects++ < SHOWN_REJECTS && !opts.quiet) {
      process.stderr.write(`flowcut: ${rejectPlace(r)}: ${r.reason}\n`);
    }
  };
  const drain = async (): Promise<void> => {
    while (queue.length > 0) {
      const batch = queue.shift()!;
      const test = filter.empty ? undefined : filter.forFormat(batch.format);
      for (let r = 0; r < batch.length; r++) {
        if (test && !test(batch, r)) continue;
        if (writer.written >= limit) throw new LimitReached();
        await writer.row(batch, r);
      }
    }
    if (writer.written >= limit) throw new LimitReached();
    await rejectsFile?.drained();
  };
  const decoder = new FlowDecoder({ batch: (b) => queue.push(b), reject: onReject }, { input: opts.input, drain, ...(format ? { format } : {}) });
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
  });

  try {
    for (const source of sources) {
      if (stop.signal.aborted) break;
      if (source.startsWith('kinesis://')) {
        await catKinesis(source, decoder, drain, from, idleMs, opts, stop.signal);
      } else {
        for await (const obj of objectsOf(source, opts, stop.signal)) {
          if (stop.signal.aborted) break;
          await decoder.decodeObject(obj);
          decoder.flush();
          await drain();
        }
      }
    }
    decoder.flush();
    await drain();
  } catch (err) {
    if (!(err instanceof LimitReached)) throw toCliError(err);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    await writer.end();
    await rejectsFile?.end();
  }
  if (!opts.quiet) summarise(decoder, writer, shownRejects, opts.rejects);
}

async function catKinesis(
  source: string,
  decoder: FlowDecoder,
  drain: () => Promise<void>,
  from: TailFrom,
  idleMs: number | undefined,
  opts: CatOptions,
  signal: AbortSignal,
): Promise<void> {
  const streamName = source.slice('kinesis://'.length).replace(/\/$/, '');
  if (streamName === '' || streamName.includes('/')) throw new CliError(`bad source '${source}': expected kinesis://STREAM`);
  const client = createKinesisClient(awsOptions(opts));
  try {
    for await (const rec of tailKinesis(client, { streamName, from, signal, ...(idleMs === undefined ? {} : { idleExitMs: idleMs }) })) {
      decoder.decodeKinesisRecord(rec);
      decoder.flush();
      await drain();
    }
  } finally {
    client.destroy();
  }
}

async function* objectsOf(source: string, opts: CatOptions, signal: AbortSignal): AsyncGenerator<ObjectIn> {
  if (source.startsWith('s3://')) {
    const client = createS3Client(awsOptions(opts));
    try {
      yield* listS3Objects(client, source, { signal });
    } finally {
      client.destroy();
    }
    return;
  }
  if (/^[a-z0-9]+:\/\//i.test(source)) throw new CliError(`unsupported source '${source}': use a path, -, s3://bucket/prefix or kinesis://STREAM`);
  yield* listLocalObjects(source);
}

function awsOptions(opts: CatOptions): { region?: string; endpoint?: string } {
  return { ...(opts.region ? { region: opts.region } : {}), ...(opts.endpointUrl ? { endpoint: opts.endpointUrl } : {}) };
}

function parseFrom(text: string): TailFrom {
  if (text === 'latest' || text === 'trim-horizon') return text;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new CliError(`--from must be latest, trim-horizon or an ISO time, not '${text}'`);
  return new Date(t);
}

function positiveInt(text: string, name: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n <= 0) throw new CliError(`${name} must be a positive whole number, not '${text}'`);
  return n;
}

function toCliError(err: unknown): unknown {
  if (err instanceof CliError) return err;
  const e = err as Error & { name?: string; $metadata?: unknown };
  if (e instanceof Error && (e.name === 'AwsConfigError' || e.name === 'S3UrlError' || e.$metadata !== undefined || /^no such file|^cannot read/.test(e.message))) {
    return new CliError(e.message, 1);
  }
  return err;
}

function summarise(decoder: FlowDecoder, writer: RecordWriter, shown: number, rejectsPath: string | undefined): void {
  const s = decoder.stats;
  const parts = [`${s.records.toLocaleString('en-US')} records decoded`, `${writer.written.toLocaleString('en-US')} written`];
  if (s.rejected > 0) parts.push(`${s.rejected} rejected${rejectsPath ? ` (kept in ${rejectsPath})` : ' (use --rejects FILE to keep them)'}`);
  if (s.headers > 0) parts.push(`${s.headers} header line${s.headers > 1 ? 's' : ''}`);
  if (s.nodata + s.skipdata > 0) parts.push(`${s.nodata} NODATA, ${s.skipdata} SKIPDATA`);
  if (s.controlMessages > 0) parts.push(`${s.controlMessages} control message${s.controlMessages > 1 ? 's' : ''} skipped`);
  process.stderr.write(`flowcut: ${parts.join(', ')}\n`);
  if (s.rejected > shown && shown >= SHOWN_REJECTS) process.stderr.write(`flowcut: (${s.rejected - SHOWN_REJECTS} more rejects not shown)\n`);
}
