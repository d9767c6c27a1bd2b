#!/usr/bin/env node
import { Command } from 'commander';
import { registerCommands } from './commands/index.js';
import { CliError } from './errors.js';

// The SDK warns on every run that its releases after January 2027 need Node 22; our SDK version
// is pinned and works on Node 20, and the README says so once instead.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const program = new Command();
program
  .name('flowcut')
  .description('Real-time anomaly detection and archive for AWS VPC Flow Logs.')
  .version('0.1.0')
  .showHelpAfterError('(run with --help for usage)');

registerCommands(program);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof CliError) {
    process.stderr.write(`flowcut: ${err.message}\n`);
    process.exitCode = err.exitCode;
  } else {
    throw err;
  }
}
