/**
 * SDK client construction for every AWS service flowcut talks to.
 *
 * Region, credentials and endpoints come from the SDK's standard configuration (environment,
 * shared config/credentials files, SSO, IMDS, ...). The SDK (v3.11xx, via @smithy/core's
 * `getEndpointUrlConfig`) already honours `AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_<SERVICE>` and a
 * profile's `endpoint_url` natively, so we never pass an endpoint unless the caller overrides
 * it. We only *read* the same environment variables to notice a local emulator, because
 * kinesis-local and s3rver need workarounds (see shared/reference/local-aws.md).
 */
import { DynamoDBClient, type DynamoDBClientConfig } from '@aws-sdk/client-dynamodb';
import { KinesisClient, type KinesisClientConfig } from '@aws-sdk/client-kinesis';
import { S3Client, type S3ClientConfig } from '@aws-sdk/client-s3';
import { NodeHttp2Handler, NodeHttpHandler } from '@smithy/node-http-handler';

export type AwsService = 'kinesis' | 's3' | 'dynamodb';

export interface AwsClientOptions {
  /** `--region`; wins over AWS_REGION and the profile. */
  readonly region?: string;
  /** `--endpoint-url`; wins over AWS_ENDPOINT_URL_<SERVICE> and AWS_ENDPOINT_URL. */
  readonly endpoint?: string;
  /** Overrides the default credential chain (tests, or a caller that already has them). */
  readonly credentials?: KinesisClientConfig['credentials'] & S3ClientConfig['credentials'];
  /** Shared-config profile; defaults to AWS_PROFILE / "default" as the SDK does. */
  readonly profile?: string;
  readonly maxAttempts?: number;
}

/** Configuration problems the user can fix; the message says how. */
export class AwsConfigError extends Error {
  override readonly name = 'AwsConfigError';
}

/** Region used against a local emulator when nothing is configured: emulators accept any. */
export const LOCAL_DEFAULT_REGION = 'us-east-1';

const SERVICE_ENV_SUFFIX: Record<AwsService, string> = { kinesis: 'KINESIS', s3: 'S3', dynamodb: 'DYNAMODB' };

/**
 * The endpoint the client will use if one was configured explicitly or through the environment,
 * mirroring the SDK's precedence. A profile's `endpoint_url` is honoured by the SDK but not seen
 * here, so a local emulator configured only that way gets no workarounds.
 */
export function configuredEndpoint(
  service: AwsService,
  opts: Pick<AwsClientOptions, 'endpoint'> = {},
  env: NodeJS.ProcessEnv = process.env,
): string | undefined {
  if (opts.endpoint !== undefined && opts.endpoint !== '') return opts.endpoint;
  if ((env.AWS_IGNORE_CONFIGURED_ENDPOINT_URLS ?? '').toLowerCase() === 'true') return undefined;
  const specific = env[`AWS_ENDPOINT_URL_${SERVICE_ENV_SUFFIX[service]}`];
  if (specific) return specific;
  return env.AWS_ENDPOINT_URL || undefined;
}

/**
 * True for plain-HTTP endpoints and loopback hosts: real AWS is only ever https on a public
 * name, so either means an emulator (kinesis-local, s3rver, LocalStack in a container, ...).
 */
export function isLocalEndpoint(endpoint: string | undefined): boolean {
  if (endpoint === undefined) return false;
  let url: URL;
  try {
    url = new URL(endpoint);
  } catch {
    return false;
  }
  if (url.protocol === 'http:') return true;
  const host = url.hostname.replace(/^\[|\]$/g, '').toLowerCase();
  return host === 'localhost' || host.endsWith('.localhost') || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

function checkEndpoint(endpoint: string | undefined, service: AwsService): void {
  if (endpoint === undefined) return;
  let url: URL | undefined;
  try {
    url = new URL(endpoint);
  } catch {
    url = undefined;
  }
  if (url === undefined || (url.protocol !== 'http:' && url.protocol !== 'https:')) {
    throw new AwsConfigError(
      `Invalid ${service} endpoint URL ${JSON.stringify(withoutCredentials(endpoint))}: expected http(s)://host[:port]`,
    );
  }
}

/** The URL as given, less anything before an '@' (user:password): an error message may end up in a log. */
function withoutCredentials(endpoint: string): string {
  // Up to the last '@': a password may hold '@' or '/' itself, and a mistyped scheme hides where
  // the host begins; hiding too much of a bad URL costs nothing.
  return endpoint.replace(/^([a-z][a-z0-9+.-]*:\/\/)?.*@/is, '$1***@');
}

function missingRegionMessage(service: AwsService): string {
  return (
    `No AWS region configured for ${service}. Set one with --region <region>, ` +
    'the AWS_REGION environment variable, or `region` in your AWS profile (~/.aws/config).'
  );
}

/**
 * A region provider: the SDK's default chain (AWS_REGION, profile, ...), turning "Region is
 * missing" into an actionable message, or falling back to us-east-1 for emulators. The chain is
 * borrowed from a client built without a region (it is not exported on its own); that client
 * never sends anything.
 */
function regionProvider(
  chainOwner: { config: { region: () => Promise<string> }; destroy(): void },
  service: AwsService,
  local: boolean,
): () => Promise<string> {
  const chain = chainOwner.config.region;
  chainOwner.destroy();
  let cached: Promise<string> | undefined;
  return () => {
    cached ??= chain().then(
      (region) => {
        if (region) return region;
        if (local) return LOCAL_DEFAULT_REGION;
        throw new AwsConfigError(missingRegionMessage(service));
      },
      (err: unknown) => {
        if (local) return LOCAL_DEFAULT_REGION;
        if (err instanceof Error && /region is missing/i.test(err.message)) {
          throw new AwsConfigError(missingRegionMessage(service), { cause: err });
        }
        throw err;
      },
    );
    // A failure is not cached: the user may fix the environment in a long-lived process.
    cached.catch(() => {
      cached = undefined;
    });
    return cached;
  };
}

function common(opts: AwsClientOptions, endpoint: string | undefined) {
  return {
    ...(opts.endpoint !== undefined && opts.endpoint !== '' ? { endpoint } : {}),
    ...(opts.credentials !== undefined ? { credentials: opts.credentials } : {}),
    ...(opts.profile !== undefined ? { profile: opts.profile } : {}),
    ...(opts.maxAttempts !== undefined ? { maxAttempts: opts.maxAttempts } : {}),
  };
}

export function createKinesisClient(opts: AwsClientOptions = {}): KinesisClient {
  const endpoint = configuredEndpoint('kinesis', opts);
  checkEndpoint(endpoint, 'kinesis');
  const local = isLocalEndpoint(endpoint);
  const profile = opts.profile !== undefined ? { profile: opts.profile } : {};
  const config: KinesisClientConfig = {
    ...common(opts, endpoint),
    region: opts.region || regionProvider(new KinesisClient(profile), 'kinesis', local),
    // kinesis-mock answers the SDK's early HTTP/2 GOAWAY with a PING ACK that Node treats as a
    // protocol error (large PutRecords fail); HTTP/1.1 is fine for every unary call. Real AWS
    // keeps the SDK's HTTP/2 default, which SubscribeToShard needs.
    ...(local ? { requestHandler: new NodeHttpHandler() } : {}),
  };
  return new KinesisClient(config);
}

export function createS3Client(opts: AwsClientOptions = {}): S3Client {
  const endpoint = configuredEndpoint('s3', opts);
  checkEndpoint(endpoint, 's3');
  const local = isLocalEndpoint(endpoint);
  const profile = opts.profile !== undefined ? { profile: opts.profile } : {};
  const config: S3ClientConfig = {
    ...common(opts, endpoint),
    region: opts.region || regionProvider(new S3Client(profile), 's3', local),
    ...(local
      ? {
          // Emulators don't do virtual-hosted buckets, and s3rver stores the aws-chunked
          // framing of SDK-default streaming checksums verbatim in the object.
          forcePathStyle: true,
          requestChecksumCalculation: 'WHEN_REQUIRED' as const,
          responseChecksumValidation: 'WHEN_REQUIRED' as const,
        }
      : {}),
  };
  return new S3Client(config);
}

/**
 * A Kinesis client for SubscribeToShard (enhanced fan-out). Real AWS: the SDK's default HTTP/2
 * handler. Local emulators: HTTP/2 whose sessions are never closed early, because kinesis-mock
 * answers the SDK's GOAWAY-after-headers with a PING ACK that Node treats as a protocol error, so
 * every subscription would fail (local-aws.md). The session ends when the client is destroyed.
 */
export function createKinesisEfoClient(opts: AwsClientOptions = {}): KinesisClient {
  const endpoint = configuredEndpoint('kinesis', opts);
  checkEndpoint(endpoint, 'kinesis');
  const local = isLocalEndpoint(endpoint);
  const profile = opts.profile !== undefined ? { profile: opts.profile } : {};
  return new KinesisClient({
    ...common(opts, endpoint),
    region: opts.region || regionProvider(new KinesisClient(profile), 'kinesis', local),
    // A subscription lasts up to 5 minutes: no request timeout.
    requestHandler: local ? localHttp2Handler() : new NodeHttp2Handler({ requestTimeout: 0 }),
  });
}

function localHttp2Handler(): NodeHttp2Handler {
  const handler = new NodeHttp2Handler({ requestTimeout: 0 });
  // connectionManager is private in the typings; this is the tested workaround from local-aws.md.
  const cm = (handler as unknown as { connectionManager: { connect(url: string): { close(): void } } }).connectionManager;
  const connect = cm.connect.bind(cm);
  cm.connect = (url: string) => {
    const session = connect(url);
    session.close = () => {};
    return session;
  };
  return handler;
}

/** DynamoDB (the lease table). Emulators (dynalite) need no workarounds beyond the region default. */
export function createDynamoDbClient(opts: AwsClientOptions = {}): DynamoDBClient {
  const endpoint = configuredEndpoint('dynamodb', opts);
  checkEndpoint(endpoint, 'dynamodb');
  const local = isLocalEndpoint(endpoint);
  const profile = opts.profile !== undefined ? { profile: opts.profile } : {};
  const config: DynamoDBClientConfig = {
    ...common(opts, endpoint),
    region: opts.region || regionProvider(new DynamoDBClient(profile), 'dynamodb', local),
    // Lease renewals are latency-sensitive: HTTP/1.1 keep-alive, as for every unary AWS call.
    ...(local ? { requestHandler: new NodeHttpHandler() } : {}),
  };
  return new DynamoDBClient(config);
}
