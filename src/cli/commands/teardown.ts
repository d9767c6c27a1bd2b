import { createInterface } from 'node:readline/promises';
import { Command } from 'commander';
import { defaultEnv, toCliError, withContext } from '../../aws/setup/runtime.js';
import { resolveSpec, type SetupInput } from '../../aws/setup/spec.js';
import { formatTeardown, planTeardown, runTeardown } from '../../aws/setup/teardown.js';
import { CliError } from '../errors.js';
import { addPipelineOptions } from './setup.js';

interface TeardownOptions extends SetupInput {
  region?: string;
  flowLogRoleName?: string;
  yes?: boolean;
  dryRun?: boolean;
}

export function registerTeardown(program: Command): void {
  const cmd = program
    .command('teardown')
    .description('Delete what `flowcut setup` created for a pipeline, and only that (resources tagged flowcut:managed=true and flowcut:pipeline=STREAM), after confirmation.');
  addPipelineOptions(cmd)
    .option('--flow-log-role-name <name>', 'flow-log delivery role, if setup was given one (default flowcut-flowlogs-STREAM)')
    .option('-y, --yes', 'delete without asking (needed when there is no terminal)')
    .option('--dry-run', 'only list what would be deleted and what is kept')
    .addHelpText(
      'after',
      `
Pass the same names as to setup. Flow logs are found by tag; the subscription filter is deleted
only when it sends to the stream through flowcut's role; an archive bucket holding objects is
kept. Resources setup found already existing carry no tags and are never deleted.`,
    )
    .action(async (opts: TeardownOptions) => runTeardownCommand(opts));
}

async function runTeardownCommand(opts: TeardownOptions): Promise<void> {
  let spec;
  try {
    // Setup's creation-only flags don't apply here; the flow-log role name is read separately.
    spec = resolveSpec({ ...opts, flowLogRoleName: undefined });
  } catch (err) {
    throw toCliError(err);
  }
  const flowLogRoleName = opts.flowLogRoleName ?? `flowcut-flowlogs-${spec.stream}`;
  // Refuse before calling AWS: a script without --yes is a mistake whatever exists.
  const interactive = process.stdin.isTTY === true;
  if (!opts.yes && !opts.dryRun && !interactive) throw new CliError('refusing to delete without confirmation: no terminal to ask on; pass --yes (or --dry-run to only list)');
  await withContext(spec, opts.region, defaultEnv(60_000), async (ctx) => {
    const items = await planTeardown(ctx, { flowLogRoleName });
    process.stdout.write(formatTeardown(items));
    const n = items.filter((i) => i.action === 'delete').length;
    if (n === 0 || opts.dryRun) return;
    if (!opts.yes) {
      const rl = createInterface({ input: process.stdin, output: process.stderr });
      const answer = await rl.question(`Delete ${n} resource${n > 1 ? 's' : ''} in ${ctx.region}? Type 'yes' to confirm: `);
      rl.close();
      if (answer.trim().toLowerCase() !== 'yes') throw new CliError('nothing deleted', 1);
    }
    const deleted = await runTeardown(items, defaultEnv(0).progress);
    process.stdout.write(`Deleted ${deleted} resource${deleted === 1 ? '' : 's'}.\n`);
  });
}
