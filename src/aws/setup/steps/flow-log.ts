/** The VPC flow log itself, delivering to the log group every minute in flowcut's custom format. */
import { CreateFlowLogsCommand, DescribeFlowLogsCommand, type FlowLog } from '@aws-sdk/client-ec2';
import { SetupError, type Finding, type SetupContext, type Step } from '../engine.js';
import { awsCli, tagList } from '../shell.js';
import { roleArn } from './role.js';

/** 1-minute aggregation: detection latency is bounded by how often flows are cut. */
export const AGGREGATION_SECONDS = 60;

export async function flowLogsFor(ctx: SetupContext, resourceId: string | undefined, logGroup: string): Promise<FlowLog[]> {
  const Filter = [{ Name: 'log-group-name', Values: [logGroup] }];
  if (resourceId !== undefined) Filter.push({ Name: 'resource-id', Values: [resourceId] });
  const out: FlowLog[] = [];
  let NextToken: string | undefined;
  do {
    const r = await ctx.clients.ec2.send(new DescribeFlowLogsCommand({ Filter, ...(NextToken ? { NextToken } : {}) }));
    out.push(...(r.FlowLogs ?? []));
    NextToken = r.NextToken;
  } while (NextToken);
  return out;
}

export function flowLogStep(): Step {
  return {
    key: 'flow-log',
    title: 'VPC flow log',
    async inspect(ctx): Promise<Finding> {
      const fl = ctx.spec.flowLog!;
      const existing = (await flowLogsFor(ctx, fl.resourceId, ctx.spec.logGroup)).filter((f) => f.LogDestinationType !== 's3');
      const what = `${fl.resourceId} -> ${ctx.spec.logGroup}`;
      if (existing.length === 0) return { status: 'create', detail: `${what} missing: will create (${fl.trafficType}, ${AGGREGATION_SECONDS} s, ${fl.format.fields.length}-field custom format)` };
      const f = existing[0]!;
      // Flow logs are immutable: a difference can only be fixed by deleting and recreating.
      const diffs: string[] = [];
      if ((f.LogFormat ?? '').trim() !== fl.format.spec) diffs.push(`format is '${f.LogFormat}'`);
      if (f.TrafficType !== fl.trafficType) diffs.push(`traffic type is ${f.TrafficType}`);
      if (f.MaxAggregationInterval !== AGGREGATION_SECONDS) diffs.push(`aggregation is ${f.MaxAggregationInterval} s`);
      if (diffs.length > 0) {
        return {
          status: 'blocked',
          detail: `${f.FlowLogId} (${what}) exists but ${diffs.join(', ')}`,
          fix: `flow logs cannot be changed: delete it (aws ec2 delete-flow-logs --flow-log-ids ${f.FlowLogId}) and run setup again, or pass its settings (--log-format '${f.LogFormat}' --traffic-type ${f.TrafficType})`,
        };
      }
      return { status: 'ok', detail: `${f.FlowLogId} (${what}) exists: ${f.FlowLogStatus}, delivery ${f.DeliverLogsStatus ?? 'unknown'}` };
    },
    async apply(ctx) {
      ctx.requireAccount();
      const fl = ctx.spec.flowLog!;
      const r = await ctx.clients.ec2.send(
        new CreateFlowLogsCommand({
          ResourceIds: [fl.resourceId],
          ResourceType: fl.resourceType,
          TrafficType: fl.trafficType,
          LogDestinationType: 'cloud-watch-logs',
          LogGroupName: ctx.spec.logGroup,
          DeliverLogsPermissionArn: roleArn(ctx, fl.roleName),
          LogFormat: fl.format.spec,
          MaxAggregationInterval: AGGREGATION_SECONDS,
          TagSpecifications: [{ ResourceType: 'vpc-flow-log', Tags: tagList(ctx.spec.stream) }],
        }),
      );
      // CreateFlowLogs reports per-resource failures in the body, not as an error.
      const failed = r.Unsuccessful?.[0];
      if (failed) throw new SetupError(`could not create the flow log for ${failed.ResourceId}: ${failed.Error?.Code}: ${failed.Error?.Message}`);
      return `created ${r.FlowLogIds?.join(', ') ?? ''}`.trim();
    },
    commands(ctx, f) {
      if (f.status !== 'create') return [];
      const fl = ctx.spec.flowLog!;
      const tags = tagList(ctx.spec.stream).map((t) => `{Key=${t.Key},Value=${t.Value}}`).join(',');
      return [
        awsCli(
          'ec2',
          'create-flow-logs',
          {
            'resource-type': fl.resourceType,
            'resource-ids': fl.resourceId,
            'traffic-type': fl.trafficType,
            'log-destination-type': 'cloud-watch-logs',
            'log-group-name': ctx.spec.logGroup,
            'deliver-logs-permission-arn': roleArn(ctx, fl.roleName),
            'log-format': fl.format.spec,
            'max-aggregation-interval': AGGREGATION_SECONDS,
            'tag-specifications': `ResourceType=vpc-flow-log,Tags=[${tags}]`,
          },
          ctx.region,
        ),
      ];
    },
  };
}
