/** Every step of a deployment, in dependency order. */
import type { Step } from '../engine.js';
import { cwlPermissionsPolicy, cwlTrustPolicy, CWL_POLICY_NAME, flowLogPermissionsPolicy, flowLogTrustPolicy, FLOW_LOG_POLICY_NAME } from '../policies.js';
import type { SetupSpec } from '../spec.js';
import { bucketStep } from './bucket.js';
import { flowLogStep } from './flow-log.js';
import { leaseTableStep } from './lease-table.js';
import { logGroupStep, subscriptionFilterStep } from './logs.js';
import { roleStep } from './role.js';
import { streamStep } from './stream.js';

export function setupSteps(spec: SetupSpec): Step[] {
  // The input stream comes first: its ARN tells every later step the account id.
  const steps: Step[] = [streamStep(spec.stream, spec.capacity, 'input')];
  if (spec.outputStream) steps.push(streamStep(spec.outputStream.name, spec.outputStream.capacity, 'output'));
  steps.push(leaseTableStep());
  if (spec.archive) steps.push(bucketStep());
  if (spec.flowLog) {
    const fl = spec.flowLog;
    steps.push(
      logGroupStep(),
      roleStep({
        name: fl.roleName,
        description: `VPC Flow Logs delivers to ${spec.logGroup} (flowcut)`,
        trust: flowLogTrustPolicy,
        policyName: FLOW_LOG_POLICY_NAME,
        policy: (p) => flowLogPermissionsPolicy(p, spec.logGroup),
      }),
      flowLogStep(),
    );
  }
  steps.push(
    roleStep({
      name: spec.roleName,
      description: `CloudWatch Logs puts ${spec.logGroup} on Kinesis stream ${spec.stream} (flowcut)`,
      trust: cwlTrustPolicy,
      policyName: CWL_POLICY_NAME,
      policy: (p) => cwlPermissionsPolicy(p, spec.stream),
    }),
    subscriptionFilterStep(),
  );
  return steps;
}
