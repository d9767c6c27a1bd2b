import { Command, Option } from 'commander';
import { cloudFormationTemplate, toYaml } from '../../aws/setup/cloudformation.js';
import { applyAll, inspectAll } from '../../aws/setup/engine.js';
import { formatApplied, formatConsumerPolicy, formatPlan } from '../../aws/setup/report.js';
import { defaultEnv, toCliError, withContext } from '../../aws/setup/runtime.js';
import { DISTRIBUTIONS, resolveSpec, TRAFFIC_TYPES, type SetupInput } from '../../aws/setup/spec.js';
import { setupSteps } from '../../aws/setup/steps/index.js';
import { CliError } from '../errors.js';

interface SetupOptions extends SetupInput {
  region?: string;
  dryRun?: boolean;
  emit?: 'cloudformation';
  templateFormat: 'json' | 'yaml';
  waitTimeout: string;
  quiet?: boolean;
}

/** Flags that name a pipeline's resources; teardown and doctor take the same ones. */
export function addPipelineOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--stream <name>', 'Kinesis stream the flow logs go to')
    .requiredOption('--log-group <name>', 'CloudWatch Logs group the VPC flow log writes')
    .option('--region <region>', 'AWS region (default: AWS_REGION or your profile)')
    .option('--filter-name <name>', 'subscription filter name (default flowcut-STREAM)')
    .option('--role-name <name>', 'IAM role CloudWatch Logs assumes (default flowcut-cwl-STREAM; IAM names are global, so the same stream set up in a second region needs its own, e.g. flowcut-cwl-STREAM-REGION)')
    .option('--lease-table <name>', "DynamoDB lease table, the one `flowcut run --app` names (default flowcut-STREAM)")
    .option('--output-stream <name>', 'Kinesis stream for findings (setup creates it and teardown removes it only when named; doctor does not check it)')
    .option('--archive-bucket <name>', 'S3 bucket for the archive (setup creates it only when named; teardown removes it only if setup made it and it is empty; doctor does not check it)');
}

export function registerSetup(program: Command): void {
  const cmd = program
    .command('setup')
    .description('Create or verify the AWS side of a pipeline: Kinesis stream, CloudWatch Logs subscription (role + filter), optionally the VPC flow log, the lease table, a findings stream and the archive bucket. Streams it creates are encrypted at rest with the AWS-managed key alias/aws/kinesis (no KMS permission needed by writers or readers); existing ones are reported, not changed. An archive bucket it creates blocks public access and refuses requests not made over TLS. Idempotent.');
  addPipelineOptions(cmd)
    .option('--shards <n|on-demand>', "input stream capacity: a shard count or 'on-demand'", '1')
    .addOption(new Option('--distribution <kind>', 'how CloudWatch Logs spreads events over shards: ByLogStream keeps each ENI on one shard (per-ENI models need that)').choices(DISTRIBUTIONS).default('ByLogStream'))
    .option('--filter-pattern <pattern>', "subscription filter pattern (default: space-delimited, from the flow log's format; '' sends every event)")
    .option('--flow-log <resource-id>', 'also create the VPC flow log for this vpc-…, subnet-… or eni-… (to CloudWatch Logs, 1-minute aggregation), with its log group and delivery role')
    .addOption(new Option('--traffic-type <type>', 'with --flow-log: traffic to capture (default ALL)').choices(TRAFFIC_TYPES))
    .option('--log-format <format>', "with --flow-log: '${field} ...' custom format (default: v2 fields + vpc-id subnet-id instance-id tcp-flags type pkt-srcaddr pkt-dstaddr flow-direction traffic-path)")
    .option('--flow-log-role-name <name>', 'with --flow-log: delivery role name (default flowcut-flowlogs-STREAM; a second region needs its own)')
    .option('--log-retention-days <days>', 'with --flow-log: retention of the log group setup creates (default 7; the archive keeps history)')
    .option('--output-shards <n|on-demand>', 'capacity of --output-stream', undefined)
    .option('--archive-prefix <prefix>', 'key prefix of the archive in --archive-bucket (default flowcut/)')
    .option('--account <id>', 'account id: only used by --dry-run before the stream exists, to print exact ARNs (otherwise it is read from the stream ARN)')
    .option('--dry-run', 'change nothing: print what exists, what would be created or changed, and the equivalent AWS CLI commands')
    .addOption(new Option('--emit <kind>', 'print an infrastructure template for the same resources instead of calling AWS').choices(['cloudformation']))
    .addOption(new Option('--template-format <format>', 'format of --emit output').choices(['json', 'yaml']).default('yaml'))
    .option('--wait-timeout <seconds>', 'how long to wait for resources to become active', '600')
    .option('-q, --quiet', 'no progress on stderr')
    .addHelpText(
      'after',
      `
Examples:
  flowcut setup --stream vpc-flows --log-group /vpc/flows --dry-run
  flowcut setup --stream vpc-flows --log-group /vpc/flows --flow-log vpc-0abc12345def67890 --shards 2
  flowcut setup --stream vpc-flows --log-group /vpc/flows --archive-bucket my-flow-archive --output-stream vpc-findings
  flowcut setup --stream vpc-flows --log-group /vpc/flows --emit cloudformation > flowcut.yaml

Everything setup creates is tagged flowcut:managed=true and flowcut:pipeline=STREAM; a second run
changes nothing and says so. Existing resources are verified, never resharded or replaced; a
same-named IAM role that flowcut did not create stops the run before anything changes.

The account id comes from the stream's ARN (no STS call). The credentials running setup need:
kinesis:CreateStream/DescribeStreamSummary/AddTagsToStream/StartStreamEncryption, iam:GetRole/CreateRole/TagRole/
GetRolePolicy/PutRolePolicy/UpdateAssumeRolePolicy, iam:PassRole on the roles it creates (to hand
them to CloudWatch Logs and VPC Flow Logs), logs:DescribeLogGroups/DescribeSubscriptionFilters/
PutSubscriptionFilter (and CreateLogGroup/PutRetentionPolicy/TagResource with --flow-log),
ec2:DescribeFlowLogs (+ CreateFlowLogs, CreateTags), dynamodb:DescribeTable/CreateTable/
TagResource/ListTagsOfResource, and with --archive-bucket s3:CreateBucket/PutBucketTagging/
PutBucketPublicAccessBlock/PutBucketPolicy and s3:ListBucket.`,
    )
    .action(async (opts: SetupOptions) => runSetup(opts));
}

async function runSetup(opts: SetupOptions): Promise<void> {
  let spec;
  try {
    spec = resolveSpec(opts);
  } catch (err) {
    throw toCliError(err);
  }
  if (opts.emit === 'cloudformation') {
    if (opts.dryRun) throw new CliError('--emit and --dry-run are alternatives: --emit already changes nothing');
    const template = cloudFormationTemplate(spec);
    process.stdout.write(opts.templateFormat === 'json' ? JSON.stringify(template, null, 2) + '\n' : toYaml(template));
    // The roles have fixed names (the consumer policy and doctor refer to them), which
    // CloudFormation accepts only with this capability.
    if (!opts.quiet) {
      process.stderr.write(
        `flowcut: deploy with: aws cloudformation deploy --template-file FILE --stack-name flowcut-${spec.stream} --capabilities CAPABILITY_NAMED_IAM\n`,
      );
    }
    return;
  }
  const timeout = Number(opts.waitTimeout);
  if (!Number.isFinite(timeout) || timeout <= 0) throw new CliError(`--wait-timeout must be a positive number of seconds, not '${opts.waitTimeout}'`);
  await withContext(spec, opts.region, defaultEnv(timeout * 1000, opts.quiet), async (ctx) => {
    const steps = setupSteps(spec);
    if (opts.dryRun) {
      process.stdout.write(formatPlan(ctx, await inspectAll(ctx, steps)));
    } else {
      process.stdout.write(formatApplied(ctx, await applyAll(ctx, steps)));
    }
    process.stdout.write(formatConsumerPolicy(ctx));
  });
}
