/**
 * The setup engine: every resource is a Step that can inspect what exists (read-only), apply the
 * difference, and say which AWS CLI commands would do the same. A dry run inspects; a real run
 * inspects everything first (so a blocked step stops the run before anything changes), then
 * walks the steps in order, re-inspecting each one because earlier steps teach it facts (the
 * account from the stream ARN, the role ARN for the filter).
 */
import { ACCOUNT_PLACEHOLDER, parseArn, partitionOf, type Place } from './arn.js';
import type { SetupClients } from './clients.js';
import type { SetupSpec } from './spec.js';

/** ok: exists as asked; pending: exists, not yet usable (waits); create/update: will change; blocked: needs a person. */
export type Status = 'ok' | 'pending' | 'create' | 'update' | 'blocked';

export interface Finding {
  readonly status: Status;
  /** One line: what exists, or what will be done. */
  readonly detail: string;
  /** For `update`: each difference that will be corrected. */
  readonly changes?: readonly string[];
  /** For `blocked`: what the person should do. */
  readonly fix?: string;
}

export interface Step {
  readonly key: string;
  readonly title: string;
  inspect(ctx: SetupContext): Promise<Finding>;
  /** Called for create, update and pending; returns what was done. */
  apply(ctx: SetupContext, finding: Finding): Promise<string>;
  /** AWS CLI commands equivalent to apply() for this finding. */
  commands(ctx: SetupContext, finding: Finding): string[];
}

export interface SetupEnv {
  /** Progress lines (waiting, retrying); stderr in the CLI. */
  readonly progress: (line: string) => void;
  readonly sleep: (ms: number) => Promise<void>;
  /** How long to wait for a resource to become active. */
  readonly waitTimeoutMs: number;
  readonly pollMs: number;
}

/** Facts learnt while inspecting or applying, used by later steps. */
export interface Facts {
  streamArn?: string;
  roleArns: Map<string, string>;
  /** The log group will exist by the time the filter is put (setup creates it). */
  logGroupPlanned?: boolean;
}

export class SetupContext {
  partition: string;
  account: string | undefined;
  readonly facts: Facts = { roleArns: new Map() };

  constructor(
    readonly clients: SetupClients,
    readonly spec: SetupSpec,
    readonly region: string,
    readonly env: SetupEnv,
  ) {
    this.partition = partitionOf(region);
    this.account = spec.account;
  }

  /** Partition, region and account; the account may still be a placeholder in a dry run. */
  get place(): Place {
    return { partition: this.partition, region: this.region, account: this.account ?? ACCOUNT_PLACEHOLDER };
  }

  get accountKnown(): boolean {
    return this.account !== undefined;
  }

  /** Any ARN AWS returns tells the partition and account; --account must agree with it. */
  learnFromArn(arn: string | undefined): void {
    const parts = arn === undefined ? undefined : parseArn(arn);
    if (!parts || !/^\d{12}$/.test(parts.account)) return;
    if (this.account !== undefined && this.account !== parts.account) {
      throw new SetupError(`--account ${this.account} does not match the account of ${arn}; check your credentials or drop --account`);
    }
    this.account = parts.account;
    this.partition = parts.partition;
  }

  /** For apply(): the account must be known by then (the stream step runs first). */
  requireAccount(): Place {
    if (this.account === undefined) throw new SetupError('the account id is unknown: the stream ARN did not carry one; pass --account');
    return this.place;
  }
}

export class SetupError extends Error {
  override readonly name = 'SetupError';
}

export interface PlanItem {
  readonly step: Step;
  readonly finding: Finding;
}

export async function inspectAll(ctx: SetupContext, steps: readonly Step[]): Promise<PlanItem[]> {
  const out: PlanItem[] = [];
  for (const step of steps) out.push({ step, finding: await step.inspect(ctx) });
  return out;
}

export interface AppliedItem extends PlanItem {
  /** What apply() did; undefined when nothing was needed. */
  readonly done: string | undefined;
}

export async function applyAll(ctx: SetupContext, steps: readonly Step[]): Promise<AppliedItem[]> {
  const planned = await inspectAll(ctx, steps);
  const blocked = planned.filter((p) => p.finding.status === 'blocked');
  if (blocked.length > 0) {
    throw new SetupError(
      'nothing was changed, because:\n' +
        blocked.map((b) => `  ${b.step.title}: ${b.finding.detail}${b.finding.fix ? `\n    fix: ${b.finding.fix}` : ''}`).join('\n'),
    );
  }
  const out: AppliedItem[] = [];
  for (const step of steps) {
    const finding = await step.inspect(ctx);
    if (finding.status === 'blocked') throw new SetupError(`${step.title}: ${finding.detail}${finding.fix ? `\n  fix: ${finding.fix}` : ''}`);
    if (finding.status === 'ok') {
      out.push({ step, finding, done: undefined });
      continue;
    }
    ctx.env.progress(`${step.title}: ${finding.status === 'pending' ? 'waiting' : finding.status === 'create' ? 'creating' : 'updating'}…`);
    out.push({ step, finding, done: await step.apply(ctx, finding) });
  }
  return out;
}

/**
 * Polls until `probe` says done, printing the state when it changes and every ~10 s, so a
 * person sees the run is alive (streams take a minute, tables tens of seconds).
 */
export async function waitUntil(env: SetupEnv, what: string, probe: () => Promise<{ done: boolean; state: string }>): Promise<number> {
  const started = Date.now();
  let lastState = '';
  let lastShown = started;
  for (;;) {
    const { done, state } = await probe();
    const elapsed = Date.now() - started;
    if (done) return elapsed;
    if (elapsed > env.waitTimeoutMs) throw new SetupError(`${what} is still ${state} after ${Math.round(elapsed / 1000)} s; run setup again later to continue`);
    if (state !== lastState || Date.now() - lastShown >= 10_000) {
      env.progress(`  waiting for ${what}: ${state} (${Math.round(elapsed / 1000)} s)`);
      lastState = state;
      lastShown = Date.now();
    }
    await env.sleep(env.pollMs);
  }
}

/** True for an SDK error of the given name (the class check fails across duplicated SDK copies). */
export function isAwsError(err: unknown, ...names: string[]): boolean {
  return err instanceof Error && names.includes(err.name);
}

/** HTTP status of an SDK error, when it has one. */
export function httpStatus(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } } | null)?.$metadata?.httpStatusCode;
}
