/**
 * `flowcut run` settings from three places, later ones winning: a JSON config file
 * (`--config`), FLOWCUT_* environment variables, and command-line options. Validated as one
 * object with zod so every mistake is reported with where the setting came from.
 */
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { CODECS, DEFAULT_ZSTD_LEVEL } from '../archive/parquet/writer.js';

export const CONSUMERS = ['polling', 'efo'] as const;
export const RUN_OUTPUTS = ['jsonl', 'none'] as const;

const positiveMs = z.coerce.number().int().positive();

const fromSchema = z.string().refine((s) => s === 'trim-horizon' || s === 'latest' || !Number.isNaN(Date.parse(s)), {
  message: "must be 'trim-horizon', 'latest' or an ISO time such as 2026-01-05T10:00:00Z",
});

export const runConfigSchema = z
  .object({
    stream: z.string().min(1).max(128).regex(/^[a-zA-Z0-9_.-]+$/, 'a Kinesis stream name: letters, digits, _ . -').optional(),
    app: z.string().min(3).max(255).regex(/^[a-zA-Z0-9_.-]+$/, 'a DynamoDB table name: letters, digits, _ . - (3 to 255)').optional(),
    workerId: z.string().min(1).max(256).optional(),
    consumer: z.enum(CONSUMERS).default('polling'),
    /** The registered EFO consumer's name; default the app name. */
    efoConsumerName: z.string().min(1).max(128).optional(),
    /** Default latest; trim-horizon for the embedded local stream (see startPosition). */
    from: fromSchema.optional(),
    archive: z.string().min(1).optional(),
    /** JSON-lines file for payloads that cannot be decoded; default under .flowcut/rejects/. */
    rejects: z.string().min(1).optional(),
    /** zstd: smallest files; snappy: the most records per second through the archive. */
    archiveCompression: z.enum(CODECS).default('zstd'),
    archiveZstdLevel: z.coerce.number().int().min(1).max(22).default(DEFAULT_ZSTD_LEVEL),
    output: z.enum(RUN_OUTPUTS).optional(),
    failoverMs: positiveMs.default(10_000),
    /** Default 10 s; 60 s with an archive (see checkpointInterval). */
    checkpointIntervalMs: positiveMs.optional(),
    shardSyncIntervalMs: positiveMs.default(60_000),
    idlePollMs: positiveMs.default(1000),
    region: z.string().min(1).optional(),
  })
  .strict();

export type RunConfig = z.infer<typeof runConfigSchema>;
type RawConfig = Partial<Record<keyof RunConfig, unknown>>;

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

const ENV: Record<string, keyof RunConfig> = {
  FLOWCUT_STREAM: 'stream',
  FLOWCUT_APP: 'app',
  FLOWCUT_WORKER_ID: 'workerId',
  FLOWCUT_CONSUMER: 'consumer',
  FLOWCUT_EFO_CONSUMER_NAME: 'efoConsumerName',
  FLOWCUT_FROM: 'from',
  FLOWCUT_ARCHIVE: 'archive',
  FLOWCUT_REJECTS: 'rejects',
  FLOWCUT_ARCHIVE_COMPRESSION: 'archiveCompression',
  FLOWCUT_ARCHIVE_ZSTD_LEVEL: 'archiveZstdLevel',
  FLOWCUT_OUTPUT: 'output',
  FLOWCUT_FAILOVER_MS: 'failoverMs',
  FLOWCUT_CHECKPOINT_INTERVAL_MS: 'checkpointIntervalMs',
  FLOWCUT_SHARD_SYNC_INTERVAL_MS: 'shardSyncIntervalMs',
  FLOWCUT_IDLE_POLL_MS: 'idlePollMs',
};

/** Where each setting came from, for error messages. */
type Sources = Partial<Record<keyof RunConfig, string>>;

export function loadRunConfig(cli: RawConfig, configPath: string | undefined, env: NodeJS.ProcessEnv = process.env): RunConfig {
  const merged: RawConfig = {};
  const sources: Sources = {};
  const path = configPath ?? env.FLOWCUT_CONFIG;
  if (path) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(readFileSync(path, 'utf8'));
    } catch (err) {
      throw new ConfigError(`cannot read config file ${path}: ${(err as Error).message}`);
    }
    if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new ConfigError(`config file ${path} must hold a JSON object`);
    for (const [k, v] of Object.entries(parsed)) {
      (merged as Record<string, unknown>)[k] = v;
      (sources as Record<string, string>)[k] = `config file ${path}`;
    }
  }
  for (const [name, key] of Object.entries(ENV)) {
    const v = env[name];
    if (v === undefined || v === '') continue;
    merged[key] = v;
    sources[key] = `environment variable ${name}`;
  }
  for (const [k, v] of Object.entries(cli)) {
    if (v === undefined) continue;
    (merged as Record<string, unknown>)[k] = v;
    (sources as Record<string, string>)[k] = `option --${k.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
  }
  const result = runConfigSchema.safeParse(merged);
  if (!result.success) {
    const lines = result.error.issues.map((i) => {
      const key = String(i.path[0] ?? '');
      const where = (sources as Record<string, string>)[key];
      if (i.code === 'unrecognized_keys') return `unknown setting(s) ${i.keys.map((k) => JSON.stringify(k)).join(', ')} in ${sources[i.keys[0] as keyof RunConfig] ?? 'the config file'}`;
      return `${key}${where ? ` (from ${where})` : ''}: ${i.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${lines.join('\n  ')}`);
  }
  return result.data;
}

/** Every checkpoint flushes the archive: a short interval would mean many small files. */
export function checkpointInterval(cfg: RunConfig): number {
  return cfg.checkpointIntervalMs ?? (cfg.archive ? 60_000 : 10_000);
}

/** The embedded stream holds only the demo's records, so it is read from its start. */
export function startPosition(cfg: RunConfig, embedded: boolean): string {
  return cfg.from ?? (embedded ? 'trim-horizon' : 'latest');
}

export function defaultWorkerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`;
}

export function parseFrom(text: string): 'trim-horizon' | 'latest' | Date {
  return text === 'trim-horizon' || text === 'latest' ? text : new Date(Date.parse(text));
}
