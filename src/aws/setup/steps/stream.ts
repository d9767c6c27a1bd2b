/** A Kinesis data stream: the flow-log input stream, or the output stream for findings. */
import { CreateStreamCommand, DescribeStreamSummaryCommand, StartStreamEncryptionCommand } from '@aws-sdk/client-kinesis';
import { SetupError, isAwsError, waitUntil, type Finding, type SetupContext, type Step } from '../engine.js';
import { awsCli, managedTags } from '../shell.js';
import type { Capacity } from '../spec.js';

/**
 * Streams setup creates are encrypted at rest with Kinesis' AWS-managed key: no key to manage, and
 * (unlike a customer key) no KMS permission for CloudWatch Logs or the consumer, so the roles stay
 * as they are. A stream that already exists is reported, never changed.
 */
export const STREAM_KEY = 'alias/aws/kinesis';

/** The CLI command that encrypts a stream with `STREAM_KEY`: for the dry run, and as the fix where one is not. */
export function encryptStreamCommand(name: string, region?: string): string {
  return awsCli('kinesis', 'start-stream-encryption', { 'stream-name': name, 'encryption-type': 'KMS', 'key-id': STREAM_KEY }, region);
}

function describeCapacity(c: Capacity): string {
  return c.mode === 'ON_DEMAND' ? 'on-demand' : `${c.shards} shard${c.shards === 1 ? '' : 's'}`;
}

export async function streamSummary(ctx: SetupContext, name: string) {
  try {
    const r = await ctx.clients.kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    return r.StreamDescriptionSummary;
  } catch (err) {
    if (isAwsError(err, 'ResourceNotFoundException')) return undefined;
    throw err;
  }
}

export function streamStep(name: string, capacity: Capacity, purpose: 'input' | 'output'): Step {
  const title = `Kinesis stream ${name}${purpose === 'output' ? ' (findings)' : ''}`;
  // The input stream's ARN is where the account id comes from (see arn.ts).
  const remember = (ctx: SetupContext, arn: string | undefined): void => {
    ctx.learnFromArn(arn);
    if (purpose === 'input' && arn) ctx.facts.streamArn = arn;
  };
  return {
    key: `stream:${name}`,
    title,
    async inspect(ctx): Promise<Finding> {
      const s = await streamSummary(ctx, name);
      if (s === undefined) return { status: 'create', detail: `missing: will create (${describeCapacity(capacity)})` };
      remember(ctx, s.StreamARN);
      const mode = s.StreamModeDetails?.StreamMode ?? 'PROVISIONED';
      const have = mode === 'ON_DEMAND' ? 'on-demand' : `${s.OpenShardCount ?? '?'} open shard${s.OpenShardCount === 1 ? '' : 's'}`;
      if (s.StreamStatus === 'DELETING') {
        return { status: 'blocked', detail: 'is being deleted', fix: 'wait until it is gone (aws kinesis describe-stream-summary fails), then run setup again' };
      }
      // Capacity is a running cost decision: report a difference, never reshard behind someone's back.
      const differs =
        (capacity.mode === 'ON_DEMAND') !== (mode === 'ON_DEMAND') || (capacity.mode === 'PROVISIONED' && s.OpenShardCount !== capacity.shards);
      let note = differs ? ` (asked for ${describeCapacity(capacity)}: left as is; change it with aws kinesis update-shard-count or update-stream-mode)` : '';
      if (s.EncryptionType !== 'KMS') {
        note += ` (not encrypted at rest: left as is; ${encryptStreamCommand(name)} turns it on, with no change to who may read or write)`;
      }
      if (s.StreamStatus === 'CREATING' || s.StreamStatus === 'UPDATING') return { status: 'pending', detail: `exists, ${s.StreamStatus}, ${have}${note}` };
      return { status: 'ok', detail: `exists: ${s.StreamStatus}, ${have}${note}` };
    },
    async apply(ctx, finding) {
      if (finding.status === 'create') {
        await ctx.clients.kinesis.send(
          new CreateStreamCommand({
            StreamName: name,
            ...(capacity.mode === 'PROVISIONED' ? { ShardCount: capacity.shards } : {}),
            StreamModeDetails: { StreamMode: capacity.mode },
            // Tagged at creation, so no window exists in which it is ours but unmarked.
            Tags: managedTags(ctx.spec.stream),
          }),
        );
      }
      let arn: string | undefined;
      const active = (encrypted: boolean) => async () => {
        const s = await streamSummary(ctx, name);
        if (s === undefined) return { done: false, state: 'not visible yet' };
        arn = s.StreamARN;
        const state = s.StreamStatus ?? 'unknown';
        // Until the stream reports its key, the update may not have begun.
        if (encrypted && s.EncryptionType !== 'KMS') return { done: false, state: `${state}, not yet encrypted` };
        return { done: s.StreamStatus === 'ACTIVE', state };
      };
      let ms = await waitUntil(ctx.env, title, active(false));
      if (arn === undefined) throw new SetupError(`${title}: no ARN returned`);
      remember(ctx, arn);
      if (finding.status !== 'create') return `now ACTIVE (${Math.round(ms / 1000)} s)`;
      // Encryption can start only on an ACTIVE stream, and puts it in UPDATING for a moment.
      await ctx.clients.kinesis.send(new StartStreamEncryptionCommand({ StreamName: name, EncryptionType: 'KMS', KeyId: STREAM_KEY }));
      ms += await waitUntil(ctx.env, `${title} (encryption)`, active(true));
      return `created ACTIVE, encrypted at rest with ${STREAM_KEY} (${Math.round(ms / 1000)} s)`;
    },
    commands(ctx, finding) {
      const wait = awsCli('kinesis', 'wait stream-exists', { 'stream-name': name }, ctx.region);
      if (finding.status !== 'create') return finding.status === 'pending' ? [wait] : [];
      const tags = Object.entries(managedTags(ctx.spec.stream)).map(([k, v]) => `${k}=${v}`).join(',');
      return [
        awsCli(
          'kinesis',
          'create-stream',
          {
            'stream-name': name,
            'shard-count': capacity.mode === 'PROVISIONED' ? capacity.shards : undefined,
            'stream-mode-details': `StreamMode=${capacity.mode}`,
            tags,
          },
          ctx.region,
        ),
        wait,
        encryptStreamCommand(name, ctx.region),
        wait,
      ];
    },
  };
}
