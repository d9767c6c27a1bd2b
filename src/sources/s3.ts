/**
 * S3 byte source: every object under an `s3://bucket/prefix`, listed flat and streamed.
 */
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { ObjectIn } from './types.js';

export interface S3Url {
  readonly bucket: string;
  /** Key prefix, possibly empty; matched literally (no implied trailing slash). */
  readonly prefix: string;
}

export class S3UrlError extends Error {
  override readonly name = 'S3UrlError';
}

// Loose on purpose: legacy (pre-2018, us-east-1) buckets may have upper case and underscores.
const BUCKET_RE = /^[A-Za-z0-9][A-Za-z0-9._-]{1,254}$/;

/** Parses `s3://bucket[/prefix]`. The prefix is kept verbatim, percent signs and all. */
export function parseS3Url(url: string): S3Url {
  const m = /^s3:\/\/([^/]*)(?:\/(.*))?$/s.exec(url);
  if (!m) {
    throw new S3UrlError(`Not an S3 URL: ${JSON.stringify(url)} (expected s3://bucket/prefix)`);
  }
  const bucket = m[1] ?? '';
  if (bucket === '') throw new S3UrlError(`S3 URL has no bucket: ${JSON.stringify(url)} (expected s3://bucket/prefix)`);
  if (!BUCKET_RE.test(bucket)) {
    throw new S3UrlError(`Invalid S3 bucket name ${JSON.stringify(bucket)} in ${JSON.stringify(url)}`);
  }
  return { bucket, prefix: m[2] ?? '' };
}

export function formatS3Url(bucket: string, key: string): string {
  return `s3://${bucket}/${key}`;
}

export interface ListS3Options {
  readonly signal?: AbortSignal;
  /** ListObjectsV2 MaxKeys (1..1000); S3 caps it at 1000 anyway. Small values force paging. */
  readonly pageSize?: number;
}

/**
 * Lists objects under the URL's prefix in key order, one page at a time (pages are fetched as
 * the consumer iterates, so a huge prefix never sits in memory). The listing is flat: no
 * Delimiter, which also sidesteps s3rver's missing CommonPrefixes for deep keys.
 */
export async function* listS3Objects(
  client: S3Client,
  url: string | S3Url,
  opts: ListS3Options = {},
): AsyncGenerator<ObjectIn, void, undefined> {
  const { bucket, prefix } = typeof url === 'string' ? parseS3Url(url) : url;
  let token: string | undefined;
  do {
    opts.signal?.throwIfAborted();
    const page = await client.send(
      new ListObjectsV2Command({
        Bucket: bucket,
        ...(prefix !== '' ? { Prefix: prefix } : {}),
        ...(token !== undefined ? { ContinuationToken: token } : {}),
        ...(opts.pageSize !== undefined ? { MaxKeys: opts.pageSize } : {}),
      }),
      { abortSignal: opts.signal },
    );
    for (const obj of page.Contents ?? []) {
      const key = obj.Key;
      // "Folder" placeholders that consoles and some tools create hold no data.
      if (key === undefined || key.endsWith('/')) continue;
      yield s3Object(client, bucket, key, obj.Size, opts.signal);
    }
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
    if (page.IsTruncated && token === undefined) {
      throw new Error(`ListObjectsV2 on s3://${bucket}/${prefix} was truncated but returned no continuation token`);
    }
  } while (token !== undefined);
}

/** An ObjectIn for one known key (also for callers that got keys elsewhere, e.g. S3 events). */
export function s3Object(
  client: S3Client,
  bucket: string,
  key: string,
  size?: number,
  signal?: AbortSignal,
): ObjectIn {
  return {
    location: formatS3Url(bucket, key),
    key,
    ...(size !== undefined ? { size } : {}),
    open: () => streamS3Object(client, bucket, key, signal),
  };
}

async function* streamS3Object(
  client: S3Client,
  bucket: string,
  key: string,
  signal?: AbortSignal,
): AsyncGenerator<Uint8Array, void, undefined> {
  const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
  const body = res.Body as unknown;
  if (body === undefined || body === null) return;
  // In Node the SDK returns an http.IncomingMessage (a Readable): async-iterable Buffers.
  if (typeof (body as AsyncIterable<unknown>)[Symbol.asyncIterator] !== 'function') {
    throw new Error(`GetObject s3://${bucket}/${key}: body is not a Node stream`);
  }
  const stream = body as AsyncIterable<Uint8Array | string> & { destroy?: (err?: Error) => void };
  try {
    for await (const chunk of stream) {
      yield typeof chunk === 'string' ? Buffer.from(chunk) : chunk;
    }
  } finally {
    // Stops the download when the consumer bails out early; no-op once fully read.
    stream.destroy?.();
  }
}
