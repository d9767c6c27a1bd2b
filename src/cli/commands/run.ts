import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { Command, Option } from 'commander';
import { openStore } from '../../archive/store.js';
import { ArchiveWriter } from '../../archive/writer.js';
import { CODECS, DEFAULT_ZSTD_LEVEL } from '../../archive/parquet/writer.js';
import { configuredEndpoint, createDynamoDbClient, createKinesisClient, createKinesisEfoClient, createS3Client, type AwsClientOptions } from '../../aws/clients.js';
import { checkpointInterval, ConfigError, CONSUMERS, defaultWorkerId, loadRunConfig, RUN_OUTPUTS, startPosition, type RunConfig } from '../../pipeline/config.js';
import { startDynalite } from '../../pipeline/embedded/dynalite.js';
import { startEmbeddedKinesis } from '../../pipeline/embedded/kinesis-local.js';
import { cloudWatchPayloads, replayPayloads, type LogEvent } from '../../pipeline/replay.js';
import { startService, type Service } from '../../pipeline/service.js';
import type { Sink } from '../../pipeline/sink.js';
import { ArchiveSink } from '../../pipeline/sinks/archive.js';
import { CountingSink } from '../../pipeline/sinks/counting.js';
import { DeadLetterSink } from '../../pipeline/sinks/dead-letter.js';
import { JsonLinesSink } from '../../pipeline/sinks/jsonl.js';
import { rejectPlace, type Reject } from '../../flowlog/sink.js';
import { simulateTraffic } from '../../sim/traffic.js';
import type { ConsumerEvent } from '../../sources/kinesis/consumer.js';
import type { LeaseEvent } from '../../sources/kinesis/lease-coordinator.js';
import { efoReader } from '../../sources/kinesis/efo-reader.js';
import { CliError } from '../errors.js';

interface RunCliOptions {
  config?: string;
  stream?: string;
  app?: string;
  workerId?: string;
  consumer?: string;
  from?: string;
  archive?: string;
  rejects?: string;
  archiveCompression?: string;
  archiveZstdLevel?: string;
  output?: string;
  failoverMs?: string;
  checkpointIntervalMs?: string;
  region?: string;
  quiet?: boolean;
  verbose?: boolean;
}

const EMBEDDED_STREAM = 'flowcut-demo';
/** Rejects reported one by one on stderr; the rest only in the dead-letter file. */
const SHOWN_REJECTS = 20;

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('The streaming service: read a Kinesis stream with leases shared by any number of workers, decode, and write to the sinks.')
    .option('--stream <name>', 'Kinesis stream fed by a CloudWatch Logs subscription (FLOWCUT_STREAM)')
    .option('--app <name>', 'application name = DynamoDB lease table; workers with the same app share the shards (FLOWCUT_APP; default flowcut-<stream>)')
    .option('--worker-id <id>', 'this worker\'s name in the lease table (FLOWCUT_WORKER_ID; default host-pid-random)')
    .addOption(new Option('--consumer <kind>', 'polling (GetRecords) or efo (enhanced fan-out, SubscribeToShard) (FLOWCUT_CONSUMER)').choices(CONSUMERS))
    .option('--from <position>', 'where shards without a checkpoint start: trim-horizon, latest (default; trim-horizon for the local demo stream) or an ISO time (FLOWCUT_FROM)')
    .option('--archive <target>', 'write the Parquet archive to DIR or s3://bucket/prefix (FLOWCUT_ARCHIVE)')
    .option('--archive-compression <codec>', `Parquet page compression: ${CODECS.join(', ')} (FLOWCUT_ARCHIVE_COMPRESSION; default zstd, the smallest files; snappy writes fastest)`)
    .option('--archive-zstd-level <n>', `zstd level 1-22 (FLOWCUT_ARCHIVE_ZSTD_LEVEL; default ${DEFAULT_ZSTD_LEVEL})`)
    .option('--rejects <file>', 'keep payloads that cannot be decoded in FILE, as JSON lines with the whole payload in base64, written before the checkpoint passes them; past 100 in one record, the rest are counted in one line (FLOWCUT_REJECTS; default .flowcut/rejects/<app>-<worker-id>.jsonl, created on the first one)')
    .addOption(new Option('-o, --output <kind>', 'decoded records to stdout as JSON lines, or none (FLOWCUT_OUTPUT; default jsonl, none with --archive)').choices(RUN_OUTPUTS))
    .option('--failover-ms <ms>', 'a lease not renewed for this long is taken by another worker (FLOWCUT_FAILOVER_MS; default 10000)')
    .option('--checkpoint-interval-ms <ms>', 'flush sinks and checkpoint this often (FLOWCUT_CHECKPOINT_INTERVAL_MS; default 10000, 60000 with --archive)')
    .option('--config <file>', 'JSON file with any of these settings (camelCase keys; FLOWCUT_CONFIG)')
    .option('--region <region>', 'AWS region (default: AWS_REGION or your profile)')
    .option('-q, --quiet', 'no progress messages on stderr')
    .option('-v, --verbose', 'also report checkpoints and every lease event on stderr')
    .addHelpText(
      'after',
      `
Settings come from --config, then FLOWCUT_* variables, then options (each wins over the one before).
Endpoints, region and credentials come from the standard AWS SDK configuration
(AWS_ENDPOINT_URL_KINESIS, AWS_ENDPOINT_URL_DYNAMODB, AWS_PROFILE, ...).

With no stream and no AWS configured, flowcut runs everything locally: kinesis-local on
127.0.0.1, leases in an in-process DynamoDB emulator, and simulated VPC traffic replayed into it.

SIGTERM or SIGINT: finish in-flight batches, flush, checkpoint, release leases, exit. Copies of
the signal within a second (a terminal's Ctrl-C also reaches wrappers that forward it) count as
one; another signal after that exits at once, without checkpointing.

Examples:
  flowcut run                                                   local demo, nothing to install
  flowcut run --stream vpc-flows --from trim-horizon --archive s3://my-archive/flows
  FLOWCUT_STREAM=vpc-flows FLOWCUT_WORKER_ID=w1 flowcut run --output none --config flowcut.json`,
    )
    .action(async (opts: RunCliOptions) => runService(opts));
}

/**
 * Before any lease is taken: a missing or forbidden archive bucket would otherwise show only as
 * a shard error retried for ever, with the records piling up behind it.
 */
async function checkArchiveBucket(s3: S3Client, archive: string): Promise<void> {
  const bucket = archive.slice('s3://'.length).split('/')[0] ?? '';
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
  } catch (err) {
    const status = (err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode;
    if (status === 404) throw new CliError(`archive bucket ${bucket} does not exist (flowcut setup --archive-bucket ${bucket} creates it)`, 1);
    if (status === 403) throw new CliError(`archive bucket ${bucket}: access denied (the consumer needs s3:ListBucket on it and s3:PutObject/GetObject/DeleteObject under the prefix; flowcut setup prints that policy)`, 1);
    throw new CliError(`archive bucket ${bucket}: ${(err as Error).message}`, 1);
  }
}

/** No endpoint and no sign of credentials: nothing to talk to but ourselves. */
function awsConfigured(env: NodeJS.ProcessEnv = process.env): boolean {
  if (configuredEndpoint('kinesis') !== undefined) return true;
  if (env.AWS_ACCESS_KEY_ID || env.AWS_PROFILE || env.AWS_WEB_IDENTITY_TOKEN_FILE || env.AWS_CONTAINER_CREDENTIALS_RELATIVE_URI || env.AWS_CONTAINER_CREDENTIALS_FULL_URI) return true;
  const dir = join(homedir(), '.aws');
  return existsSync(env.AWS_SHARED_CREDENTIALS_FILE ?? join(dir, 'credentials')) || existsSync(env.AWS_CONFIG_FILE ?? join(dir, 'config'));
}

async function runService(opts: RunCliOptions): Promise<void> {
  let cfg: RunConfig;
  try {
    cfg = loadRunConfig(
      {
        stream: opts.stream,
        app: opts.app,
        workerId: opts.workerId,
        consumer: opts.consumer,
        from: opts.from,
        archive: opts.archive,
        rejects: opts.rejects,
        archiveCompression: opts.archiveCompression,
        archiveZstdLevel: opts.archiveZstdLevel,
        output: opts.output,
        failoverMs: opts.failoverMs,
        checkpointIntervalMs: opts.checkpointIntervalMs,
        region: opts.region,
      },
      opts.config,
    );
  } catch (err) {
    if (err instanceof ConfigError) throw new CliError(err.message);
    throw err;
  }
  const log = (msg: string) => {
    if (!opts.quiet) process.stderr.write(`flowcut: ${msg}\n`);
  };
  const cleanups: Array<() => Promise<void>> = [];
  const stopSignal = new AbortController();
  let aws: AwsClientOptions = cfg.region ? { region: cfg.region } : {};
  let stream = cfg.stream;
  let from = startPosition(cfg, false);

  if (stream === undefined) {
    if (awsConfigured()) throw new CliError('--stream is required (or FLOWCUT_STREAM, or "stream" in --config) when AWS is configured');
    log('no stream and no AWS configured: running locally (kinesis-local + in-process DynamoDB emulator + simulated traffic)');
    const kinesisLocal = await startEmbeddedKinesis(`${EMBEDDED_STREAM}:2`);
    cleanups.push(() => kinesisLocal.stop());
    const dynalite = await startDynalite();
    cleanups.push(() => dynalite.stop());
    const credentials = { accessKeyId: 'local', secretAccessKey: 'local' };
    aws = { region: 'us-east-1', credentials };
    process.env.AWS_ENDPOINT_URL_KINESIS = kinesisLocal.endpoint;
    process.env.AWS_ENDPOINT_URL_DYNAMODB = dynalite.endpoint;
    stream = EMBEDDED_STREAM;
    from = startPosition(cfg, true);
    log(`kinesis-local at ${kinesisLocal.endpoint}, stream ${stream}; leases in ${dynalite.endpoint}`);
    void feedSimulatedTraffic(aws, stream, stopSignal.signal, log);
  }

  const app = cfg.app ?? `flowcut-${stream}`;
  const workerId = cfg.workerId ?? defaultWorkerId();
  const output = cfg.output ?? (cfg.archive ? 'none' : 'jsonl');
  const kinesis = createKinesisClient(aws);
  const dynamo = createDynamoDbClient(aws);
  const efoClient = cfg.consumer === 'efo' ? createKinesisEfoClient(aws) : undefined;
  cleanups.unshift(async () => {
    kinesis.destroy();
    dynamo.destroy();
    efoClient?.destroy();
  });

  const counter = new CountingSink();
  const deadLetters = new DeadLetterSink(cfg.rejects ?? join('.flowcut', 'rejects', `${app}-${workerId.replace(/[^a-zA-Z0-9_.-]/g, '_')}.jsonl`));
  const sinks: Sink[] = [counter, deadLetters];
  let shownRejects = 0;
  const onReject = (r: Reject): void => {
    if (shownRejects++ < SHOWN_REJECTS) log(`rejected ${rejectPlace(r)}: ${r.reason} (kept in ${deadLetters.path})`);
    else if (shownRejects === SHOWN_REJECTS + 1) log(`more rejects: kept in ${deadLetters.path}, not shown`);
  };
  if (output === 'jsonl') sinks.push(new JsonLinesSink(process.stdout));
  const checkpointIntervalMs = checkpointInterval(cfg);
  if (cfg.archive) {
    const s3 = cfg.archive.startsWith('s3://') ? createS3Client(aws) : undefined;
    if (s3) {
      cleanups.push(async () => s3.destroy());
      await checkArchiveBucket(s3, cfg.archive).catch(async (err: unknown) => {
        for (const c of cleanups) await c().catch(() => {});
        throw err;
      });
    }
    // strongerLevels off: a live worker's throughput matters more than ~2.5% of file size, and
    // `flowcut archive compact` (stronger levels on) rewrites the small files it leaves anyway.
    sinks.push(new ArchiveSink(new ArchiveWriter({ store: openStore(cfg.archive, () => s3!), codec: cfg.archiveCompression, level: cfg.archiveZstdLevel, strongerLevels: false })));
  }
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') stopSignal.abort();
  });

  const onEvent = (e: ConsumerEvent | LeaseEvent) => {
    const text = describe(e, opts.verbose === true);
    if (text) log(text);
  };
  let service: Service;
  try {
    service = await startService(
      {
        stream,
        app,
        workerId,
        from,
        failoverMs: cfg.failoverMs,
        checkpointIntervalMs,
        shardSyncIntervalMs: cfg.shardSyncIntervalMs,
        idlePollMs: cfg.idlePollMs,
      },
      {
        kinesis,
        dynamo,
        sinks,
        onEvent,
        onReject,
        ...(efoClient ? { reader: await efoReader(efoClient, { streamName: stream, consumerName: cfg.efoConsumerName ?? app, listShardsClient: kinesis }) } : {}),
      },
    );
  } catch (err) {
    for (const c of cleanups) await c().catch(() => {});
    const e = err as Error & { $metadata?: unknown };
    if (e.$metadata !== undefined || e.name === 'AwsConfigError') throw new CliError(e.message, 1);
    throw err;
  }
  log(`worker ${workerId} consuming ${stream} (lease table ${app}, ${cfg.consumer}, from ${from}${cfg.archive ? `, archive ${cfg.archive}` : ''})`);

  let firstSignalMs: number | undefined;
  const onSignal = (sig: NodeJS.Signals) => {
    // A terminal's Ctrl-C reaches every process of the group, and wrappers (npm, npm start's
    // script) forward it too: the copies arrive together. Only a later one means "don't wait".
    if (firstSignalMs !== undefined) {
      if (Date.now() - firstSignalMs < 1000) return;
      process.exit(128 + (sig === 'SIGINT' ? 2 : 15));
    }
    firstSignalMs = Date.now();
    log(`${sig}: finishing in-flight batches, checkpointing and releasing leases`);
    stopSignal.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const status = setInterval(() => {
    const shards = service.consumer.status().map((s) => `${s.shardId}${s.millisBehindLatest > 0 ? `(${Math.round(s.millisBehindLatest / 1000)}s behind)` : ''}`);
    log(`${counter.records.toLocaleString('en-US')} records; shards: ${shards.join(' ') || 'none'}`);
  }, 30_000);
  await new Promise<void>((resolve) => stopSignal.signal.addEventListener('abort', () => resolve(), { once: true }));
  clearInterval(status);
  try {
    await service.stop();
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    for (const c of cleanups) await c().catch(() => {});
  }
  const rejected = service.pipeline.stats.rejected;
  log(`stopped: ${counter.records.toLocaleString('en-US')} records, ${rejected} rejected${rejected > 0 ? ` (kept in ${deadLetters.path})` : ''}`);
}

function describe(e: ConsumerEvent | LeaseEvent, verbose: boolean): string | undefined {
  switch (e.type) {
    case 'taken':
      return `lease ${e.leaseKey} taken${e.from ? ` from ${e.from}` : ''}${e.stolen ? ' (balancing)' : ''}`;
    case 'lost':
      return `lease ${e.leaseKey} lost: ${e.reason}`;
    case 'shard-end':
      return `shard ${e.shardId} ended; children ${e.childShardIds.join(', ') || 'none'}`;
    case 'shard-error':
      return `shard ${e.shardId}: ${(e.error as Error)?.message ?? String(e.error)} (retrying)`;
    case 'error':
      return `${e.op}: ${(e.error as Error)?.message ?? String(e.error)}`;
    case 'throttled':
      return verbose ? `shard ${e.shardId} throttled (${e.errorName}); backing off ${e.delayMs} ms` : undefined;
    default:
      return verbose ? JSON.stringify(e) : undefined;
  }
}

/** The embedded demo's input: an hour of simulated traffic, replayed at 60× (one minute). */
async function feedSimulatedTraffic(aws: AwsClientOptions, stream: string, signal: AbortSignal, log: (m: string) => void): Promise<void> {
  const client = createKinesisClient(aws);
  try {
    const startSec = Math.floor(Date.now() / 1000) - 3600;
    const events: LogEvent[] = simulateTraffic({ minutes: 60, startSec }).map((l) => ({
      message: l.line,
      timestampMs: l.endSec * 1000,
      logStream: `${l.interfaceId}-all`,
      logGroup: 'vpc-flow-logs',
      owner: '123456789012',
    }));
    events.sort((a, b) => a.timestampMs - b.timestampMs);
    const s = await replayPayloads(client, cloudWatchPayloads(events), { streamName: stream, speed: 60, signal });
    log(`simulated traffic: put ${s.events} flow records in ${s.payloads} payloads`);
  } catch (err) {
    if (!signal.aborted) log(`simulated traffic stopped: ${(err as Error).message}`);
  } finally {
    client.destroy();
  }
}
