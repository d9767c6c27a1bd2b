/**
 * SDK clients for `flowcut setup`, `teardown` and `doctor`: the services the streaming side never
 * needs (IAM, CloudWatch Logs, EC2) are built here, beside the shared factories in ../clients.ts.
 *
 * No emulator exists for these three on our machines, so there are no local-endpoint workarounds:
 * region, credentials and endpoints come from the SDK's standard configuration, which already
 * honours AWS_ENDPOINT_URL_IAM / _CLOUDWATCH_LOGS / _EC2.
 */
import { CloudWatchLogsClient } from '@aws-sdk/client-cloudwatch-logs';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EC2Client } from '@aws-sdk/client-ec2';
import { IAMClient } from '@aws-sdk/client-iam';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { S3Client } from '@aws-sdk/client-s3';
import { createDynamoDbClient, createKinesisClient, createS3Client, type AwsClientOptions } from '../clients.js';

/** Every client the setup commands talk to; tests pass local or mocked ones. */
export interface SetupClients {
  readonly kinesis: KinesisClient;
  readonly dynamodb: DynamoDBClient;
  readonly s3: S3Client;
  readonly iam: IAMClient;
  readonly logs: CloudWatchLogsClient;
  readonly ec2: EC2Client;
}

type PlainOptions = Pick<AwsClientOptions, 'region' | 'credentials' | 'profile' | 'maxAttempts'>;

function plain(opts: PlainOptions) {
  return {
    ...(opts.region ? { region: opts.region } : {}),
    ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
    ...(opts.profile !== undefined ? { profile: opts.profile } : {}),
    ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
  };
}

/**
 * IAM is a global service; the SDK signs for us-east-1 (aws partition) whatever region it is
 * given, so passing the user's region keeps partition detection right for aws-cn / aws-us-gov.
 */
export function createIamClient(opts: PlainOptions = {}): IAMClient {
  return new IAMClient(plain(opts));
}

export function createLogsClient(opts: PlainOptions = {}): CloudWatchLogsClient {
  return new CloudWatchLogsClient(plain(opts));
}

export function createEc2Client(opts: PlainOptions = {}): EC2Client {
  return new EC2Client(plain(opts));
}

/** All six clients from one set of options (no `endpoint`: each service reads its own). */
export function createSetupClients(opts: PlainOptions = {}): SetupClients {
  return {
    kinesis: createKinesisClient(opts),
    dynamodb: createDynamoDbClient(opts),
    s3: createS3Client(opts),
    iam: createIamClient(opts),
    logs: createLogsClient(opts),
    ec2: createEc2Client(opts),
  };
}

export function destroySetupClients(c: SetupClients): void {
  for (const client of Object.values(c) as Array<{ destroy(): void }>) client.destroy();
}
