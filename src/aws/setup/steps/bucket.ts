/** The S3 archive bucket: private, reachable over TLS only, tagged, in the pipeline's region. */
import { CreateBucketCommand, HeadBucketCommand, PutBucketPolicyCommand, PutBucketTaggingCommand, PutPublicAccessBlockCommand, type BucketLocationConstraint } from '@aws-sdk/client-s3';
import { tlsOnlyBucketPolicy } from '../policies.js';
import { httpStatus, isAwsError, type Finding, type SetupContext, type Step } from '../engine.js';
import { awsCli, tagList } from '../shell.js';

/** 'exists' | 'missing' | 'foreign' (someone else's: names are global) plus the bucket's region. */
export async function headBucket(ctx: SetupContext, bucket: string): Promise<{ state: 'exists' | 'missing' | 'foreign'; region?: string }> {
  try {
    const r = await ctx.clients.s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return { state: 'exists', ...(r.BucketRegion ? { region: r.BucketRegion } : {}) };
  } catch (err) {
    if (isAwsError(err, 'NotFound', 'NoSuchBucket') || httpStatus(err) === 404) return { state: 'missing' };
    if (httpStatus(err) === 403) return { state: 'foreign' };
    // A bucket in another region answers 301 with its region in a header (the client does not
    // follow region redirects): it exists, elsewhere.
    if (httpStatus(err) === 301) {
      const headers = (err as { $response?: { headers?: Record<string, string | undefined> } }).$response?.headers;
      const region = headers?.['x-amz-bucket-region'];
      return { state: 'exists', ...(region ? { region } : {}) };
    }
    throw err;
  }
}

const PUBLIC_ACCESS_BLOCK = { BlockPublicAcls: true, IgnorePublicAcls: true, BlockPublicPolicy: true, RestrictPublicBuckets: true };

export function bucketStep(): Step {
  return {
    key: 'archive-bucket',
    title: 'S3 archive bucket',
    async inspect(ctx): Promise<Finding> {
      const { bucket, prefix } = ctx.spec.archive!;
      const h = await headBucket(ctx, bucket);
      if (h.state === 'missing') return { status: 'create', detail: `${bucket} missing: will create (private, TLS only, archive under s3://${bucket}/${prefix})` };
      if (h.state === 'foreign') {
        return { status: 'blocked', detail: `${bucket} exists and this account cannot access it (bucket names are global)`, fix: 'choose another --archive-bucket' };
      }
      const note = h.region && h.region !== ctx.region ? ` (in ${h.region}, not ${ctx.region}: cross-region archive traffic is billed)` : '';
      return { status: 'ok', detail: `${bucket} exists${note}` };
    },
    async apply(ctx) {
      const { bucket } = ctx.spec.archive!;
      // us-east-1 is the one region that rejects an explicit LocationConstraint.
      await ctx.clients.s3.send(
        new CreateBucketCommand({
          Bucket: bucket,
          ...(ctx.region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: ctx.region as BucketLocationConstraint } }),
        }),
      );
      await ctx.clients.s3.send(new PutPublicAccessBlockCommand({ Bucket: bucket, PublicAccessBlockConfiguration: PUBLIC_ACCESS_BLOCK }));
      await ctx.clients.s3.send(new PutBucketPolicyCommand({ Bucket: bucket, Policy: JSON.stringify(tlsOnlyBucketPolicy(ctx.place, bucket)) }));
      await ctx.clients.s3.send(new PutBucketTaggingCommand({ Bucket: bucket, Tagging: { TagSet: tagList(ctx.spec.stream) } }));
      return `created ${bucket} (public access blocked, TLS only)`;
    },
    commands(ctx, f) {
      if (f.status !== 'create') return [];
      const { bucket } = ctx.spec.archive!;
      return [
        awsCli('s3api', 'create-bucket', { bucket, 'create-bucket-configuration': ctx.region === 'us-east-1' ? undefined : `LocationConstraint=${ctx.region}` }, ctx.region),
        awsCli('s3api', 'put-public-access-block', {
          bucket,
          'public-access-block-configuration': Object.entries(PUBLIC_ACCESS_BLOCK).map(([k, v]) => `${k}=${v}`).join(','),
        }, ctx.region),
        awsCli('s3api', 'put-bucket-policy', { bucket, policy: JSON.stringify(tlsOnlyBucketPolicy(ctx.place, bucket)) }, ctx.region),
        awsCli('s3api', 'put-bucket-tagging', { bucket, tagging: `TagSet=[${tagList(ctx.spec.stream).map((t) => `{Key=${t.Key},Value=${t.Value}}`).join(',')}]` }, ctx.region),
      ];
    },
  };
}
