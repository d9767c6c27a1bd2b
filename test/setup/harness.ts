/** Builds setup contexts on local Kinesis + dynalite and the in-memory fakes, recording every call. */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { SetupContext, type SetupEnv } from '../../src/aws/setup/engine.js';
import { resolveSpec, type SetupInput } from '../../src/aws/setup/spec.js';
import { localDynamoClient } from '../support/dynalite.js';
import { localKinesisClient } from '../support/local-servers.js';
import { beforeAll } from 'vitest';
import { useLocalAws } from '../support/local-aws.js';
import { fakeEc2, fakeIam, fakeLogs, fakeS3 } from './fakes.js';

/** kinesis-mock's default account: the stream ARN carries it, and setup derives everything from that. */
export const ACCOUNT = '000000000000';
export const REGION = 'us-east-1';

/** Records command names sent through a real client (the local servers' side of the story). */
function recordCommands(client: KinesisClient | DynamoDBClient, into: string[]): void {
  client.middlewareStack.add(
    (next, context) => async (args) => {
      into.push(String(context.commandName).replace(/Command$/, ''));
      return next(args);
    },
    { step: 'initialize', name: 'flowcutTestRecorder' },
  );
}

export interface Harness {
  readonly kinesis: KinesisClient;
  readonly dynamodb: DynamoDBClient;
  readonly kinesisCalls: string[];
  readonly dynamoCalls: string[];
  readonly iam: ReturnType<typeof fakeIam>;
  readonly logs: ReturnType<typeof fakeLogs>;
  readonly ec2: ReturnType<typeof fakeEc2>;
  readonly s3: ReturnType<typeof fakeS3>;
  readonly progress: string[];
  /** A fresh context (as a new `flowcut` run would have) over the same AWS state. */
  context(input: SetupInput): SetupContext;
  resetHistory(): void;
  destroy(): void;
}

export function harness(kinesisEndpoint: string, dynamoEndpoint: string): Harness {
  const kinesis = localKinesisClient(kinesisEndpoint);
  const dynamodb = localDynamoClient(dynamoEndpoint);
  const kinesisCalls: string[] = [];
  const dynamoCalls: string[] = [];
  recordCommands(kinesis, kinesisCalls);
  recordCommands(dynamodb, dynamoCalls);
  const iam = fakeIam(ACCOUNT);
  const logs = fakeLogs(ACCOUNT, REGION);
  const ec2 = fakeEc2(ACCOUNT, REGION);
  const s3 = fakeS3(REGION);
  const progress: string[] = [];
  const env: SetupEnv = { progress: (l) => progress.push(l), sleep: async () => {}, waitTimeoutMs: 15_000, pollMs: 20 };
  return {
    kinesis,
    dynamodb,
    kinesisCalls,
    dynamoCalls,
    iam,
    logs,
    ec2,
    s3,
    progress,
    context: (input) =>
      new SetupContext({ kinesis, dynamodb, iam: iam.client, logs: logs.client, ec2: ec2.client, s3: s3.client }, resolveSpec(input), REGION, {
        ...env,
        // Real sleeps between polls of the local servers keep the loop from spinning.
        sleep: (ms) => new Promise((r) => setTimeout(r, Math.min(ms, 20))),
      }),
    resetHistory() {
      kinesisCalls.length = 0;
      dynamoCalls.length = 0;
      progress.length = 0;
      for (const m of [iam.mock, logs.mock, ec2.mock, s3.mock]) m.resetHistory();
    },
    destroy() {
      kinesis.destroy();
      dynamodb.destroy();
      for (const m of [iam.mock, logs.mock, ec2.mock, s3.mock]) m.restore();
    },
  };
}

/** Commands that change something, by the verbs AWS uses. */
export const MUTATING = /^(Create|Put|Update|Delete|Tag|Add|Attach|Detach|Start|Register)/;

/**
 * kinesis-local, dynalite and a harness over them for the calling test file: `ready` gets the
 * harness before the tests; all is stopped after them.
 */
export function useHarness(ready: (h: Harness) => void): void {
  let h: Harness | undefined;
  const aws = useLocalAws({ beforeStop: async () => h?.destroy() });
  beforeAll(() => {
    h = harness(aws.kinesisEndpoint, aws.dynamoEndpoint);
    ready(h);
  });
}
