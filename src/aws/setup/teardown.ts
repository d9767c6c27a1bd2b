/**
 * `flowcut teardown`: deletes what setup created for one pipeline, and nothing else. A resource
 * is deleted only if it carries flowcut:managed=true and flowcut:pipeline=<stream> (setup tags
 * everything it creates at creation time). The one untaggable resource, the subscription filter,
 * is deleted only when it sends to this pipeline's stream through this pipeline's managed role.
 * Pre-existing resources that setup merely verified carry no tags and are left alone.
 */
import { DeleteLogGroupCommand, DeleteSubscriptionFilterCommand, ListTagsForResourceCommand } from '@aws-sdk/client-cloudwatch-logs';
import { DeleteTableCommand, ListTagsOfResourceCommand } from '@aws-sdk/client-dynamodb';
import { DeleteFlowLogsCommand, DescribeFlowLogsCommand } from '@aws-sdk/client-ec2';
import { DeleteRoleCommand, DeleteRolePolicyCommand, DetachRolePolicyCommand, ListAttachedRolePoliciesCommand, ListRolePoliciesCommand } from '@aws-sdk/client-iam';
import { DeleteStreamCommand, ListTagsForStreamCommand } from '@aws-sdk/client-kinesis';
import { DeleteBucketCommand, GetBucketTaggingCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { isAwsError, type SetupContext } from './engine.js';
import { isManaged, MANAGED_TAG, PIPELINE_TAG, tagsToMap } from './shell.js';
import { headBucket } from './steps/bucket.js';
import { describeTable } from './steps/lease-table.js';
import { findLogGroup, subscriptionFilters } from './steps/logs.js';
import { getRole, servesOtherRegion } from './steps/role.js';
import { streamSummary } from './steps/stream.js';

export interface TeardownItem {
  readonly title: string;
  /** delete: ours, will go; keep: exists but not ours (or not safe); absent: nothing there. */
  readonly action: 'delete' | 'keep' | 'absent';
  readonly detail: string;
  readonly run?: () => Promise<void>;
}

export interface TeardownNames {
  /** The flow-log delivery role's name (setup's default unless --flow-log-role-name was used). */
  readonly flowLogRoleName: string;
}

const NOT_OURS = `not tagged ${MANAGED_TAG}=true for this pipeline: not created by flowcut setup`;

async function roleItem(ctx: SetupContext, name: string): Promise<TeardownItem> {
  const title = `IAM role ${name}`;
  const role = await getRole(ctx, name);
  if (role === undefined) return { title, action: 'absent', detail: 'does not exist' };
  if (!isManaged(tagsToMap(role.Tags), ctx.spec.stream)) return { title, action: 'keep', detail: NOT_OURS };
  const elsewhere = servesOtherRegion(ctx, role.AssumeRolePolicyDocument);
  if (elsewhere !== undefined) return { title, action: 'keep', detail: `serves this pipeline in ${elsewhere} (its trust policy names that region), not in ${ctx.place.region}` };
  return {
    title,
    action: 'delete',
    detail: 'with its inline policies (attached managed policies are detached, not deleted)',
    run: async () => {
      const { iam } = ctx.clients;
      for (const p of (await iam.send(new ListRolePoliciesCommand({ RoleName: name }))).PolicyNames ?? []) {
        await iam.send(new DeleteRolePolicyCommand({ RoleName: name, PolicyName: p }));
      }
      for (const p of (await iam.send(new ListAttachedRolePoliciesCommand({ RoleName: name }))).AttachedPolicies ?? []) {
        if (p.PolicyArn) await iam.send(new DetachRolePolicyCommand({ RoleName: name, PolicyArn: p.PolicyArn }));
      }
      await iam.send(new DeleteRoleCommand({ RoleName: name }));
    },
  };
}

async function streamItem(ctx: SetupContext, name: string): Promise<TeardownItem> {
  const title = `Kinesis stream ${name}`;
  const s = await streamSummary(ctx, name);
  if (s === undefined) return { title, action: 'absent', detail: 'does not exist' };
  const tags = await ctx.clients.kinesis.send(new ListTagsForStreamCommand({ StreamName: name }));
  if (!isManaged(tagsToMap(tags.Tags), ctx.spec.stream)) return { title, action: 'keep', detail: NOT_OURS };
  return {
    title,
    action: 'delete',
    detail: 'and every record still in it (with its enhanced fan-out consumers)',
    run: async () => {
      await ctx.clients.kinesis.send(new DeleteStreamCommand({ StreamName: name, EnforceConsumerDeletion: true }));
    },
  };
}

export async function planTeardown(ctx: SetupContext, names: TeardownNames): Promise<TeardownItem[]> {
  const { spec, clients } = ctx;
  const items: TeardownItem[] = [];

  // Flow logs first (they write into the group), found by tag so no resource id is needed.
  const fl = await clients.ec2.send(
    new DescribeFlowLogsCommand({
      Filter: [
        { Name: 'log-group-name', Values: [spec.logGroup] },
        { Name: `tag:${MANAGED_TAG}`, Values: ['true'] },
        { Name: `tag:${PIPELINE_TAG}`, Values: [spec.stream] },
      ],
    }),
  );
  const ids = (fl.FlowLogs ?? []).map((f) => f.FlowLogId).filter((id): id is string => !!id);
  items.push(
    ids.length === 0
      ? { title: 'VPC flow log', action: 'absent', detail: `none created by flowcut delivers to ${spec.logGroup}` }
      : {
          title: `VPC flow log ${ids.join(', ')}`,
          action: 'delete',
          detail: `(${(fl.FlowLogs ?? []).map((f) => f.ResourceId).join(', ')} -> ${spec.logGroup})`,
          run: async () => {
            const r = await clients.ec2.send(new DeleteFlowLogsCommand({ FlowLogIds: ids }));
            const bad = r.Unsuccessful?.[0];
            if (bad) throw new Error(`could not delete flow log ${bad.ResourceId}: ${bad.Error?.Message}`);
          },
        },
  );

  const filterTitle = `Subscription filter ${spec.filterName} on ${spec.logGroup}`;
  const filter = (await subscriptionFilters(ctx, spec.logGroup)).find((f) => f.filterName === spec.filterName);
  if (filter === undefined) items.push({ title: filterTitle, action: 'absent', detail: 'does not exist' });
  else {
    const role = await getRole(ctx, spec.roleName);
    const ours =
      role !== undefined && isManaged(tagsToMap(role.Tags), spec.stream) && filter.roleArn === role.Arn && (filter.destinationArn ?? '').endsWith(`:stream/${spec.stream}`);
    items.push(
      ours
        ? {
            title: filterTitle,
            action: 'delete',
            detail: `(sends to ${spec.stream} via ${spec.roleName})`,
            run: async () => {
              await clients.logs.send(new DeleteSubscriptionFilterCommand({ logGroupName: spec.logGroup, filterName: spec.filterName }));
            },
          }
        : { title: filterTitle, action: 'keep', detail: `does not send to ${spec.stream} through flowcut's role ${spec.roleName}` },
    );
  }

  items.push(await roleItem(ctx, spec.roleName), await roleItem(ctx, names.flowLogRoleName));

  const groupTitle = `CloudWatch Logs group ${spec.logGroup}`;
  const group = await findLogGroup(ctx, spec.logGroup);
  if (group === undefined) items.push({ title: groupTitle, action: 'absent', detail: 'does not exist' });
  else {
    const arn = (group.arn ?? '').replace(/:\*$/, '');
    const tags = arn ? (await clients.logs.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags : undefined;
    items.push(
      isManaged(tags, spec.stream)
        ? { title: groupTitle, action: 'delete', detail: 'and the flow-log events in it', run: async () => void (await clients.logs.send(new DeleteLogGroupCommand({ logGroupName: spec.logGroup }))) }
        : { title: groupTitle, action: 'keep', detail: NOT_OURS },
    );
  }

  const tableTitle = `DynamoDB lease table ${spec.leaseTable}`;
  const table = await describeTable(ctx, spec.leaseTable);
  if (table === undefined) items.push({ title: tableTitle, action: 'absent', detail: 'does not exist' });
  else {
    const tags = await clients.dynamodb.send(new ListTagsOfResourceCommand({ ResourceArn: table.TableArn }));
    items.push(
      isManaged(tagsToMap(tags.Tags), spec.stream)
        ? { title: tableTitle, action: 'delete', detail: 'and the consumer checkpoints in it', run: async () => void (await clients.dynamodb.send(new DeleteTableCommand({ TableName: spec.leaseTable }))) }
        : { title: tableTitle, action: 'keep', detail: NOT_OURS },
    );
  }

  if (spec.outputStream) items.push(await streamItem(ctx, spec.outputStream.name));
  items.push(await streamItem(ctx, spec.stream));

  if (spec.archive) {
    const bucket = spec.archive.bucket;
    const title = `S3 bucket ${bucket}`;
    const h = await headBucket(ctx, bucket);
    if (h.state !== 'exists') items.push({ title, action: h.state === 'missing' ? 'absent' : 'keep', detail: h.state === 'missing' ? 'does not exist' : 'not accessible to this account' });
    else {
      let tags: Record<string, string> = {};
      try {
        tags = tagsToMap((await clients.s3.send(new GetBucketTaggingCommand({ Bucket: bucket }))).TagSet);
      } catch (err) {
        if (!isAwsError(err, 'NoSuchTagSet', 'NoSuchTagSetError')) throw err;
      }
      const objects = (await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1 }))).KeyCount ?? 0;
      // The archive is the long-term record: never deleted with data in it.
      if (!isManaged(tags, spec.stream)) items.push({ title, action: 'keep', detail: NOT_OURS });
      else if (objects > 0) items.push({ title, action: 'keep', detail: `holds archived objects: empty it yourself first (aws s3 rm s3://${bucket} --recursive) if you really want it gone` });
      else items.push({ title, action: 'delete', detail: '(empty)', run: async () => void (await clients.s3.send(new DeleteBucketCommand({ Bucket: bucket }))) });
    }
  }
  return items;
}

export function formatTeardown(items: readonly TeardownItem[]): string {
  const mark = { delete: '-', keep: '=', absent: ' ' } as const;
  const out = items.map((i) => `  ${mark[i.action]} ${i.title}: ${i.action === 'delete' ? 'will delete' : i.action === 'keep' ? 'will keep' : ''}${i.action === 'absent' ? i.detail : ` ${i.detail}`}`);
  const n = items.filter((i) => i.action === 'delete').length;
  out.push('', n === 0 ? 'Nothing to delete.' : `${n} resource${n > 1 ? 's' : ''} to delete.`);
  return out.join('\n') + '\n';
}

/** Deletes in plan order (dependents first); stops at the first failure, saying what is left. */
export async function runTeardown(items: readonly TeardownItem[], progress: (line: string) => void): Promise<number> {
  let deleted = 0;
  for (const i of items) {
    if (i.action !== 'delete' || !i.run) continue;
    progress(`deleting ${i.title}…`);
    await i.run();
    deleted++;
  }
  return deleted;
}
