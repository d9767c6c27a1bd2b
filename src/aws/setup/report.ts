/** What setup prints: the plan (dry run), what it did, and the consumer's policy. */
import { ACCOUNT_PLACEHOLDER } from './arn.js';
import type { AppliedItem, PlanItem, SetupContext, Status } from './engine.js';
import { consumerPolicy } from './policies.js';

const MARK: Record<Status, string> = { ok: '=', pending: '…', create: '+', update: '~', blocked: '!' };

function header(ctx: SetupContext): string {
  const account = ctx.account ?? `${ACCOUNT_PLACEHOLDER} (unknown until the stream exists; --account shows exact ARNs)`;
  return `flowcut pipeline: stream ${ctx.spec.stream} <- log group ${ctx.spec.logGroup} (region ${ctx.region}, account ${account})`;
}

function line(item: PlanItem): string[] {
  const f = item.finding;
  const out = [`  ${MARK[f.status]} ${item.step.title}: ${f.detail}`];
  for (const c of f.changes ?? []) out.push(`      - ${c}`);
  if (f.fix) out.push(`      fix: ${f.fix}`);
  return out;
}

export function formatPlan(ctx: SetupContext, items: readonly PlanItem[]): string {
  const out = [header(ctx), '', ...items.flatMap(line), ''];
  const count = (s: Status) => items.filter((i) => i.finding.status === s).length;
  const [create, update, ok, blocked, pending] = [count('create'), count('update'), count('ok'), count('blocked'), count('pending')];
  if (create + update + pending + blocked === 0) out.push(`Nothing to change: all ${ok} resources exist as configured.`);
  else out.push(`Plan: ${create} to create, ${update} to change, ${ok + pending} unchanged${blocked ? `, ${blocked} blocked (setup would stop before changing anything)` : ''}.`);
  const commands = items.flatMap((i) => (i.finding.status === 'blocked' ? [] : i.step.commands(ctx, i.finding)));
  if (commands.length > 0) out.push('', 'Equivalent AWS CLI commands:', '', ...commands.map((c) => `  ${c}`));
  if (!ctx.accountKnown && commands.length > 0) out.push('', `Replace ${ACCOUNT_PLACEHOLDER} with your account id (or run with --account).`);
  return out.join('\n') + '\n';
}

export function formatApplied(ctx: SetupContext, items: readonly AppliedItem[]): string {
  const out = [header(ctx), ''];
  for (const i of items) {
    if (i.done === undefined) out.push(`  = ${i.step.title}: ${i.finding.detail}`);
    else out.push(`  ${MARK[i.finding.status]} ${i.step.title}: ${i.done}`);
  }
  const changed = items.filter((i) => i.done !== undefined).length;
  out.push('', changed === 0 ? `Nothing changed: all ${items.length} resources already exist as configured.` : `${changed} of ${items.length} resources created or changed.`);
  return out.join('\n') + '\n';
}

export function formatConsumerPolicy(ctx: SetupContext): string {
  return [
    '',
    "The flowcut consumer's least-privilege IAM policy (attach it to the role the consumer runs as):",
    '',
    JSON.stringify(consumerPolicy(ctx.place, ctx.spec), null, 2),
    '',
  ].join('\n');
}
