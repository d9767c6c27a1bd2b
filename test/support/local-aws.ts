/** kinesis-local and dynalite for one test file, started before its tests and stopped after. */
import { afterAll, beforeAll } from 'vitest';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { localDynamoClient, startDynalite, type LocalDynamo } from './dynalite.js';
import { localKinesisClient, startKinesisLocal, type KinesisLocal, type KinesisLocalOptions } from './local-servers.js';

export interface LocalAws {
  readonly kinesisEndpoint: string;
  readonly dynamoEndpoint: string;
  readonly kinesis: KinesisClient;
  readonly dynamo: DynamoDBClient;
}

/**
 * Registers the servers' start (beforeAll) and stop (afterAll) for the calling file; the fields
 * are set once beforeAll has run. `beforeStop` runs first in afterAll (to stop workers).
 */
export function useLocalAws(hooks: { beforeStart?: () => void; beforeStop?: () => Promise<void> } = {}): LocalAws {
  const aws = {} as { -readonly [K in keyof LocalAws]: LocalAws[K] };
  let kinesisLocal: KinesisLocal | undefined;
  let dyn: LocalDynamo | undefined;
  beforeAll(async () => {
    hooks.beforeStart?.();
    [kinesisLocal, dyn] = await Promise.all([startKinesisLocal(), startDynalite()]);
    aws.kinesisEndpoint = kinesisLocal.endpoint;
    aws.dynamoEndpoint = dyn.endpoint;
    aws.kinesis = localKinesisClient(kinesisLocal.endpoint);
    aws.dynamo = localDynamoClient(dyn.endpoint);
  });
  afterAll(async () => {
    await hooks.beforeStop?.();
    aws.kinesis?.destroy();
    aws.dynamo?.destroy();
    await Promise.all([kinesisLocal?.stop(), dyn?.stop()]);
  });
  return aws;
}

/**
 * kinesis-local alone for the calling describe block: started before its tests, `ready` gets
 * the server and a client for it; both stopped after its tests.
 */
export function useKinesisLocal(options: KinesisLocalOptions, ready: (server: KinesisLocal, client: KinesisClient) => void): void {
  let server: KinesisLocal | undefined;
  let client: KinesisClient | undefined;
  beforeAll(async () => {
    server = await startKinesisLocal(options);
    client = localKinesisClient(server.endpoint);
    ready(server, client);
  });
  afterAll(async () => {
    client?.destroy();
    await server?.stop();
  });
}
