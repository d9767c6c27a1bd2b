import { loadZstd } from '../decode/zstd.js';
import { readArchiveColumns, checkArchiveFile } from './read.js';
import { decodeManifest, MANIFEST_ROOT, STATE_ROOT } from './manifest.js';
import { encodeParquet, type Codec, type ColumnValues } from './parquet/writer.js';
import { parsePartitionPath, PARTITION_ROOT } from './partition.js';
import { ARCHIVE_SCHEMA, SCHEMA_VERSION, storedColumns } from './schema.js';
import type { ArchiveStore, StoredObject } from './store.js';
import { hashHex } from './units.js';

/**
 * Compaction and retention.
 *
 * Compaction merges a partition's small files into one. It is exactly-once safe beside a live
 * writer: it only takes files older than `minAgeMs` that no open flush manifest lists, names the
 * merged file from the set of its inputs, and records the merge (inputs, output) in a compaction
 * record before writing the output. After a crash the next run finishes or abandons the merge,
 * and queries ignore the inputs of any merge whose output exists (see pendingMerges).
 */

export const COMPACTION_ROOT = `${STATE_ROOT}compactions/`;
/**
 * Key-value metadata of a merged file: the names (within its partition) of the files it replaces,
 * including those an input merged file replaced, so that the record of where a file's rows went
 * survives compaction of compacted files (backfill relies on it, see compactedInto).
 */
export const INPUTS_KEY = 'flowcut.inputs';

interface MergeRecord {
  readonly version: 1;
  readonly output: string;
  readonly inputs: readonly string[];
}

export interface CompactOptions {
  readonly minAgeMs: number;
  readonly maxRecords: number;
  /** Page compression of merged files (default zstd). */
  readonly codec?: Codec;
  readonly level?: number;
  readonly now?: number;
}

export interface CompactResult {
  partitions: number;
  inputs: number;
  outputs: number;
  records: number;
  skipped: number;
}

/** Files replaced by a merge whose output exists: queries must not read them. */
export async function pendingMerges(store: ArchiveStore): Promise<{ hidden: Set<string>; records: { key: string; merge: MergeRecord }[] }> {
  const hidden = new Set<string>();
  const records: { key: string; merge: MergeRecord }[] = [];
  for await (const o of store.list(COMPACTION_ROOT)) {
    const bytes = await store.get(o.key);
    if (!bytes) continue;
    const merge = JSON.parse(new TextDecoder().decode(bytes)) as MergeRecord;
    records.push({ key: o.key, merge });
    if ((await store.get(merge.output)) !== undefined) for (const i of merge.inputs) hidden.add(i);
  }
  return { hidden, records };
}

/** Finishes merges a crash interrupted: output written → delete inputs; output missing → forget it. */
async function settleMerges(store: ArchiveStore): Promise<void> {
  for (const { key, merge } of (await pendingMerges(store)).records) {
    if ((await store.get(merge.output)) !== undefined) await store.delete(merge.inputs.filter((i) => i !== merge.output));
    await store.delete([key]);
  }
}

async function openManifestFiles(store: ArchiveStore): Promise<Set<string>> {
  const files = new Set<string>();
  for await (const o of store.list(MANIFEST_ROOT)) {
    const bytes = await store.get(o.key);
    if (bytes) for (const f of decodeManifest(bytes, o.key).files) files.add(f);
  }
  return files;
}

export async function compactArchive(store: ArchiveStore, opts: CompactOptions): Promise<CompactResult> {
  await settleMerges(store);
  const now = opts.now ?? Date.now();
  const byPartition = new Map<string, StoredObject[]>();
  for await (const o of store.list(PARTITION_ROOT)) {
    if (!o.key.endsWith('.parquet') || now - o.mtimeMs < opts.minAgeMs) continue;
    const dir = o.key.slice(0, o.key.lastIndexOf('/') + 1);
    if (!parsePartitionPath(dir)) continue;
    let list = byPartition.get(dir);
    if (!list) byPartition.set(dir, (list = []));
    list.push(o);
  }
  // Manifests are read after the listing: a writer stores a range's manifest before its files,
  // so every listed file of a range not yet checkpointed is named by a manifest that still exists
  // now (or the range was checkpointed meanwhile, which makes its files fair game).
  const busy = await openManifestFiles(store);
  const result: CompactResult = { partitions: 0, inputs: 0, outputs: 0, records: 0, skipped: 0 };
  for (const [dir, listed] of byPartition) {
    const files = listed.filter((f) => !busy.has(f.key));
    if (files.length < 2) continue;
    let merged = false;
    // Read, check, and merge into files of at most maxRecords, each written as soon as it is full.
    let group: { key: string; replaces: readonly string[]; rows: number; columns: ColumnValues[] }[] = [];
    let groupRows = 0;
    const mergeGroup = async (): Promise<void> => {
      const g = group;
      group = [];
      groupRows = 0;
      if (g.length < 2) return;
      const inputs = g.map((x) => x.key).sort();
      const output = `${dir}c-${hashHex(inputs.join('\n'), 24)}.parquet`;
      const replaced = [...new Set([...inputs.map((i) => i.slice(dir.length)), ...g.flatMap((x) => x.replaces)])].sort();
      const recordKey = `${COMPACTION_ROOT}${hashHex(output, 24)}.json`;
      const record: MergeRecord = { version: 1, output, inputs };
      await store.put(recordKey, new TextEncoder().encode(JSON.stringify(record)));
      const { rows, columns } = concat(g);
      const stored = storedColumns(columns);
      const codec = opts.codec ?? 'zstd';
      if (codec === 'zstd') await loadZstd();
      await store.put(output, encodeParquet(stored.schema, stored.columns, rows, { codec, ...(opts.level !== undefined ? { level: opts.level } : {}), keyValue: { 'flowcut.schema': SCHEMA_VERSION, 'flowcut.compacted': String(inputs.length), [INPUTS_KEY]: JSON.stringify(replaced) } }));
      await store.delete(inputs.filter((i) => i !== output));
      await store.delete([recordKey]);
      result.inputs += inputs.length;
      result.outputs++;
      result.records += rows;
      merged = true;
    };
    for (const f of files) {
      const bytes = await store.get(f.key);
      if (bytes === undefined) continue; // deleted meanwhile (a writer's rollback, retention)
      const check = checkArchiveFile(bytes);
      if (!check.ok) {
        result.skipped++;
        continue;
      }
      const data = await readArchiveColumns(bytes);
      if (groupRows + data.rows > opts.maxRecords && group.length > 0) await mergeGroup();
      group.push({ key: f.key, replaces: check.replaces ?? [], ...data });
      groupRows += data.rows;
    }
    await mergeGroup();
    if (merged) result.partitions++;
  }
  return result;
}

function concat(files: { rows: number; columns: ColumnValues[] }[]): { rows: number; columns: ColumnValues[] } {
  const rows = files.reduce((s, f) => s + f.rows, 0);
  const columns = ARCHIVE_SCHEMA.map((spec, c): ColumnValues => {
    if (files.every((f) => f.columns[c]!.numbers === undefined && f.columns[c]!.strings === undefined)) return {};
    if (spec.type === 'string') {
      const out: (string | null)[] = [];
      for (const f of files) {
        const s = f.columns[c]!.strings;
        for (let i = 0; i < f.rows; i++) out.push(s ? (s[i] ?? null) : null);
      }
      return { strings: out };
    }
    const out = new Float64Array(rows).fill(NaN);
    let at = 0;
    for (const f of files) {
      const n = f.columns[c]!.numbers;
      if (n) out.set(n.subarray(0, f.rows), at);
      at += f.rows;
    }
    return { numbers: out };
  });
  return { rows, columns };
}

export interface RetainResult {
  partitions: number;
  files: number;
  cutoffMs: number;
  keys: string[];
}

/** Deletes every file of hour partitions that end before now − retainDays. */
export async function retainArchive(store: ArchiveStore, opts: { retainDays: number; dryRun?: boolean; now?: number }): Promise<RetainResult> {
  const cutoffMs = (opts.now ?? Date.now()) - opts.retainDays * 86_400_000;
  const cutoffHour = Math.floor(cutoffMs / 3_600_000);
  const keys: string[] = [];
  const parts = new Set<string>();
  for await (const o of store.list(PARTITION_ROOT)) {
    const dir = o.key.slice(0, o.key.lastIndexOf('/') + 1);
    const p = parsePartitionPath(dir);
    if (p && p.hour < cutoffHour) {
      keys.push(o.key);
      parts.add(dir);
    }
  }
  if (!opts.dryRun) await store.delete(keys);
  return { partitions: parts.size, files: keys.length, cutoffMs, keys };
}

/**
 * Which of `keys` a merged file of their partition holds (directly or through earlier merges),
 * and which merged file that is. Usually the file is gone, merged and deleted; it can also still
 * exist when a compaction stopped between writing the merged file and deleting its inputs (its
 * copy is then hidden from queries and deleted by the next compaction). A key no merged file
 * names is its own (or was removed: retention, a rollback). Reads the merged files of the
 * partitions concerned, so it is for rare paths (re-archiving).
 */
export async function compactedInto(store: ArchiveStore, keys: readonly string[]): Promise<Map<string, string>> {
  const byDir = new Map<string, string[]>();
  for (const k of keys) {
    const dir = k.slice(0, k.lastIndexOf('/') + 1);
    let list = byDir.get(dir);
    if (!list) byDir.set(dir, (list = []));
    list.push(k);
  }
  const found = new Map<string, string>();
  for (const [dir, wanted] of byDir) {
    const merged: string[] = [];
    for await (const o of store.list(dir)) {
      const name = o.key.slice(dir.length);
      if (!name.includes('/') && name.startsWith('c-') && name.endsWith('.parquet')) merged.push(o.key);
    }
    for (const m of merged) {
      const bytes = await store.get(m);
      if (bytes === undefined) continue;
      const check = checkArchiveFile(bytes);
      if (!check.ok || check.replaces === undefined) continue;
      const names = new Set(check.replaces);
      for (const k of wanted) if (names.has(k.slice(dir.length)) && !found.has(k)) found.set(k, m);
    }
  }
  return found;
}
