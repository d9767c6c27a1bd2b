import { Command, Option } from 'commander';
import { ArchiveChangedError, queryArchive, QueryError, QUESTIONS, type ViewOptions } from '../../archive/query.js';
import type { ArchiveStore } from '../../archive/store.js';
import { CliError } from '../errors.js';
import { positiveInt, withStore } from './archive.js';

const OUTPUTS = ['table', 'csv', 'jsonl'] as const;
type Output = (typeof OUTPUTS)[number];

interface QueryOpts {
  archive: string;
  since?: string;
  until?: string;
  output?: Output;
  limit: string;
  region?: string;
  endpointUrl?: string;
  quiet?: boolean;
}

function common(cmd: Command): Command {
  return cmd
    .option('--archive <location>', 'archive: a directory or s3://bucket/prefix (required)')
    .option('--since <time>', 'only records from this ISO time on (prunes hour partitions)')
    .option('--until <time>', 'only records before this ISO time')
    .addOption(new Option('-o, --output <kind>', 'table (default on a terminal), csv, or jsonl (default otherwise)').choices(OUTPUTS))
    .option('--region <region>', 'AWS region')
    .option('--endpoint-url <url>', 'S3 endpoint')
    .option('-q, --quiet', 'no notes on stderr (skipped files, file count)');
}

export function registerQuery(program: Command): void {
  const query = common(
    program
      .command('query')
      .description('Query the archive with SQL (DuckDB) over a `flows` view; or ask a ready-made question.')
      .argument('[sql]', "SQL over the view 'flows' (columns: AWS's flow-log names, source columns, and the partition keys aws_account_id, aws_service, aws_region, year, month, day, hour, named as in the Athena table)"),
  )
    .option('-n, --limit <n>', 'rows for the ready-made questions', '10')
    .addHelpText(
      'after',
      `
Examples:
  flowcut query "SELECT action, count(*) FROM flows GROUP BY ALL" --archive ./archive
  flowcut query top-talkers --archive s3://my-archive/flows --since 2026-01-05T00:00Z --until 2026-01-06T00:00Z
  flowcut query rejected-ports --archive ./archive --output csv
  flowcut query eni eni-0a1b2c3d4e5f60001 --archive ./archive --since 2026-01-05T10:00Z

Only the hour partitions in --since/--until are read (for S3, only those objects are downloaded).
Files that are not readable archive Parquet are reported on stderr and left out.`,
    )
    .action(async (sql: string | undefined, _opts: QueryOpts, cmd: Command) => {
      if (sql === undefined) throw new CliError('query needs SQL or a question (top-talkers, rejected-ports, eni ENI)');
      await run(sql, cmd.optsWithGlobals<QueryOpts>());
    });

  common(query.command('top-talkers').description('Source addresses with the most bytes.'))
    .option('-n, --limit <n>', 'rows', '10')
    .action(async (_o: QueryOpts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<QueryOpts>();
      await run(QUESTIONS.topTalkers(positiveInt(opts.limit, '--limit')), opts);
    });
  common(query.command('rejected-ports').description('Destination ports with the most rejected flows.'))
    .option('-n, --limit <n>', 'rows', '10')
    .action(async (_o: QueryOpts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<QueryOpts>();
      await run(QUESTIONS.rejectedPorts(positiveInt(opts.limit, '--limit')), opts);
    });
  common(query.command('eni').description('Conversations of one network interface.').argument('<eni>', 'interface id, e.g. eni-0a1b2c3d4e5f60001'))
    .option('-n, --limit <n>', 'rows', '50')
    .action(async (eni: string, _o: QueryOpts, cmd: Command) => {
      const opts = cmd.optsWithGlobals<QueryOpts>();
      await run(QUESTIONS.eni(eni, positiveInt(opts.limit, '--limit')), opts);
    });
}

function parseTime(text: string | undefined, name: string): number | undefined {
  if (text === undefined) return undefined;
  const t = Date.parse(text);
  if (Number.isNaN(t)) throw new CliError(`${name} must be an ISO time (e.g. 2026-01-05T10:00Z), not '${text}'`);
  return t;
}

async function run(sql: string, opts: QueryOpts): Promise<void> {
  if (!opts.archive) throw new CliError('query needs --archive DIR or --archive s3://bucket/prefix');
  const since = parseTime(opts.since, '--since');
  const until = parseTime(opts.until, '--until');
  if (since !== undefined && until !== undefined && until <= since) throw new CliError('--until must be after --since');
  const range: ViewOptions = { ...(since !== undefined ? { since } : {}), ...(until !== undefined ? { until } : {}) };
  const output: Output = opts.output ?? (process.stdout.isTTY ? 'table' : 'jsonl');
  await withStore(opts.archive, opts, async (store: ArchiveStore) => {
    let result;
    try {
      result = await queryArchive(store, sql, range);
    } catch (err) {
      if (err instanceof QueryError) throw new CliError(`query failed: ${err.message}`);
      if (err instanceof ArchiveChangedError) throw new CliError(`the archive kept changing under the query (compaction or retention running?); run it again: ${err.message}`, 1);
      throw err;
    }
    if (!opts.quiet) {
      for (const s of result.skipped) process.stderr.write(`flowcut: skipped ${s.key}: ${s.reason}\n`);
    }
    const rows = result.rows.map((r) => r.map(plain));
    process.stdout.write(format(output, result.names, rows));
    if (!opts.quiet) process.stderr.write(`flowcut: ${rows.length} row(s) from ${result.files.length} file(s)\n`);
  });
}

type Cell = string | number | boolean | null;

function plain(v: unknown): Cell {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v.toString();
  if (v instanceof Date) return v.toISOString();
  if (typeof v === 'number' || typeof v === 'string' || typeof v === 'boolean') return v;
  return String(v);
}

/** Numeric columns that name something rather than measure it (flow-log fields, partition keys). */
const IDENTIFIER_COLUMNS = /^(\w*port|version|account[-_]id|protocol|start|end|year|month|day|hour|sub_index|\w*sequence_number|tcp[-_]flags|\w*[-_]type|\w*[-_]code)$/i;

export function format(kind: Output, names: string[], rows: Cell[][]): string {
  if (kind === 'jsonl') return rows.map((r) => JSON.stringify(Object.fromEntries(names.map((n, i) => [n, r[i]])))).join('\n') + (rows.length ? '\n' : '');
  if (kind === 'csv') {
    const q = (v: Cell): string => {
      if (v === null) return '';
      const s = String(v);
      return /[",\n\r]/.test(s) ? `"${s.replaceAll('"', '""')}"` : s;
    };
    return [names, ...rows].map((r) => r.map(q).join(',')).join('\n') + '\n';
  }
  // Thousands separators help amounts (bytes, counts), not identifiers: a port, a year or an epoch second.
  const grouped = names.map((n) => !IDENTIFIER_COLUMNS.test(n));
  const text = rows.map((r) => r.map((v, i) => (v === null ? '-' : typeof v === 'number' && grouped[i] ? v.toLocaleString('en-US') : String(v))));
  const widths = names.map((n, i) => Math.max(n.length, ...text.map((r) => r[i]!.length)));
  const numeric = names.map((_, i) => rows.length > 0 && rows.every((r) => r[i] === null || typeof r[i] === 'number'));
  const line = (cells: string[]): string => cells.map((c, i) => (numeric[i] ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(names), line(widths.map((w) => '-'.repeat(w))), ...text.map(line)].join('\n') + '\n';
}
