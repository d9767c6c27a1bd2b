import { FlowFormat, FormatError } from '../flowlog/format.js';

/** An error meant for the person at the terminal: printed without a stack trace. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** The `--format` option: AWS's `${field} ...` string or field names; a bad one is a CliError. */
export function formatOption(text: string | undefined): FlowFormat | undefined {
  if (text === undefined) return undefined;
  try {
    return FlowFormat.parse(text);
  } catch (err) {
    if (err instanceof FormatError) throw new CliError(err.message);
    throw err;
  }
}
