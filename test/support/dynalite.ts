/**
 * dynalite for tests: in this process (it is plain JavaScript, ~200 ms to start), on 127.0.0.1
 * and an ephemeral port, in memory. Test files start it in beforeAll and stop it in afterAll.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { createDynamoDbClient } from '../../src/aws/clients.js';
import { startDynalite as start, type LocalDynamo } from '../../src/pipeline/embedded/dynalite.js';

export type { LocalDynamo };

export function startDynalite(): Promise<LocalDynamo> {
  return start();
}

/** A DynamoDB client for a local endpoint, built by the production factory. */
export function localDynamoClient(endpoint: string, extra: { maxAttempts?: number } = {}): DynamoDBClient {
  return createDynamoDbClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    ...extra,
  });
}
