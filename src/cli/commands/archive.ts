import { statSync } from 'node:fs';
import { Command, Option } from 'commander';
import type { S3Client } from '@aws-sdk/client-s3';
import { archiveObjects } from '../../archive/backfill.js';
import { compactArchive, retainArchive } from '../../archive/housekeeping.js';
import { CODECS, DEFAULT_ZSTD_LEVEL, type Codec } from '../../archive/parquet/writer.js';
import { openStore, type ArchiveStore } from '../../archive/store.js';
import { ArchiveWriter } from '../../archive/writer.js';
import { createS3Client } from '../../aws/clients.js';
import { INPUT_KINDS, type InputKind } from '../../decode/decoder.js';
import { rejectPlace, type Reject } from '../../flowlog/sink.js';
import { listLocalObjects } from '../../sources/files.js';
import { listS3Objects } from '../../sources/s3.js';
import type { ObjectIn } from '../../sources/types.js';
import { CliError, formatOption } from '../errors.js';
import { RejectsFile } from '../rejects-file.js';

interface AwsOpts {
  region?: string;
  endpointUrl?: string;
}

interface ArchiveOpts extends AwsOpts {
  to?: string;
  rejects?: string;
  format?: string;
  input: InputKind;
  compression: Codec;
  zstdLevel: string;
  defaultRegion?: string;
  chunkRecords: string;
  force?: boolean;
  quiet?: boolean;
}

const SHOWN_REJECTS = 5;

export function registerArchive(program: Command): void {
  const archive = program
    .command('archive')
    .description('Archive VPC Flow Logs (files, directories, S3 prefixes) as partitioned Parquet, exactly once; resumable.')
    .argument('[source...]', 'file, directory or s3://bucket/prefix')
    .option('--to <dest>', 'archive location: a directory or s3://bucket/prefix')
    .addOption(new Option('--compression <codec>', 'Parquet page compression (zstd: smallest files; snappy: fastest to write)').choices(CODECS).default('zstd'))
    .option('--zstd-level <n>', 'zstd level, 1 (fastest) to 22 (smallest)', String(DEFAULT_ZSTD_LEVEL))
    .option('--default-region <region>', "partition region for records with no region field and no S3 key (default 'unknown')")
    .option('--chunk-records <n>', 'records per output file per input object and partition (deterministic chunks)', '250000')
    .option('-f, --format <format>', "format of lines without a header: AWS's '${field} ...' string, field names, or 'default'")
    .addOption(new Option('--input <kind>', 'what the bytes hold (auto detects)').choices(INPUT_KINDS).default('auto'))
    .option('--rejects <file>', 'write lines and payloads that could not be decoded to FILE (JSON lines; past 100 in one object, the rest are counted in one line)')
    .option('--force', 'archive objects again even when the archive has them (their files are replaced, not duplicated; refused, with exit code 1, for objects whose files were since compacted)')
    .option('--region <region>', 'AWS region (default: AWS_REGION or your profile)')
    .option('--endpoint-url <url>', 'S3 endpoint (default: AWS_ENDPOINT_URL_S3, AWS_ENDPOINT_URL)')
    .option('-q, --quiet', 'no progress or summary on stderr')
    .addHelpText(
      'after',
      `
Layout: DEST/AWSLogs/aws-account-id=A/aws-service=vpcflowlogs/aws-region=R/year=/month=/day=/hour=/*.parquet
by event time (start, else end, else the CloudWatch event time). State lives under DEST/_flowcut/.

Running the same command again skips objects already archived (and resumes after a crash):
each input object is recorded once all of its files are durable; files a crashed run left for
an unfinished object are removed before it is archived again.

Examples:
  flowcut archive ./AWSLogs/ --to ./archive
  flowcut archive s3://my-logs/AWSLogs/123456789012/vpcflowlogs/ --to s3://my-archive/flows
  flowcut archive compact --archive ./archive
  flowcut archive retain --archive ./archive --retain-days 90`,
    )
    .action(async (sources: string[], opts: ArchiveOpts) => runArchive(sources, opts));

  archive
    .command('compact')
    .description('Merge small files of each partition into one (exactly-once safe beside a live writer).')
    .requiredOption('--archive <dest>', 'archive location: a directory or s3://bucket/prefix')
    .option('--min-age <seconds>', 'only merge files at least this old (keep above the writer roll age)', '300')
    .option('--max-records <n>', 'records per merged file', '2000000')
    .addOption(new Option('--compression <codec>', 'Parquet page compression (zstd: smallest files; snappy: fastest to write)').choices(CODECS).default('zstd'))
    .option('--zstd-level <n>', 'zstd level, 1 (fastest) to 22 (smallest)', String(DEFAULT_ZSTD_LEVEL))
    .option('--region <region>', 'AWS region')
    .option('--endpoint-url <url>', 'S3 endpoint')
    .option('-q, --quiet', 'no summary on stderr')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ archive: string; minAge: string; maxRecords: string; compression: Codec; zstdLevel: string; quiet?: boolean } & AwsOpts>();
      await withStore(opts.archive, opts, async (store) => {
        const r = await compactArchive(store, { minAgeMs: positiveInt(opts.minAge, '--min-age', true) * 1000, maxRecords: positiveInt(opts.maxRecords, '--max-records'), codec: opts.compression, level: zstdLevel(opts.zstdLevel) });
        if (!opts.quiet) process.stderr.write(`flowcut: compacted ${r.partitions} partition(s): ${r.inputs} files into ${r.outputs} (${r.records.toLocaleString('en-US')} records)${r.skipped ? `, ${r.skipped} unreadable file(s) left alone` : ''}\n`);
      });
    });

  archive
    .command('retain')
    .description('Delete partitions older than N days (by their hour partition).')
    .requiredOption('--archive <dest>', 'archive location: a directory or s3://bucket/prefix')
    .requiredOption('--retain-days <n>', 'keep this many days back from now')
    .option('--dry-run', 'only list what would be deleted')
    .option('--region <region>', 'AWS region')
    .option('--endpoint-url <url>', 'S3 endpoint')
    .option('-q, --quiet', 'no summary on stderr')
    .action(async (_o: unknown, cmd: Command) => {
      const opts = cmd.optsWithGlobals<{ archive: string; retainDays: string; dryRun?: boolean; quiet?: boolean } & AwsOpts>();
      await withStore(opts.archive, opts, async (store) => {
        const r = await retainArchive(store, { retainDays: positiveInt(opts.retainDays, '--retain-days'), dryRun: opts.dryRun === true });
        if (!opts.quiet) process.stderr.write(`flowcut: ${opts.dryRun ? 'would delete' : 'deleted'} ${r.files} file(s) in ${r.partitions} partition(s) older than ${new Date(r.cutoffMs).toISOString()}\n`);
        if (opts.dryRun) for (const k of r.keys) process.stdout.write(`${k}\n`);
      });
    });
}

function zstdLevel(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 22) throw new CliError(`--zstd-level must be an integer from 1 to 22, got '${v}'`);
  return n;
}

async function runArchive(sources: string[], opts: ArchiveOpts): Promise<void> {
  if (sources.length === 0) throw new CliError('archive needs at least one SOURCE (or a sub-command: compact, retain)');
  if (opts.to === undefined) throw new CliError('archive needs --to DIR or --to s3://bucket/prefix');
  const format = formatOption(opts.format);
  const chunkRecords = positiveInt(opts.chunkRecords, '--chunk-records');
  const rejectsFile = opts.rejects ? new RejectsFile(opts.rejects, 'a') : undefined;
  let shown = 0;
  const stop = new AbortController();
  const onSignal = (): void => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let s3: S3Client | undefined;
  const getS3 = (): S3Client => (s3 ??= createS3Client(awsOptions(opts)));
  const t0 = Date.now();
  try {
    const store = openStore(opts.to, getS3);
    const writer = new ArchiveWriter({ store, codec: opts.compression, level: zstdLevel(opts.zstdLevel), chunkRecords, maxRecords: Math.max(chunkRecords, 1_000_000), ...(opts.defaultRegion ? { defaultRegion: opts.defaultRegion } : {}) });
    let lastProgress = Date.now();
    let seen = 0, records = 0;
    const summary = await archiveObjects(allObjects(sources, getS3, stop.signal), {
      writer,
      decoder: { input: opts.input, ...(format ? { format } : {}) },
      ...(opts.force ? { force: true } : {}),
      signal: stop.signal,
      ...(rejectsFile ? { rejectsKept: () => rejectsFile.sync() } : {}),
      onReject: (r: Reject) => {
        rejectsFile?.write(r);
        if (shown++ < SHOWN_REJECTS && !opts.quiet) process.stderr.write(`flowcut: ${rejectPlace(r)}: ${r.reason}\n`);
      },
      onObject: (e) => {
        seen++;
        if (e.refused) {
          process.stderr.write(
            `flowcut: ${e.location}: not archived again: it was archived before and its files were since compacted into ${e.refused.mergedInto.join(', ')}, ` +
              'so new files would duplicate its old records there. To replace it, delete those merged files (they may hold other ' +
              'objects\' records too) and archive the objects of their hours again with --force.\n',
          );
        }
        records += e.skipped ? 0 : e.records;
        if (!opts.quiet && Date.now() - lastProgress > 2000) {
          lastProgress = Date.now();
          process.stderr.write(`flowcut: ${seen} object(s), ${records.toLocaleString('en-US')} records archived…\n`);
        }
      },
    });
    await rejectsFile?.end(); // before the summary says they were kept
    if (!opts.quiet) {
      const s = (Date.now() - t0) / 1000;
      const parts = [
        `${summary.objects} object(s) archived`,
        `${summary.records.toLocaleString('en-US')} records`,
        `${summary.files} file(s), ${(summary.bytes / 1048576).toFixed(1)} MiB`,
      ];
      if (summary.skipped > 0) parts.push(`${summary.skipped} already archived (skipped; --force to redo)`);
      if (summary.recovered > 0) parts.push(`${summary.recovered} file(s) of an interrupted run removed`);
      if (summary.rejected > 0) parts.push(`${summary.rejected} rejected${opts.rejects ? ` (kept in ${opts.rejects})` : ' (use --rejects FILE to keep them)'}`);
      if (summary.refused.length > 0) parts.push(`${summary.refused.length} refused (compacted since archived; see above)`);
      process.stderr.write(`flowcut: ${parts.join(', ')} in ${s.toFixed(1)} s to ${store.url}\n`);
    }
    if (summary.refused.length > 0) throw new CliError(`${summary.refused.length} object(s) not archived again (compacted since archived)`, 1);
  } catch (err) {
    if (stop.signal.aborted) throw new CliError('interrupted; run the same command again to resume', 130);
    throw toCliError(err);
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    s3?.destroy();
    await rejectsFile?.end();
  }
}

async function* allObjects(sources: string[], s3: () => S3Client, signal: AbortSignal): AsyncGenerator<ObjectIn> {
  for (const source of sources) {
    if (source.startsWith('s3://')) yield* listS3Objects(s3(), source, { signal });
    else if (/^[a-z0-9]+:\/\//i.test(source)) throw new CliError(`unsupported source '${source}': use a path or s3://bucket/prefix (the streaming service archives Kinesis)`);
    else if (source === '-') throw new CliError('stdin cannot be archived exactly once; save it to a file first');
    else yield* listLocalObjects(source);
  }
}

/** An existing archive, to query or tidy: a local path that is not there is a typo, not an empty archive. */
export async function withStore(target: string, opts: AwsOpts, fn: (store: ArchiveStore) => Promise<void>): Promise<void> {
  if (!target.startsWith('s3://') && !statSync(target, { throwIfNoEntry: false })?.isDirectory()) {
    throw new CliError(`no archive at ${target}: not a directory (give the DIR or s3://bucket/prefix that run --archive or archive --to wrote)`);
  }
  let s3: S3Client | undefined;
  try {
    await fn(openStore(target, () => (s3 ??= createS3Client(awsOptions(opts)))));
  } catch (err) {
    throw toCliError(err);
  } finally {
    s3?.destroy();
  }
}

export function awsOptions(opts: AwsOpts): { region?: string; endpoint?: string } {
  return { ...(opts.region ? { region: opts.region } : {}), ...(opts.endpointUrl ? { endpoint: opts.endpointUrl } : {}) };
}

export function positiveInt(text: string, name: string, zeroOk = false): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < (zeroOk ? 0 : 1)) throw new CliError(`${name} must be a ${zeroOk ? 'non-negative' : 'positive'} whole number, not '${text}'`);
  return n;
}

export function toCliError(err: unknown): unknown {
  if (err instanceof CliError) return err;
  const e = err as Error & { name?: string; $metadata?: unknown };
  if (e instanceof Error && (e.name === 'AwsConfigError' || e.name === 'S3UrlError' || e.name === 'ArchiveError' || e.$metadata !== undefined || /^no such file|^cannot read|^stdin/.test(e.message))) {
    return new CliError(e.message, 1);
  }
  return err;
}
