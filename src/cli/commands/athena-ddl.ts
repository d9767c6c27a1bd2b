import { Command } from 'commander';
import { athenaDdl, AthenaDdlError } from '../../archive/athena.js';
import { parsePartitionPath, PARTITION_ROOT } from '../../archive/partition.js';
import { LocalStore } from '../../archive/store.js';
import { CliError } from '../errors.js';

interface AthenaDdlCliOptions {
  archive: string;
  table: string;
  database?: string;
  accounts?: string;
  regions?: string;
  years?: string;
  location?: string;
}

const PLACEHOLDER = 's3://YOUR-BUCKET/YOUR-PREFIX';

export function registerAthenaDdl(program: Command): void {
  program
    .command('athena-ddl')
    .description('Print CREATE EXTERNAL TABLE for Athena over the archive (Parquet schema, Hive partitions, partition projection).')
    .requiredOption('--archive <location>', 'archive: s3://bucket/prefix, or a local directory (its partitions are read for the projection values)')
    .option('--table <name>', 'table name', 'vpc_flow_logs_archive')
    .option('--database <name>', 'database (default: the query editor\'s current one)')
    .option('--accounts <ids>', 'comma-separated account ids for an enum projection (default: injected, so queries must say which account)')
    .option('--regions <regions>', 'comma-separated regions for the region projection (required for s3:// archives)')
    .option('--years <from,to>', 'year range of the projection (default: 2020 to next year, or what a local archive holds)')
    .option('--location <s3url>', 'for a local archive: where it is (or will be) copied in S3')
    .addHelpText(
      'after',
      `
Examples:
  flowcut athena-ddl --archive s3://my-archive/flows --regions eu-west-1,us-east-1
  flowcut athena-ddl --archive s3://my-archive/flows --regions eu-west-1 --accounts 123456789012 --database netlogs --table flows
  flowcut athena-ddl --archive ./archive --location s3://my-archive/flows

With an injected account (no --accounts), every query needs WHERE aws_account_id = '...'.
Partition columns: aws_account_id, aws_region, year, month, day, hour (ints; filter on them to prune).`,
    )
    .action(async (opts: AthenaDdlCliOptions) => {
      const list = (s: string | undefined): string[] | undefined => (s === undefined ? undefined : s.split(',').map((x) => x.trim()).filter((x) => x !== ''));
      let regions = list(opts.regions);
      let accounts = list(opts.accounts);
      let years: [number, number] | undefined;
      if (opts.years !== undefined) {
        const m = /^(\d{4}),(\d{4})$/.exec(opts.years.trim());
        if (!m) throw new CliError(`--years must be FROM,TO (e.g. 2024,2027), not '${opts.years}'`);
        years = [Number(m[1]), Number(m[2])];
      }
      let location = opts.archive;
      if (!opts.archive.startsWith('s3://')) {
        // A local archive: projection values from its partitions; the location is where it goes in S3.
        const seen = { regions: new Set<string>(), accounts: new Set<string>(), years: new Set<number>() };
        for await (const o of new LocalStore(opts.archive).list(PARTITION_ROOT)) {
          const p = parsePartitionPath(o.key.slice(0, o.key.lastIndexOf('/') + 1));
          if (p === undefined) continue;
          seen.regions.add(p.region);
          seen.accounts.add(p.account);
          seen.years.add(new Date(p.hour * 3_600_000).getUTCFullYear());
        }
        regions ??= [...seen.regions].sort();
        accounts ??= seen.accounts.size > 0 ? [...seen.accounts].sort() : undefined;
        if (years === undefined && seen.years.size > 0) years = [Math.min(...seen.years), Math.max(new Date().getUTCFullYear() + 1, ...seen.years)];
        location = opts.location ?? PLACEHOLDER;
        process.stderr.write(
          `flowcut: ${opts.archive} is a local directory: Athena reads S3 only. Copy it keeping its layout ` +
            `(aws s3 sync ${opts.archive}/AWSLogs ${location}/AWSLogs)` +
            (opts.location ? '' : ` and replace ${PLACEHOLDER} below (or pass --location)`) +
            `; projection values were read from its partitions (${regions.length} region(s), ${accounts?.length ?? 0} account(s)).\n`,
        );
      } else if (opts.location !== undefined) {
        throw new CliError('--location is only for local archives (an s3:// archive is its own location)');
      }
      if (regions === undefined || regions.length === 0) throw new CliError('athena-ddl needs --regions (comma-separated) for the region projection');
      const now = new Date().getUTCFullYear();
      try {
        process.stdout.write(
          athenaDdl({
            location,
            table: opts.table,
            ...(opts.database !== undefined ? { database: opts.database } : {}),
            ...(accounts !== undefined && accounts.length > 0 ? { accounts } : {}),
            regions,
            years: years ?? [Math.min(2020, now), now + 1],
          }),
        );
      } catch (err) {
        if (err instanceof AthenaDdlError) throw new CliError(err.message);
        throw err;
      }
    });
}
