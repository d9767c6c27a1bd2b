/** What the setup, teardown and doctor commands share: building the context, turning errors into CLI errors. */
import { setTimeout as sleep } from 'node:timers/promises';
import { CliError } from '../../cli/errors.js';
import { createSetupClients, destroySetupClients, type SetupClients } from './clients.js';
import { SetupContext, SetupError, type SetupEnv } from './engine.js';
import { SpecError, type SetupSpec } from './spec.js';

export function progressToStderr(quiet = false): (line: string) => void {
  return (line) => {
    if (!quiet) process.stderr.write(`flowcut: ${line}\n`);
  };
}

export function defaultEnv(waitTimeoutMs: number, quiet = false): SetupEnv {
  return { progress: progressToStderr(quiet), sleep: (ms) => sleep(ms), waitTimeoutMs, pollMs: 2_000 };
}

/** Builds clients and the context, runs `fn`, always releases the clients. */
export async function withContext<T>(spec: SetupSpec, region: string | undefined, env: SetupEnv, fn: (ctx: SetupContext) => Promise<T>): Promise<T> {
  let clients: SetupClients | undefined;
  try {
    clients = createSetupClients(region ? { region } : {});
    // The Kinesis factory's region provider explains a missing region in words a person can act on.
    const resolved = await clients.kinesis.config.region();
    return await fn(new SetupContext(clients, spec, resolved, env));
  } catch (err) {
    throw toCliError(err);
  } finally {
    if (clients) destroySetupClients(clients);
  }
}

const CREDENTIALS = /CredentialsProviderError|UnrecognizedClient|InvalidClientTokenId|ExpiredToken|InvalidSignature/;

export function toCliError(err: unknown): unknown {
  if (err instanceof CliError) return err;
  if (err instanceof SpecError) return new CliError(err.message, 2);
  if (err instanceof SetupError) return new CliError(err.message, 1);
  const e = err as Error & { $metadata?: unknown };
  if (e instanceof Error && CREDENTIALS.test(e.name)) {
    return new CliError(`AWS credentials were not accepted (${e.name}: ${e.message}); configure them (aws configure, aws sso login, AWS_PROFILE)`, 1);
  }
  if (e instanceof Error && (e.name === 'AwsConfigError' || e.$metadata !== undefined)) {
    const denied = /AccessDenied|UnauthorizedOperation|not authorized/i.test(`${e.name} ${e.message}`);
    return new CliError(`${e.name}: ${e.message}${denied ? '\n  (the credentials lack a permission this command needs: see `flowcut setup --help` for the list)' : ''}`, 1);
  }
  return err;
}
