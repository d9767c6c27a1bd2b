/** kinesis-local and dynalite for one test file, started before its tests and stopped after. */
import { afterAll, beforeAll } from 'vitest';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { localDynamoClient, startDynalite, type LocalDynamo } from './dynalite.js';
import { localKinesisClient, startKinesisLocal, type KinesisLocal } from './local-servers.js';

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
