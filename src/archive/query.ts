import { access, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { pendingMerges } from './housekeeping.js';
import { parsePartitionPath, PARTITION_ROOT } from './partition.js';
import { checkArchiveFile } from './read.js';
import { ARCHIVE_SCHEMA } from './schema.js';
import { LocalStore, type ArchiveStore } from './store.js';

/**
 * DuckDB over the archive: a `flows` view of the files in the partitions a time range needs.
 * Files are chosen from their partition path before anything is read (for S3 only those are
 * downloaded, into a temporary directory mirroring their keys, since DuckDB's httpfs is not
 * available offline), then each is checked (magic, footer, core columns and types) so a foreign
 * or truncated file is reported and left out instead of failing every query.
 */

export interface ViewOptions {
  /** Epoch ms, inclusive. */
  readonly since?: number;
  /** Epoch ms, exclusive. */
  readonly until?: number;
}

export interface SkippedFile {
  readonly key: string;
  readonly reason: string;
}

export interface ArchiveView {
  readonly connection: DuckDBConnection;
  readonly files: readonly string[];
  readonly skipped: readonly SkippedFile[];
  close(): Promise<void>;
}

const DUCK_TYPE = { int32: 'INTEGER', int64: 'BIGINT', string: 'VARCHAR' } as const;
const HIVE_TYPES = [['aws-account-id', 'VARCHAR'], ['aws-service', 'VARCHAR'], ['aws-region', 'VARCHAR'], ['year', 'INTEGER'], ['month', 'INTEGER'], ['day', 'INTEGER'], ['hour', 'INTEGER']] as const;

/** A partition key's column in the view: Athena's name for it (athena.ts), so SQL carries over. */
const viewName = (key: string): string => key.replaceAll('-', '_');

export async function openArchiveView(store: ArchiveStore, opts: ViewOptions = {}): Promise<ArchiveView> {
  const fromHour = opts.since === undefined ? -Infinity : Math.floor(opts.since / 3_600_000);
  const toHour = opts.until === undefined ? Infinity : Math.floor((opts.until - 1) / 3_600_000);
  const { hidden } = await pendingMerges(store);
  const local = store instanceof LocalStore ? store : undefined;
  const temp = local ? undefined : await mkdtemp(join(tmpdir(), 'flowcut-query-'));
  const files: string[] = [];
  const keys = new Map<string, string>();
  const replaced = new Set<string>();
  const present = new Set<string>();
  const skipped: SkippedFile[] = [];
  try {
    for await (const o of store.list(PARTITION_ROOT)) {
      const dir = o.key.slice(0, o.key.lastIndexOf('/') + 1);
      const p = parsePartitionPath(dir);
      if (p === undefined) {
        skipped.push({ key: o.key, reason: 'not in an hour partition' });
        continue;
      }
      if (p.hour < fromHour || p.hour > toHour || hidden.has(o.key)) continue;
      if (!o.key.endsWith('.parquet')) {
        skipped.push({ key: o.key, reason: 'not a .parquet file' });
        continue;
      }
      let path: string;
      let bytes: Uint8Array | undefined;
      if (local) {
        path = local.path(o.key);
        bytes = await readFile(path).catch(() => undefined);
      } else {
        bytes = await store.get(o.key);
        path = join(temp!, ...o.key.split('/'));
        if (bytes) {
          await mkdir(dirname(path), { recursive: true });
          await writeFile(path, bytes);
        }
      }
      // Deleted since the listing (compaction, retention): the listing is stale, and may lack
      // the merged file that now holds these rows. A view built on it would answer short.
      if (bytes === undefined) throw new ArchiveChangedError(`${o.key} was deleted while the query's view was being built`);
      const check = checkArchiveFile(bytes);
      if (!check.ok) skipped.push({ key: o.key, reason: check.reason });
      else {
        files.push(path);
        keys.set(path, o.key);
        for (const c of check.columns) present.add(c);
        for (const r of check.replaces ?? []) replaced.add(dir + r);
      }
    }
    // A merged file names the files it replaces: while compaction is deleting them (or after
    // it crashed before it could), a listing can hold both; read only the merged one.
    if (replaced.size > 0) files.splice(0, files.length, ...files.filter((f) => !replaced.has(keys.get(f)!)));
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    try {
      await connection.run(viewSql(files, opts, present));
    } catch (err) {
      connection.closeSync();
      db.closeSync();
      if (await someGone(files)) throw new ArchiveChangedError(`a file was deleted while the query's view was being built: ${(err as Error).message}`);
      throw err;
    }
    return {
      connection,
      files,
      skipped,
      async close() {
        connection.closeSync();
        db.closeSync();
        if (temp) await rm(temp, { recursive: true, force: true });
      },
    };
  } catch (err) {
    if (temp) await rm(temp, { recursive: true, force: true });
    throw err;
  }
}

/** The SQL failed (DuckDB's message): a mistake in the query, not in the archive. */
export class QueryError extends Error {
  override name = 'QueryError';
}

/**
 * Files of the archive were deleted (by compaction or retention) between the listing a view was
 * built on and their reading: the view would be incomplete. Build it again.
 */
export class ArchiveChangedError extends Error {
  override name = 'ArchiveChangedError';
}

export interface QueryResult {
  readonly names: string[];
  readonly rows: unknown[][];
  /** Files the answering view read, and files it left out (foreign, truncated, misplaced). */
  readonly files: readonly string[];
  readonly skipped: readonly SkippedFile[];
}

/**
 * Runs `sql` over a view of the archive. Compaction and retention may delete files after the
 * view's listing: found while the view is built (a listed file is gone) or while DuckDB reads
 * (the query fails on a file that is gone), the listing is stale and may lack the merged file
 * that now holds those rows, so the view is built again from a fresh listing. After `attempts`
 * such tries an ArchiveChangedError is thrown; a failure of the SQL itself is a QueryError.
 */
export async function queryArchive(
  store: ArchiveStore,
  sql: string,
  opts: ViewOptions & { attempts?: number; viewOpened?: (view: ArchiveView, attempt: number) => Promise<void> } = {},
): Promise<QueryResult> {
  const attempts = opts.attempts ?? 3;
  for (let attempt = 1; ; attempt++) {
    let view: ArchiveView;
    try {
      view = await openArchiveView(store, opts);
    } catch (err) {
      if (err instanceof ArchiveChangedError && attempt < attempts) continue;
      throw err;
    }
    try {
      await opts.viewOpened?.(view, attempt);
      try {
        const reader = await view.connection.runAndReadAll(sql);
        return { names: reader.columnNames(), rows: reader.getRowsJS(), files: view.files, skipped: view.skipped };
      } catch (err) {
        if (!(await someGone(view.files))) throw new QueryError((err as Error).message);
        if (attempt >= attempts) throw new ArchiveChangedError(`files were deleted during the query ${attempts} times: ${(err as Error).message}`);
      }
    } finally {
      await view.close();
    }
  }
}

async function someGone(paths: readonly string[]): Promise<boolean> {
  for (const p of paths) {
    if (!(await access(p).then(() => true, () => false))) return true;
  }
  return false;
}

export function sqlString(s: string): string {
  return `'${s.replaceAll("'", "''")}'`;
}

function viewSql(files: readonly string[], opts: ViewOptions, present: ReadonlySet<string>): string {
  const conds: string[] = [];
  // Rows carry their event time; partitions are whole hours, so trim to the exact range.
  if (opts.since !== undefined) conds.push(`coalesce("start", "end") >= ${Math.floor(opts.since / 1000)}`);
  if (opts.until !== undefined) conds.push(`coalesce("start", "end") < ${Math.ceil(opts.until / 1000)}`);
  const where = conds.length ? ` WHERE coalesce("start", "end") IS NULL OR (${conds.join(' AND ')})` : '';
  if (files.length === 0) {
    const cols = ARCHIVE_SCHEMA.map((c) => `NULL::${DUCK_TYPE[c.type]} AS "${c.name}"`);
    const hive = HIVE_TYPES.map(([k, t]) => `NULL::${t} AS "${viewName(k)}"`);
    return `CREATE VIEW flows AS SELECT ${[...cols, ...hive].join(', ')} WHERE false`;
  }
  const list = files.map(sqlString).join(', ');
  // Explicit types: auto-typing would make the account a BIGINT (dropping leading zeros).
  const types = HIVE_TYPES.map(([k, t]) => `'${k}': '${t}'`).join(', ');
  // Every archive column, in schema order: files store only the columns they have values for.
  const cols = ARCHIVE_SCHEMA.map((c) => (present.has(c.name) ? `"${c.name}"` : `NULL::${DUCK_TYPE[c.type]} AS "${c.name}"`));
  const hive = HIVE_TYPES.map(([k]) => `"${k}" AS "${viewName(k)}"`);
  return `CREATE VIEW flows AS SELECT ${[...cols, ...hive].join(', ')} FROM read_parquet([${list}], hive_partitioning = true, union_by_name = true, hive_types = {${types}})${where}`;
}

/** Ready-made questions, as SQL over `flows`. */
export const QUESTIONS = {
  topTalkers: (limit: number): string =>
    `SELECT srcaddr, sum(bytes) AS bytes, sum(packets) AS packets, count(*) AS flows FROM flows WHERE srcaddr IS NOT NULL GROUP BY srcaddr ORDER BY bytes DESC NULLS LAST, srcaddr LIMIT ${limit}`,
  rejectedPorts: (limit: number): string =>
    `SELECT dstport, protocol, count(*) AS flows, count(DISTINCT srcaddr) AS sources, sum(packets) AS packets FROM flows WHERE action = 'REJECT' GROUP BY dstport, protocol ORDER BY flows DESC, dstport LIMIT ${limit}`,
  eni: (eni: string, limit: number): string =>
    `SELECT srcaddr, dstaddr, dstport, protocol, action, count(*) AS flows, sum(packets) AS packets, sum(bytes) AS bytes, ` +
    `to_timestamp(min("start")) AS first_seen, to_timestamp(max("end")) AS last_seen FROM flows WHERE interface_id = ${sqlString(eni)} ` +
    `GROUP BY srcaddr, dstaddr, dstport, protocol, action ORDER BY bytes DESC NULLS LAST, flows DESC LIMIT ${limit}`,
};
