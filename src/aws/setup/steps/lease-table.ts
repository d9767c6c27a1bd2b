/**
 * The DynamoDB lease table in KCL's schema, created exactly as the consumer's own
 * LeaseTable.ensureTable would (leaseKey hash key, the LeaseOwnerToLeaseKeyIndex KCL 3 queries,
 * on-demand billing), so either may come first.
 */
import { CreateTableCommand, DescribeTableCommand, ListTagsOfResourceCommand, TagResourceCommand, type CreateTableCommandInput } from '@aws-sdk/client-dynamodb';
import { isAwsError, waitUntil, type Finding, type SetupContext, type Step } from '../engine.js';
import { leaseTableSchema } from '../../../sources/kinesis/lease-table.js';
import { awsCli, isManaged, tagList, tagsToMap } from '../shell.js';

export function leaseTableDefinition(name: string, stream: string): CreateTableCommandInput {
  return { ...leaseTableSchema(name), Tags: tagList(stream) };
}

export async function describeTable(ctx: SetupContext, name: string) {
  try {
    return (await ctx.clients.dynamodb.send(new DescribeTableCommand({ TableName: name }))).Table;
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return undefined;
    throw err;
  }
}

export function leaseTableStep(): Step {
  return {
    key: 'lease-table',
    title: 'DynamoDB lease table',
    async inspect(ctx): Promise<Finding> {
      const name = ctx.spec.leaseTable;
      const t = await describeTable(ctx, name);
      if (t === undefined) return { status: 'create', detail: `${name} missing: will create (leaseKey hash key, on-demand)` };
      ctx.learnFromArn(t.TableArn);
      const hash = t.KeySchema?.find((k) => k.KeyType === 'HASH')?.AttributeName;
      const type = t.AttributeDefinitions?.find((a) => a.AttributeName === hash)?.AttributeType;
      if (hash !== 'leaseKey' || type !== 'S' || (t.KeySchema?.length ?? 0) !== 1) {
        return { status: 'blocked', detail: `${name} exists but is not a lease table (hash key ${hash}:${type})`, fix: 'choose another name with --lease-table' };
      }
      const mode = t.BillingModeSummary?.BillingMode ?? 'PROVISIONED';
      if (t.TableStatus !== 'ACTIVE') return { status: 'pending', detail: `${name} exists, ${t.TableStatus}` };
      return { status: 'ok', detail: `${name} exists: ACTIVE, ${mode === 'PAY_PER_REQUEST' ? 'on-demand' : 'provisioned'}` };
    },
    async apply(ctx, finding) {
      const name = ctx.spec.leaseTable;
      if (finding.status === 'create') await ctx.clients.dynamodb.send(new CreateTableCommand(leaseTableDefinition(name, ctx.spec.stream)));
      let arn: string | undefined;
      const ms = await waitUntil(ctx.env, `lease table ${name}`, async () => {
        const t = await describeTable(ctx, name);
        arn = t?.TableArn;
        return { done: t?.TableStatus === 'ACTIVE', state: t?.TableStatus ?? 'not visible yet' };
      });
      if (finding.status === 'create' && arn !== undefined) {
        // CreateTable's Tags are atomic on AWS but dropped by some emulators (dynalite): make sure,
        // because teardown deletes only what carries them.
        const tags = await ctx.clients.dynamodb.send(new ListTagsOfResourceCommand({ ResourceArn: arn }));
        if (!isManaged(tagsToMap(tags.Tags), ctx.spec.stream)) {
          await ctx.clients.dynamodb.send(new TagResourceCommand({ ResourceArn: arn, Tags: tagList(ctx.spec.stream) }));
        }
      }
      return `${finding.status === 'create' ? 'created' : 'now'} ACTIVE (${Math.round(ms / 1000)} s)`;
    },
    commands(ctx, f) {
      const name = ctx.spec.leaseTable;
      const wait = awsCli('dynamodb', 'wait table-exists', { 'table-name': name }, ctx.region);
      if (f.status !== 'create') return f.status === 'pending' ? [wait] : [];
      const def = leaseTableDefinition(name, ctx.spec.stream);
      // List-valued options as JSON: the CLI accepts JSON for every structured parameter.
      return [
        awsCli(
          'dynamodb',
          'create-table',
          {
            'table-name': name,
            'attribute-definitions': JSON.stringify(def.AttributeDefinitions),
            'key-schema': JSON.stringify(def.KeySchema),
            'billing-mode': 'PAY_PER_REQUEST',
            'global-secondary-indexes': JSON.stringify(def.GlobalSecondaryIndexes),
            tags: JSON.stringify(def.Tags),
          },
          ctx.region,
        ),
        wait,
      ];
    },
  };
}
