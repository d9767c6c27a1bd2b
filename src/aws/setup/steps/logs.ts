/** CloudWatch Logs: the flow-log group (when setup creates the flow log) and the subscription filter. */
import {
  CreateLogGroupCommand,
  DescribeLogGroupsCommand,
  DescribeSubscriptionFiltersCommand,
  PutRetentionPolicyCommand,
  PutSubscriptionFilterCommand,
  type LogGroup,
  type SubscriptionFilter,
} from '@aws-sdk/client-cloudwatch-logs';
import { DescribeFlowLogsCommand } from '@aws-sdk/client-ec2';
import { FlowFormat } from '../../../flowlog/format.js';
import { arns } from '../arn.js';
import { isAwsError, SetupError, type Finding, type SetupContext, type Step } from '../engine.js';
import { awsCli, managedTags } from '../shell.js';
import { filterPatternFor } from '../spec.js';
import { roleArn } from './role.js';

/** CloudWatch Logs allows two subscription filters per log group. */
export const MAX_FILTERS_PER_GROUP = 2;

export async function findLogGroup(ctx: SetupContext, name: string): Promise<LogGroup | undefined> {
  let nextToken: string | undefined;
  do {
    const r = await ctx.clients.logs.send(new DescribeLogGroupsCommand({ logGroupNamePrefix: name, ...(nextToken ? { nextToken } : {}) }));
    const hit = r.logGroups?.find((g) => g.logGroupName === name);
    if (hit) return hit;
    nextToken = r.nextToken;
  } while (nextToken);
  return undefined;
}

export async function subscriptionFilters(ctx: SetupContext, group: string): Promise<SubscriptionFilter[]> {
  try {
    return (await ctx.clients.logs.send(new DescribeSubscriptionFiltersCommand({ logGroupName: group }))).subscriptionFilters ?? [];
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return [];
    throw err;
  }
}

/** Setup creates the group itself (rather than letting the flow log do it) to tag it and bound its retention. */
export function logGroupStep(): Step {
  return {
    key: 'log-group',
    title: 'CloudWatch Logs group',
    async inspect(ctx): Promise<Finding> {
      const days = ctx.spec.flowLog!.retentionDays;
      const g = await findLogGroup(ctx, ctx.spec.logGroup);
      ctx.facts.logGroupPlanned = true;
      if (g === undefined) return { status: 'create', detail: `${ctx.spec.logGroup} missing: will create (retention ${days} days)` };
      ctx.learnFromArn(g.arn);
      return { status: 'ok', detail: `${ctx.spec.logGroup} exists (retention ${g.retentionInDays === undefined ? 'never expires' : `${g.retentionInDays} days`})` };
    },
    async apply(ctx) {
      const days = ctx.spec.flowLog!.retentionDays;
      await ctx.clients.logs.send(new CreateLogGroupCommand({ logGroupName: ctx.spec.logGroup, tags: managedTags(ctx.spec.stream) }));
      await ctx.clients.logs.send(new PutRetentionPolicyCommand({ logGroupName: ctx.spec.logGroup, retentionInDays: days }));
      return `created ${ctx.spec.logGroup}, retention ${days} days`;
    },
    commands(ctx, f) {
      if (f.status !== 'create') return [];
      const tags = Object.entries(managedTags(ctx.spec.stream)).map(([k, v]) => `${k}=${v}`).join(',');
      return [
        awsCli('logs', 'create-log-group', { 'log-group-name': ctx.spec.logGroup, tags }, ctx.region),
        awsCli('logs', 'put-retention-policy', { 'log-group-name': ctx.spec.logGroup, 'retention-in-days': ctx.spec.flowLog!.retentionDays }, ctx.region),
      ];
    },
  };
}

/**
 * The filter pattern: --filter-pattern if given; else a space-delimited pattern for the format of
 * the flow log delivering to the group (the one setup creates, or one that exists); else the
 * default v2 format. A pattern whose field count differs from the lines matches nothing, so the
 * format really matters.
 */
export async function desiredPattern(ctx: SetupContext): Promise<{ pattern: string; source: string }> {
  const { spec } = ctx;
  if (spec.filterPattern !== undefined) return { pattern: spec.filterPattern, source: '--filter-pattern' };
  if (spec.flowLog) return { pattern: filterPatternFor(spec.flowLog.format), source: 'the flow log setup creates' };
  const r = await ctx.clients.ec2.send(new DescribeFlowLogsCommand({ Filter: [{ Name: 'log-group-name', Values: [spec.logGroup] }] }));
  const formats = [...new Set((r.FlowLogs ?? []).map((f) => f.LogFormat).filter((f): f is string => !!f))];
  if (formats.length === 1) {
    let format: FlowFormat;
    try {
      format = FlowFormat.parse(formats[0]!);
    } catch {
      // A field newer than our registry: its name is unknown, so no per-field pattern; the empty
      // pattern still delivers every record.
      return { pattern: '', source: `flow log ${r.FlowLogs![0]!.FlowLogId} has a format with fields flowcut does not know (${formats[0]!}): empty pattern matches all` };
    }
    return { pattern: filterPatternFor(format), source: `the format of flow log ${r.FlowLogs![0]!.FlowLogId}` };
  }
  // Several formats into one group: only an empty pattern matches them all.
  if (formats.length > 1) return { pattern: '', source: 'flow logs of different formats deliver to this group (empty pattern matches all)' };
  return { pattern: filterPatternFor(FlowFormat.DEFAULT), source: 'the default v2 format (no flow log found for the group)' };
}

type FilterFinding = Finding & { pattern?: string };

export function subscriptionFilterStep(): Step {
  const title = 'Subscription filter';
  const want = async (ctx: SetupContext) => {
    const { pattern, source } = await desiredPattern(ctx);
    return {
      pattern,
      source,
      destinationArn: ctx.facts.streamArn ?? arns.stream(ctx.place, ctx.spec.stream),
      roleArn: roleArn(ctx, ctx.spec.roleName),
      distribution: ctx.spec.distribution,
    };
  };
  return {
    key: 'subscription-filter',
    title,
    async inspect(ctx): Promise<FilterFinding> {
      const { spec } = ctx;
      const name = `${spec.filterName} on ${spec.logGroup}`;
      if (!ctx.facts.logGroupPlanned && (await findLogGroup(ctx, spec.logGroup)) === undefined) {
        return {
          status: 'blocked',
          detail: `log group ${spec.logGroup} does not exist`,
          fix: 'create the VPC flow log first (it creates the group), or let setup do it: --flow-log vpc-…|subnet-…|eni-…',
        };
      }
      const w = await want(ctx);
      const filters = await subscriptionFilters(ctx, spec.logGroup);
      const mine = filters.find((f) => f.filterName === spec.filterName);
      if (mine === undefined) {
        const others = filters.map((f) => f.filterName);
        if (others.length >= MAX_FILTERS_PER_GROUP) {
          return {
            status: 'blocked',
            detail: `${spec.logGroup} already has ${others.length} subscription filters (${others.join(', ')}); CloudWatch Logs allows ${MAX_FILTERS_PER_GROUP}`,
            fix: 'remove one (aws logs delete-subscription-filter); setup does not take over a filter that sends elsewhere',
          };
        }
        return { status: 'create', detail: `${name} missing: will create (${w.distribution}, pattern from ${w.source})`, pattern: w.pattern };
      }
      if (mine.destinationArn !== w.destinationArn) {
        // Someone else's feed (a SIEM's, another pipeline's): redirecting it would take their logs.
        return {
          status: 'blocked',
          detail: `${name} sends to ${mine.destinationArn ?? '(no destination)'}, not to ${w.destinationArn}; setup does not redirect a filter it did not point at this stream`,
          fix: `give this pipeline its own --filter-name, or remove that filter first if it is yours (aws logs delete-subscription-filter --log-group-name ${spec.logGroup} --filter-name ${spec.filterName})`,
        };
      }
      const changes: string[] = [];
      if ((mine.filterPattern ?? '') !== w.pattern) changes.push(`pattern ${JSON.stringify(mine.filterPattern ?? '')} -> ${JSON.stringify(w.pattern)}`);
      if (mine.roleArn !== w.roleArn) changes.push(`role ${mine.roleArn ?? '(none)'} -> ${w.roleArn}`);
      if ((mine.distribution ?? 'ByLogStream') !== w.distribution) changes.push(`distribution ${mine.distribution ?? 'ByLogStream'} -> ${w.distribution}`);
      if (changes.length === 0) return { status: 'ok', detail: `${name} exists: ${w.distribution}, to the stream, via the role` };
      return { status: 'update', detail: `${name} exists: will replace it`, changes, pattern: w.pattern };
    },
    async apply(ctx) {
      ctx.requireAccount();
      const w = await want(ctx);
      const input = {
        logGroupName: ctx.spec.logGroup,
        filterName: ctx.spec.filterName,
        filterPattern: w.pattern,
        destinationArn: w.destinationArn,
        roleArn: w.roleArn,
        distribution: w.distribution,
      };
      // CloudWatch Logs test-delivers to the stream with the role when the filter is put; a role
      // made seconds ago is often not yet assumable (IAM is eventually consistent), which
      // surfaces as InvalidParameterException. Retry that for a while, as people do by hand.
      const started = Date.now();
      for (let attempt = 1; ; attempt++) {
        try {
          await ctx.clients.logs.send(new PutSubscriptionFilterCommand(input));
          return attempt === 1 ? 'put' : `put (after ${attempt} attempts: waited for the new role to propagate)`;
        } catch (err) {
          const retryable = isAwsError(err, 'InvalidParameterException') && /deliver|assume|role|test message/i.test((err as Error).message);
          if (!retryable || Date.now() - started > ctx.env.waitTimeoutMs) {
            if (retryable) throw new SetupError(`CloudWatch Logs still cannot use ${w.roleArn} to write ${w.destinationArn}: ${(err as Error).message}`);
            throw err;
          }
          ctx.env.progress(`  CloudWatch Logs cannot use the role yet (IAM propagation); retrying (${Math.round((Date.now() - started) / 1000)} s)`);
          await ctx.env.sleep(Math.min(2_000 * attempt, 10_000));
        }
      }
    },
    commands(ctx, finding) {
      if (finding.status !== 'create' && finding.status !== 'update') return [];
      return [
        awsCli(
          'logs',
          'put-subscription-filter',
          {
            'log-group-name': ctx.spec.logGroup,
            'filter-name': ctx.spec.filterName,
            'filter-pattern': (finding as FilterFinding).pattern ?? '',
            'destination-arn': ctx.facts.streamArn ?? arns.stream(ctx.place, ctx.spec.stream),
            'role-arn': roleArn(ctx, ctx.spec.roleName),
            distribution: ctx.spec.distribution,
          },
          ctx.region,
        ),
      ];
    },
  };
}
