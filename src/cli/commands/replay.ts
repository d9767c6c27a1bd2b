import { Command, Option } from 'commander';
import { createKinesisClient, createS3Client } from '../../aws/clients.js';
import { FlowDecoder, INPUT_KINDS, type InputKind } from '../../decode/decoder.js';
import type { FlowBatch } from '../../flowlog/batch.js';
import { cloudWatchPayloads, controlPayload, logEventsOf, replayPayloads, type Distribution, type LogEvent, type Payload } from '../../pipeline/replay.js';
import { listLocalObjects } from '../../sources/files.js';
import { listS3Objects } from '../../sources/s3.js';
import type { ObjectIn } from '../../sources/types.js';
import { CliError, formatOption } from '../errors.js';

interface ReplayCliOptions {
  stream: string;
  speed: string;
  max?: string;
  asFastAsPossible?: boolean;
  controlMessage?: boolean;
  distribution: Distribution;
  window: string;
  input: InputKind;
  format?: string;
  region?: string;
  endpointUrl?: string;
  quiet?: boolean;
}

export function registerReplay(program: Command): void {
  program
    .command('replay')
    .description('Put flow logs into a Kinesis stream exactly as a CloudWatch Logs subscription would: gzip JSON payloads, one log stream per interface, at their original pace.')
    .argument('<source...>', 'anything `flowcut cat` reads: file, directory, - (stdin), s3://bucket/prefix')
    .requiredOption('--stream <name>', 'the Kinesis stream to put into')
    .option('--speed <n>', 'pace relative to the records\' timestamps: 1 = real time, 60 = an hour per minute', '1')
    .option('--as-fast-as-possible', 'ignore timestamps; put as fast as the stream takes it')
    .option('--max <n>', 'stop after N flow records (the earliest N)')
    .option('--control-message', 'first put the CONTROL_MESSAGE CloudWatch sends when a subscription is created')
    .addOption(new Option('--distribution <how>', "partition key: the log stream (CloudWatch's default, ByLogStream) or random").choices(['by-log-stream', 'random']).default('by-log-stream'))
    .option('--window <seconds>', 'events of one log stream within this many seconds share a payload', '60')
    .addOption(new Option('--input <kind>', 'what the source bytes hold (as for cat)').choices(INPUT_KINDS).default('auto'))
    .option('-f, --format <format>', 'format of lines without a header (as for cat); payload lines keep it')
    .option('--region <region>', 'AWS region (default: AWS_REGION or your profile)')
    .option('--endpoint-url <url>', 'endpoint for Kinesis (and S3 sources) (default: AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL)')
    .option('-q, --quiet', 'no progress bar or summary')
    .addHelpText(
      'after',
      `
Examples:
  flowcut simulate --minutes 30 -o flows.log && flowcut replay flows.log --stream vpc-flows --speed 60
  flowcut replay s3://my-logs/AWSLogs/123456789012/vpcflowlogs/ --stream vpc-flows --as-fast-as-possible

Each Kinesis record is what CloudWatch Logs writes: gzip'd {"messageType":"DATA_MESSAGE", ...}
with the log group and stream (eni-...-all) the records came from, or were derived from.`,
    )
    .action(async (sources: string[], opts: ReplayCliOptions) => runReplay(sources, opts));
}

async function runReplay(sources: string[], opts: ReplayCliOptions): Promise<void> {
  const speed = Number(opts.speed);
  if (!(speed > 0)) throw new CliError(`--speed must be a positive number, not '${opts.speed}'`);
  const max = opts.max === undefined ? Infinity : Number(opts.max);
  if (opts.max !== undefined && (!(max > 0) || !Number.isInteger(max))) throw new CliError(`--max must be a positive whole number, not '${opts.max}'`);
  const windowS = Number(opts.window);
  if (!(windowS > 0)) throw new CliError(`--window must be a positive number of seconds, not '${opts.window}'`);
  const format = formatOption(opts.format);
  const aws = { ...(opts.region ? { region: opts.region } : {}), ...(opts.endpointUrl ? { endpoint: opts.endpointUrl } : {}) };

  // Decode everything first: CloudWatch delivers in time order, and inputs needn't be.
  const events: LogEvent[] = [];
  const decoder = new FlowDecoder(
    { batch: (b: FlowBatch) => events.push(...logEventsOf(b)), reject: () => {} },
    { input: opts.input, ...(format ? { format } : {}) },
  );
  try {
    for (const source of sources) {
      for await (const obj of objectsOf(source, aws)) {
        await decoder.decodeObject(obj);
        decoder.flush();
      }
    }
  } catch (err) {
    throw new CliError((err as Error).message, 1);
  }
  events.sort((a, b) => a.timestampMs - b.timestampMs); // stable: input order within a timestamp
  if (events.length > max) events.length = max;

  const client = createKinesisClient(aws);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  const bar = !opts.quiet && process.stderr.isTTY ? await progressBar(events.length) : undefined;
  try {
    const payloads = function* (): Generator<Payload> {
      if (opts.controlMessage) yield controlPayload();
      yield* cloudWatchPayloads(events, { windowMs: windowS * 1000 });
    };
    const summary = await replayPayloads(client, payloads(), {
      streamName: opts.stream,
      speed,
      asFastAsPossible: opts.asFastAsPossible === true,
      distribution: opts.distribution,
      signal: stop.signal,
      onProgress: (p) => bar?.update(p.events, { payloads: p.payloads }),
      onRetry: (n, code) => {
        if (!opts.quiet) process.stderr.write(`flowcut: ${n} record(s) failed (${code}); retrying\n`);
      },
    });
    bar?.stop();
    if (!opts.quiet) {
      const s = (summary.elapsedMs / 1000).toFixed(1);
      const rejected = decoder.stats.rejected;
      process.stderr.write(
        `flowcut: put ${summary.events.toLocaleString('en-US')} flow records in ${summary.payloads.toLocaleString('en-US')} CloudWatch payloads ` +
          `(${(summary.bytes / 1e6).toFixed(2)} MB) into ${opts.stream} in ${s} s${rejected ? `; ${rejected} bad line(s) or payload(s) skipped` : ''}\n`,
      );
    }
  } catch (err) {
    bar?.stop();
    const e = err as Error & { $metadata?: unknown };
    if (e.$metadata !== undefined || e.name === 'AwsConfigError') throw new CliError(e.message, 1);
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    client.destroy();
  }
}

async function progressBar(total: number) {
  const { SingleBar, Presets } = (await import('cli-progress')).default;
  const bar = new SingleBar(
    { format: 'replay [{bar}] {percentage}% | {value}/{total} records | {payloads} payloads | ETA {eta_formatted}', stream: process.stderr, hideCursor: true },
    Presets.shades_classic,
  );
  bar.start(total, 0, { payloads: 0 });
  return bar;
}

async function* objectsOf(source: string, aws: { region?: string; endpoint?: string }): AsyncGenerator<ObjectIn> {
  if (source.startsWith('s3://')) {
    const client = createS3Client(aws);
    try {
      yield* listS3Objects(client, source);
    } finally {
      client.destroy();
    }
    return;
  }
  if (/^[a-z0-9]+:\/\//i.test(source)) throw new CliError(`unsupported source '${source}': use a path, -, or s3://bucket/prefix`);
  yield* listLocalObjects(source);
}
