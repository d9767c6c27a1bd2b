/**
 * `flowcut doctor`: checks a running pipeline end to end, in the order data flows (flow log ->
 * log group -> subscription filter + role -> stream -> consumer), and says for each failure what
 * to do. Checks after a failed prerequisite still run when they can: several problems are
 * often present at once.
 */
import { DescribeLogStreamsCommand } from '@aws-sdk/client-cloudwatch-logs';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { SimulatePrincipalPolicyCommand } from '@aws-sdk/client-iam';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, type Shard } from '@aws-sdk/client-kinesis';
import { FlowFormat } from '../../flowlog/format.js';
import { parseArn } from './arn.js';
import { isAwsError, type SetupContext } from './engine.js';
import { parsePolicy } from './policies.js';
import { patternFieldCount } from './spec.js';
import { flowLogsFor } from './steps/flow-log.js';
import { describeTable } from './steps/lease-table.js';
import { findLogGroup, subscriptionFilters } from './steps/logs.js';
import { getRole } from './steps/role.js';
import { encryptStreamCommand, streamSummary } from './steps/stream.js';

export type CheckStatus = 'pass' | 'warn' | 'fail' | 'skip';

export interface Check {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
  readonly fix?: string;
}

export interface DoctorOptions {
  /** How far back to look for records on the stream. */
  readonly windowMs: number;
  /** GetRecords calls per shard at most (each returns up to 10,000 records). */
  readonly maxReadsPerShard: number;
  /** Consumer lag above this is a warning. */
  readonly lagWarnMs: number;
  readonly now?: () => number;
}

const CREDENTIAL_ERRORS = ['CredentialsProviderError', 'UnrecognizedClientException', 'InvalidSignatureException', 'ExpiredTokenException', 'ExpiredToken', 'InvalidClientTokenId', 'AccessDeniedException'];

const seconds = (ms: number) => (ms < 120_000 ? `${Math.round(ms / 1000)} s` : `${Math.round(ms / 60_000)} min`);

export async function runDoctor(ctx: SetupContext, opts: DoctorOptions): Promise<Check[]> {
  const { spec, clients } = ctx;
  const now = opts.now ?? Date.now;
  const checks: Check[] = [];
  const add = (c: Check) => void checks.push(c);

  // 1. Credentials and the stream (the first call tells both).
  let summary;
  try {
    summary = await streamSummary(ctx, spec.stream);
  } catch (err) {
    if (isAwsError(err, ...CREDENTIAL_ERRORS)) {
      add({
        name: 'credentials',
        status: 'fail',
        detail: `${(err as Error).name}: ${(err as Error).message}`,
        fix: 'configure credentials (aws configure / aws sso login / AWS_PROFILE) for the account that owns the stream, with kinesis:DescribeStreamSummary on it',
      });
      return checks;
    }
    throw err;
  }
  add({ name: 'credentials', status: 'pass', detail: `accepted in ${ctx.region}` });
  const streamArn = summary?.StreamARN;
  ctx.learnFromArn(streamArn);
  if (summary === undefined) {
    add({ name: 'stream', status: 'fail', detail: `${spec.stream} does not exist in ${ctx.region}`, fix: `flowcut setup --stream ${spec.stream} --log-group ${spec.logGroup} --region ${ctx.region}` });
  } else if (summary.StreamStatus !== 'ACTIVE') {
    add({ name: 'stream', status: summary.StreamStatus === 'UPDATING' ? 'warn' : 'fail', detail: `${spec.stream} is ${summary.StreamStatus}`, fix: 'wait until ACTIVE (aws kinesis wait stream-exists)' });
  } else {
    const mode = summary.StreamModeDetails?.StreamMode === 'ON_DEMAND' ? 'on-demand' : 'provisioned';
    add({ name: 'stream', status: 'pass', detail: `${spec.stream} ACTIVE, ${mode}, ${summary.OpenShardCount} open shard(s), retention ${summary.RetentionPeriodHours} h` });
    // Flow records name hosts, ports and volumes: they belong encrypted at rest, as setup creates them.
    if (summary.EncryptionType === 'KMS') {
      add({ name: 'encryption at rest', status: 'pass', detail: `${spec.stream} encrypted with ${summary.KeyId ?? 'a KMS key'}` });
    } else {
      add({
        name: 'encryption at rest',
        status: 'warn',
        detail: `${spec.stream} is not encrypted at rest`,
        fix: `${encryptStreamCommand(spec.stream, ctx.region)} (the AWS-managed key asks no KMS permission of writers or readers)`,
      });
    }
  }

  // 2. Log group and the flow log feeding it.
  const group = await findLogGroup(ctx, spec.logGroup);
  let flowFormat: FlowFormat | undefined;
  if (group === undefined) {
    add({ name: 'log group', status: 'fail', detail: `${spec.logGroup} does not exist`, fix: 'create the flow log (flowcut setup --flow-log vpc-… creates both), or check --log-group and --region' });
  } else {
    const flowLogs = await flowLogsFor(ctx, undefined, spec.logGroup);
    if (flowLogs.length === 0) {
      add({ name: 'flow log', status: 'warn', detail: `no flow log in this account and region delivers to ${spec.logGroup}`, fix: 'create one (flowcut setup --flow-log vpc-…), unless the flow log lives in another account' });
    } else {
      const failed = flowLogs.filter((f) => f.DeliverLogsStatus === 'FAILED');
      if (failed.length > 0) {
        const f = failed[0]!;
        add({
          name: 'flow log',
          status: 'fail',
          detail: `${f.FlowLogId} (${f.ResourceId}) cannot deliver: ${f.DeliverLogsErrorMessage ?? 'unknown error'}`,
          fix: `check that ${f.DeliverLogsPermissionArn} trusts vpc-flow-logs.amazonaws.com and may write ${spec.logGroup} (flowcut setup --flow-log ${f.ResourceId} fixes a flowcut-made role)`,
        });
      } else {
        add({ name: 'flow log', status: 'pass', detail: flowLogs.map((f) => `${f.FlowLogId} (${f.ResourceId}, ${f.TrafficType}, ${f.MaxAggregationInterval} s) ${f.FlowLogStatus}`).join('; ') });
      }
      const formats = [...new Set(flowLogs.map((f) => f.LogFormat).filter((f): f is string => !!f))];
      if (formats.length === 1) flowFormat = FlowFormat.parse(formats[0]!);
    }
    const latest = await clients.logs.send(new DescribeLogStreamsCommand({ logGroupName: spec.logGroup, orderBy: 'LastEventTime', descending: true, limit: 1 }));
    const last = latest.logStreams?.[0]?.lastIngestionTime;
    if (last === undefined) add({ name: 'log events', status: 'fail', detail: `${spec.logGroup} has no log streams: nothing was ever delivered`, fix: 'check the flow log (above); new flow logs take up to 10 minutes to deliver' });
    else if (now() - last > 15 * 60_000) add({ name: 'log events', status: 'warn', detail: `last event ingested ${seconds(now() - last)} ago`, fix: 'check the flow log status and that the monitored resource has traffic' });
    else add({ name: 'log events', status: 'pass', detail: `last event ingested ${seconds(Math.max(0, now() - last))} ago` });
  }

  // 3. The subscription filter to this stream, and its role.
  const filters = group === undefined ? [] : await subscriptionFilters(ctx, spec.logGroup);
  const filter = filters.find((f) => streamArn !== undefined && f.destinationArn === streamArn) ?? filters.find((f) => f.filterName === spec.filterName);
  if (group !== undefined && filter === undefined) {
    add({ name: 'subscription filter', status: 'fail', detail: `no subscription filter on ${spec.logGroup} sends to ${spec.stream}`, fix: `flowcut setup --stream ${spec.stream} --log-group ${spec.logGroup}` });
  } else if (filter !== undefined) {
    if (streamArn !== undefined && filter.destinationArn !== streamArn) {
      add({ name: 'subscription filter', status: 'fail', detail: `${filter.filterName} sends to ${filter.destinationArn}, not ${streamArn}`, fix: 'run flowcut setup again to point it at the stream' });
    } else {
      const n = patternFieldCount(filter.filterPattern ?? '');
      if (n !== undefined && flowFormat !== undefined && n !== flowFormat.fields.length) {
        add({
          name: 'subscription filter',
          status: 'fail',
          detail: `pattern names ${n} fields but the flow log writes ${flowFormat.fields.length}: no event matches`,
          fix: 'run flowcut setup again (it derives the pattern from the flow log format), or use --filter-pattern ""',
        });
      } else {
        add({ name: 'subscription filter', status: 'pass', detail: `${filter.filterName}: ${filter.distribution ?? 'ByLogStream'}, pattern ${JSON.stringify(filter.filterPattern ?? '')}` });
      }
    }
    await checkRole(ctx, filter.roleArn, streamArn, add);
  }

  // 4. Records on the stream, and 5. consumer lag.
  if (summary?.StreamStatus === 'ACTIVE' || summary?.StreamStatus === 'UPDATING') {
    const shards = await openShards(ctx);
    await checkRecords(ctx, shards, opts, now, add);
    await checkConsumerLag(ctx, opts, add);
  }
  return checks;
}

async function checkRole(ctx: SetupContext, roleArn: string | undefined, streamArn: string | undefined, add: (c: Check) => void): Promise<void> {
  if (roleArn === undefined) {
    add({ name: 'role', status: 'fail', detail: 'the subscription filter has no role: CloudWatch Logs cannot write to Kinesis without one', fix: 'run flowcut setup again' });
    return;
  }
  const name = parseArn(roleArn)?.resource.split('/').pop() ?? roleArn;
  const role = await getRole(ctx, name);
  if (role === undefined) {
    add({ name: 'role', status: 'fail', detail: `${roleArn} does not exist: delivery fails`, fix: 'run flowcut setup again (it recreates the role)' });
    return;
  }
  // The regional principal (what setup writes, as AWS's subscription guide) or the global one.
  const principals = [`logs.${ctx.region}.amazonaws.com`, 'logs.amazonaws.com'];
  const trust = JSON.stringify(parsePolicy(role.AssumeRolePolicyDocument) ?? {});
  const trusted = principals.find((p) => trust.includes(`"${p}"`));
  if (trusted === undefined) {
    add({ name: 'role trust', status: 'fail', detail: `${name} does not trust ${principals[0]}`, fix: 'run flowcut setup again (it restores the trust policy)' });
  } else {
    add({ name: 'role trust', status: 'pass', detail: `${name} trusts ${trusted}` });
  }
  if (streamArn === undefined) return;
  // The policy simulator evaluates every policy on the role (inline, managed, boundary) as IAM would.
  try {
    const r = await ctx.clients.iam.send(
      new SimulatePrincipalPolicyCommand({ PolicySourceArn: role.Arn, ActionNames: ['kinesis:PutRecord', 'kinesis:PutRecords'], ResourceArns: [streamArn] }),
    );
    const denied = (r.EvaluationResults ?? []).filter((e) => e.EvalDecision !== 'allowed').map((e) => e.EvalActionName);
    if (denied.length > 0) add({ name: 'role permissions', status: 'fail', detail: `${name} may not ${denied.join(', ')} on the stream`, fix: 'run flowcut setup again (it restores the role policy)' });
    else add({ name: 'role permissions', status: 'pass', detail: `${name} may put records on the stream` });
  } catch (err) {
    if (!isAwsError(err, 'AccessDenied', 'AccessDeniedException')) throw err;
    add({ name: 'role permissions', status: 'skip', detail: 'not checked: iam:SimulatePrincipalPolicy is not allowed for these credentials' });
  }
}

async function openShards(ctx: SetupContext): Promise<Shard[]> {
  const out: Shard[] = [];
  let NextToken: string | undefined;
  do {
    const r = await ctx.clients.kinesis.send(
      new ListShardsCommand(NextToken ? { NextToken } : { StreamName: ctx.spec.stream, ShardFilter: { Type: 'AT_LATEST' } }),
    );
    out.push(...(r.Shards ?? []));
    NextToken = r.NextToken;
  } while (NextToken);
  return out;
}

async function checkRecords(ctx: SetupContext, shards: readonly Shard[], opts: DoctorOptions, now: () => number, add: (c: Check) => void): Promise<void> {
  const since = new Date(now() - opts.windowMs);
  let total = 0;
  let newest: number | undefined;
  const perShard: string[] = [];
  let idle = 0;
  for (const shard of shards) {
    let it = (
      await ctx.clients.kinesis.send(new GetShardIteratorCommand({ StreamName: ctx.spec.stream, ShardId: shard.ShardId, ShardIteratorType: 'AT_TIMESTAMP', Timestamp: since }))
    ).ShardIterator;
    let count = 0;
    let behind: number | undefined;
    for (let i = 0; it && i < opts.maxReadsPerShard; i++) {
      const r = await ctx.clients.kinesis.send(new GetRecordsCommand({ ShardIterator: it }));
      count += r.Records?.length ?? 0;
      for (const rec of r.Records ?? []) {
        const t = rec.ApproximateArrivalTimestamp?.getTime();
        if (t !== undefined && (newest === undefined || t > newest)) newest = t;
      }
      behind = r.MillisBehindLatest;
      it = r.NextShardIterator;
      if (behind === 0) break;
    }
    total += count;
    if (count === 0) idle++;
    perShard.push(`${shard.ShardId} ${count}${behind ? ` (read stopped ${seconds(behind)} behind the tip)` : ''}`);
  }
  const window = seconds(opts.windowMs);
  if (total === 0) {
    add({
      name: 'records',
      status: 'fail',
      detail: `no record arrived on any of ${shards.length} shard(s) in the last ${window}`,
      fix: 'check the failures above; if all pass, the filter pattern may match no event (compare its field count with the flow-log format) or the VPC has no traffic',
    });
    return;
  }
  add({ name: 'records', status: 'pass', detail: `${total} record(s) in the last ${window}, newest ${seconds(Math.max(0, now() - (newest ?? now())))} ago; per shard: ${perShard.join(', ')}` });
  if (shards.length > 1 && idle > 0) add({ name: 'shard balance', status: 'warn', detail: `${idle} of ${shards.length} shards got nothing (ByLogStream keys by ENI: few ENIs leave shards idle)`, fix: 'fewer shards, or --distribution Random if per-ENI order does not matter' });
}

/** A KCL checkpoint that is a sequence number (not TRIM_HORIZON, LATEST, SHARD_END, ...). */
const SEQUENCE = /^\d+$/;

async function checkConsumerLag(ctx: SetupContext, opts: DoctorOptions, add: (c: Check) => void): Promise<void> {
  const table = await describeTable(ctx, ctx.spec.leaseTable);
  if (table === undefined) {
    add({ name: 'consumer', status: 'skip', detail: `no lease table ${ctx.spec.leaseTable}: no consumer has run (or it uses another lease table: flowcut run --app)` });
    return;
  }
  const r = await ctx.clients.dynamodb.send(new ScanCommand({ TableName: ctx.spec.leaseTable, ConsistentRead: true }));
  const leases = (r.Items ?? []).filter((i) => i.leaseKey?.S && i.checkpoint?.S !== undefined);
  if (leases.length === 0) {
    add({ name: 'consumer', status: 'warn', detail: `lease table ${ctx.spec.leaseTable} holds no leases: no consumer has started`, fix: `start the consumer on this table: flowcut run --stream ${ctx.spec.stream} --app ${ctx.spec.leaseTable}` });
    return;
  }
  let worst = 0;
  let worstShard = '';
  const unowned: string[] = [];
  for (const l of leases) {
    const shardId = l.shardId?.S ?? l.leaseKey!.S!;
    if (!l.leaseOwner?.S && l.checkpoint?.S !== 'SHARD_END') unowned.push(shardId);
    const cp = l.checkpoint!.S!;
    if (!SEQUENCE.test(cp)) continue;
    // MillisBehindLatest just after the checkpoint is how far the consumer is behind the tip.
    try {
      const it = await ctx.clients.kinesis.send(
        new GetShardIteratorCommand({ StreamName: ctx.spec.stream, ShardId: shardId, ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', StartingSequenceNumber: cp }),
      );
      const rec = await ctx.clients.kinesis.send(new GetRecordsCommand({ ShardIterator: it.ShardIterator, Limit: 1 }));
      const behind = rec.MillisBehindLatest ?? 0;
      if (behind >= worst) [worst, worstShard] = [behind, shardId];
    } catch (err) {
      if (!isAwsError(err, 'ResourceNotFoundException', 'InvalidArgumentException')) throw err;
      // A checkpoint past retention or on a deleted shard: nothing to measure.
    }
  }
  if (unowned.length > 0) add({ name: 'consumer', status: 'warn', detail: `${unowned.length} lease(s) have no owner (${unowned.join(', ')}): no worker is reading them`, fix: 'start (more) flowcut consumers' });
  if (worst > opts.lagWarnMs) {
    add({ name: 'consumer lag', status: 'warn', detail: `${seconds(worst)} behind on ${worstShard} (MillisBehindLatest after the checkpoint)`, fix: 'add consumers or shards; check the consumer for errors' });
  } else {
    add({ name: 'consumer lag', status: 'pass', detail: `at most ${seconds(worst)} behind over ${leases.length} lease(s)` });
  }
}

export function formatChecks(checks: readonly Check[]): string {
  const mark: Record<CheckStatus, string> = { pass: 'ok  ', warn: 'warn', fail: 'FAIL', skip: 'skip' };
  const out: string[] = [];
  for (const c of checks) {
    out.push(`${mark[c.status]} ${c.name}: ${c.detail}`);
    if (c.fix && c.status !== 'pass') out.push(`     fix: ${c.fix}`);
  }
  const failed = checks.filter((c) => c.status === 'fail').length;
  const warned = checks.filter((c) => c.status === 'warn').length;
  out.push('', failed === 0 ? `All checks passed${warned ? ` (${warned} warning${warned > 1 ? 's' : ''})` : ''}.` : `${failed} check${failed > 1 ? 's' : ''} failed.`);
  return out.join('\n') + '\n';
}
