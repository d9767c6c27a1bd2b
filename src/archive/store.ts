import { randomBytes } from 'node:crypto';
import { mkdir, open, readdir, readFile, rename, rm, rmdir, stat, unlink } from 'node:fs/promises';
import { dirname, join, relative, sep } from 'node:path';
import { DeleteObjectsCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { parseS3Url } from '../sources/s3.js';

/** One stored object, by key relative to the archive root (always `/`-separated). */
export interface StoredObject {
  readonly key: string;
  readonly size: number;
  readonly mtimeMs: number;
}

/**
 * Where the archive lives. `put` is atomic: readers see the whole object or nothing, never a
 * prefix of it, which is what makes a crash mid-write harmless.
 */
export interface ArchiveStore {
  /** `DIR` or `s3://bucket/prefix`, for messages. */
  readonly url: string;
  put(key: string, data: Uint8Array): Promise<void>;
  get(key: string): Promise<Uint8Array | undefined>;
  /** Every object whose key starts with `prefix`, flat, in key order within a listing page. */
  list(prefix: string): AsyncGenerator<StoredObject>;
  delete(keys: readonly string[]): Promise<void>;
}

/**
 * A local directory. Writes go to a hidden temporary name in the target directory, are fsynced,
 * renamed into place, and the directory is fsynced: after a crash a file is whole or absent.
 */
export class LocalStore implements ArchiveStore {
  constructor(readonly root: string) {}

  get url(): string {
    return this.root;
  }

  path(key: string): string {
    return join(this.root, ...key.split('/'));
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    const target = this.path(key);
    const dir = dirname(target);
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, `.${randomBytes(6).toString('hex')}.tmp`);
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, target);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    const d = await open(dir, 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      return await readFile(this.path(key));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw err;
    }
  }

  async *list(prefix: string): AsyncGenerator<StoredObject> {
    // Walk only below the deepest directory the prefix names.
    const cut = prefix.lastIndexOf('/');
    const dir = cut < 0 ? '' : prefix.slice(0, cut);
    for await (const file of walk(this.path(dir))) {
      const key = relative(this.root, file.path).split(sep).join('/');
      if (key.startsWith(prefix)) yield { key, size: file.size, mtimeMs: file.mtimeMs };
    }
  }

  async delete(keys: readonly string[]): Promise<void> {
    const dirs = new Set<string>();
    for (const key of keys) {
      await rm(this.path(key), { force: true });
      dirs.add(dirname(this.path(key)));
    }
    // Empty partition directories would otherwise pile up after compaction and retention.
    for (let d of dirs) {
      while (d.startsWith(this.root) && d !== this.root && d.length > this.root.length) {
        try {
          await rmdir(d);
        } catch {
          break;
        }
        d = dirname(d);
      }
    }
  }
}

async function* walk(dir: string): AsyncGenerator<{ path: string; size: number; mtimeMs: number }> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
    throw err;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const e of entries) {
    // Hidden names are in-flight temporary files (ours) or someone else's business.
    if (e.name.startsWith('.')) continue;
    const full = join(dir, e.name);
    if (e.isDirectory()) yield* walk(full);
    else if (e.isFile()) {
      const s = await stat(full).catch(() => undefined);
      if (s) yield { path: full, size: s.size, mtimeMs: s.mtimeMs };
    }
  }
}

/** `s3://bucket/prefix`: every object is a single PutObject, which S3 makes visible atomically. */
export class S3Store implements ArchiveStore {
  readonly bucket: string;
  /** Key prefix, empty or ending in `/`. */
  readonly prefix: string;

  constructor(
    readonly client: S3Client,
    readonly url: string,
  ) {
    const u = parseS3Url(url);
    this.bucket = u.bucket;
    this.prefix = u.prefix === '' || u.prefix.endsWith('/') ? u.prefix : `${u.prefix}/`;
  }

  async put(key: string, data: Uint8Array): Promise<void> {
    await this.client.send(new PutObjectCommand({ Bucket: this.bucket, Key: this.prefix + key, Body: data, ContentLength: data.length }));
  }

  async get(key: string): Promise<Uint8Array | undefined> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.prefix + key }));
      return res.Body ? await res.Body.transformToByteArray() : new Uint8Array(0);
    } catch (err) {
      const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
      if (e.name === 'NoSuchKey' || e.$metadata?.httpStatusCode === 404) return undefined;
      throw err;
    }
  }

  async *list(prefix: string): AsyncGenerator<StoredObject> {
    let token: string | undefined;
    do {
      const page = await this.client.send(
        new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.prefix + prefix, ...(token ? { ContinuationToken: token } : {}) }),
      );
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined || o.Key.endsWith('/')) continue;
        yield { key: o.Key.slice(this.prefix.length), size: o.Size ?? 0, mtimeMs: o.LastModified?.getTime() ?? 0 };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token !== undefined);
  }

  async delete(keys: readonly string[]): Promise<void> {
    for (let i = 0; i < keys.length; i += 1000) {
      const chunk = keys.slice(i, i + 1000);
      const res = await this.client.send(
        new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: chunk.map((k) => ({ Key: this.prefix + k })), Quiet: true } }),
      );
      if (res.Errors && res.Errors.length > 0) {
        throw new Error(`could not delete ${res.Errors.length} object(s) from ${this.url}: ${res.Errors[0]!.Key}: ${res.Errors[0]!.Message}`);
      }
    }
  }
}

/** Opens `DIR` or `s3://bucket/prefix`; the S3 client comes from the caller (it owns its lifetime). */
export function openStore(target: string, s3: () => S3Client): ArchiveStore {
  return target.startsWith('s3://') ? new S3Store(s3(), target) : new LocalStore(target);
}
