/**
 * An IAM role assumed by an AWS service, with one inline policy. Used twice: the role CloudWatch
 * Logs assumes to put records on the stream, and the role VPC Flow Logs assumes to write the
 * log group.
 */
import { CreateRoleCommand, GetRoleCommand, GetRolePolicyCommand, PutRolePolicyCommand, UpdateAssumeRolePolicyCommand } from '@aws-sdk/client-iam';
import { isAwsError, type Finding, type SetupContext, type Step } from '../engine.js';
import { parsePolicy, samePolicy, type PolicyDocument } from '../policies.js';
import type { Place } from '../arn.js';
import { awsCli, isManaged, tagList, tagsToMap } from '../shell.js';

export interface RoleDef {
  readonly name: string;
  readonly description: string;
  readonly trust: (p: Place) => PolicyDocument;
  readonly policyName: string;
  readonly policy: (p: Place) => PolicyDocument;
}

export async function getRole(ctx: SetupContext, name: string) {
  try {
    return (await ctx.clients.iam.send(new GetRoleCommand({ RoleName: name }))).Role;
  } catch (err) {
    if (isAwsError(err, 'NoSuchEntityException')) return undefined;
    throw err;
  }
}

export async function getInlinePolicy(ctx: SetupContext, role: string, policy: string): Promise<unknown> {
  try {
    return parsePolicy((await ctx.clients.iam.send(new GetRolePolicyCommand({ RoleName: role, PolicyName: policy }))).PolicyDocument);
  } catch (err) {
    if (isAwsError(err, 'NoSuchEntityException')) return undefined;
    throw err;
  }
}

type RoleFinding = Finding & { trustDiffers?: boolean; policyDiffers?: boolean };

/**
 * The region a role's trust policy serves, when it names one (setup's both do: the CloudWatch Logs
 * principal `logs.REGION.amazonaws.com`, and `aws:SourceArn` conditions). IAM roles are global, so
 * the same pipeline set up in a second region meets the first region's role under the same name.
 */
export function trustedRegion(trustDocument: string | undefined): string | undefined {
  let text = trustDocument ?? '';
  try {
    text = decodeURIComponent(text); // GetRole returns it URL-encoded
  } catch {
    // Not URL-encoded after all (a '%' of its own): read as it is.
  }
  return (/logs\.([a-z0-9-]+)\.amazonaws\.com/.exec(text) ?? /arn:[a-z-]+:(?:logs|ec2):([a-z0-9-]+):/.exec(text))?.[1];
}

/** Why a managed role must not be rewritten or deleted from this region, if it serves another. */
export function servesOtherRegion(ctx: SetupContext, trustDocument: string | undefined): string | undefined {
  const region = trustedRegion(trustDocument);
  return region !== undefined && region !== ctx.place.region ? region : undefined;
}

export function roleStep(def: RoleDef): Step {
  const title = `IAM role ${def.name}`;
  return {
    key: `role:${def.name}`,
    title,
    async inspect(ctx): Promise<RoleFinding> {
      const role = await getRole(ctx, def.name);
      if (role === undefined) return { status: 'create', detail: `missing: will create with inline policy ${def.policyName}` };
      ctx.learnFromArn(role.Arn);
      if (role.Arn) ctx.facts.roleArns.set(def.name, role.Arn);
      // A same-named role that flowcut did not make may serve something else: never rewrite it.
      if (!isManaged(tagsToMap(role.Tags), ctx.spec.stream)) {
        return {
          status: 'blocked',
          detail: `exists but was not created by flowcut for stream ${ctx.spec.stream} (no flowcut:managed / flowcut:pipeline tags)`,
          fix: 'choose another role name (--role-name / --flow-log-role-name), or tag this role if it really is this pipeline\'s',
        };
      }
      const elsewhere = servesOtherRegion(ctx, role.AssumeRolePolicyDocument);
      if (elsewhere !== undefined) {
        return {
          status: 'blocked',
          detail: `serves this pipeline in ${elsewhere} (its trust policy names that region); IAM roles are global, and rewriting it for ${ctx.place.region} would stop delivery there`,
          fix: `give this region's pipeline its own roles: --role-name flowcut-cwl-${ctx.spec.stream}-${ctx.place.region} (and --flow-log-role-name with --flow-log)`,
        };
      }
      const trustDiffers = !samePolicy(parsePolicy(role.AssumeRolePolicyDocument), def.trust(ctx.place));
      const current = await getInlinePolicy(ctx, def.name, def.policyName);
      const policyDiffers = current === undefined || !samePolicy(current, def.policy(ctx.place));
      const changes = [
        ...(trustDiffers ? ['trust policy differs: will replace it'] : []),
        ...(current === undefined ? [`inline policy ${def.policyName} missing: will add it`] : policyDiffers ? [`inline policy ${def.policyName} differs: will replace it`] : []),
      ];
      if (changes.length === 0) return { status: 'ok', detail: 'exists: trust and permissions as expected' };
      return { status: 'update', detail: `exists: ${changes.length} difference${changes.length > 1 ? 's' : ''}`, changes, trustDiffers, policyDiffers };
    },
    async apply(ctx, finding) {
      const place = ctx.requireAccount();
      const f = finding as RoleFinding;
      const done: string[] = [];
      if (f.status === 'create') {
        const r = await ctx.clients.iam.send(
          new CreateRoleCommand({
            RoleName: def.name,
            Description: def.description,
            AssumeRolePolicyDocument: JSON.stringify(def.trust(place)),
            Tags: tagList(ctx.spec.stream),
          }),
        );
        if (r.Role?.Arn) ctx.facts.roleArns.set(def.name, r.Role.Arn);
        done.push('created');
      } else if (f.trustDiffers) {
        await ctx.clients.iam.send(new UpdateAssumeRolePolicyCommand({ RoleName: def.name, PolicyDocument: JSON.stringify(def.trust(place)) }));
        done.push('trust policy replaced');
      }
      if (f.status === 'create' || f.policyDiffers) {
        await ctx.clients.iam.send(new PutRolePolicyCommand({ RoleName: def.name, PolicyName: def.policyName, PolicyDocument: JSON.stringify(def.policy(place)) }));
        done.push(f.status === 'create' ? `inline policy ${def.policyName} added` : `inline policy ${def.policyName} replaced`);
      }
      return done.join(', ');
    },
    commands(ctx, finding) {
      const f = finding as RoleFinding;
      const out: string[] = [];
      const trust = JSON.stringify(def.trust(ctx.place));
      const policy = JSON.stringify(def.policy(ctx.place));
      if (f.status === 'create') {
        const tags = tagList(ctx.spec.stream).map((t) => `Key=${t.Key},Value=${t.Value}`).join(' ');
        out.push(`${awsCli('iam', 'create-role', { 'role-name': def.name, description: def.description, 'assume-role-policy-document': trust })} --tags ${tags}`);
      } else if (f.trustDiffers) {
        out.push(awsCli('iam', 'update-assume-role-policy', { 'role-name': def.name, 'policy-document': trust }));
      }
      if (f.status === 'create' || f.policyDiffers) {
        out.push(awsCli('iam', 'put-role-policy', { 'role-name': def.name, 'policy-name': def.policyName, 'policy-document': policy }));
      }
      return out;
    },
  };
}

/** The role ARN for later steps: known once inspected or created, else derived. */
export function roleArn(ctx: SetupContext, name: string): string {
  return ctx.facts.roleArns.get(name) ?? `arn:${ctx.place.partition}:iam::${ctx.place.account}:role/${name}`;
}
