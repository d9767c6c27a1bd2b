import { Command } from 'commander';
import { formatChecks, runDoctor } from '../../aws/setup/doctor.js';
import { defaultEnv, toCliError, withContext } from '../../aws/setup/runtime.js';
import { resolveSpec, type SetupInput } from '../../aws/setup/spec.js';
import { CliError } from '../errors.js';
import { addPipelineOptions } from './setup.js';

interface DoctorCliOptions extends SetupInput {
  region?: string;
  window: string;
  lagWarn: string;
}

export function registerDoctor(program: Command): void {
  const cmd = program
    .command('doctor')
    .description('Check a running pipeline end to end (credentials, stream and its encryption at rest, flow log, log group, subscription filter, role, records arriving, consumer lag) and explain each failure with its fix.');
  addPipelineOptions(cmd)
    .option('--window <minutes>', 'how far back to look for records on each shard', '10')
    .option('--lag-warn <seconds>', 'warn when the consumer is further behind than this (MillisBehindLatest after its checkpoint)', '60')
    .addHelpText('after', '\nExit status: 0 when no check failed (warnings allowed), 1 otherwise.')
    .action(async (opts: DoctorCliOptions) => runDoctorCommand(opts));
}

async function runDoctorCommand(opts: DoctorCliOptions): Promise<void> {
  const windowMin = Number(opts.window);
  const lagS = Number(opts.lagWarn);
  if (!(windowMin > 0)) throw new CliError(`--window must be a positive number of minutes, not '${opts.window}'`);
  if (!(lagS >= 0)) throw new CliError(`--lag-warn must be a number of seconds, not '${opts.lagWarn}'`);
  let spec;
  try {
    spec = resolveSpec(opts);
  } catch (err) {
    throw toCliError(err);
  }
  const checks = await withContext(spec, opts.region, defaultEnv(60_000), (ctx) =>
    runDoctor(ctx, { windowMs: windowMin * 60_000, maxReadsPerShard: 20, lagWarnMs: lagS * 1000 }),
  );
  process.stdout.write(formatChecks(checks));
  if (checks.some((c) => c.status === 'fail')) process.exitCode = 1;
}
