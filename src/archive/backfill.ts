import { resolve } from 'node:path';
import { FlowDecoder, type DecoderOptions } from '../decode/decoder.js';
import type { Reject } from '../flowlog/sink.js';
import type { ObjectIn } from '../sources/types.js';
import { compactedInto } from './housekeeping.js';
import { OBJECT_ROOT } from './manifest.js';
import type { ArchiveStore } from './store.js';
import { objectIdOf, type ObjectUnit } from './units.js';
import type { ArchiveWriter, CoveredRange } from './writer.js';

/** What the archive keeps for an input object once all of its records are durable. */
export interface ObjectRecord {
  readonly version: 1;
  readonly location: string;
  readonly size: number | null;
  readonly records: number;
  readonly rejected: number;
  readonly files: readonly string[];
}

export interface BackfillOptions {
  readonly writer: ArchiveWriter;
  readonly decoder?: Omit<DecoderOptions, 'drain'>;
  readonly onReject?: (r: Reject) => void;
  /** Awaited before an object is recorded as done: its rejects must be kept by then. */
  readonly rejectsKept?: () => Promise<void>;
  /** Called after each object, archived, skipped or refused. */
  readonly onObject?: (e: { location: string; skipped: boolean; records: number; files: number; refused?: Refusal }) => void;
  /** Archive objects again even when the archive says they are done (same names: overwritten). */
  readonly force?: boolean;
  readonly signal?: AbortSignal;
}

export interface BackfillSummary {
  objects: number;
  skipped: number;
  records: number;
  rejected: number;
  files: number;
  bytes: number;
  /** Files left by crashed earlier runs, removed before their objects were archived again. */
  recovered: number;
  /** Objects not archived again because their earlier records now sit in merged files. */
  refused: Refusal[];
}

/**
 * An object that was archived, then compacted, and is asked to be archived again (`force`, or it
 * changed): its earlier records live inside merged files beside other objects' records, so new
 * files would duplicate them. Nothing is written for it; the way out is to drop those files.
 */
export interface Refusal {
  readonly location: string;
  /** The merged files holding its earlier records. */
  readonly mergedInto: readonly string[];
}

/** A location that names the same input whatever the working directory was. */
export function canonicalLocation(location: string): string {
  return /^[a-z0-9]+:\/\//i.test(location) ? location : resolve(location);
}

export function objectRecordKey(objectId: string): string {
  return `${OBJECT_ROOT}${objectId}.json`;
}

/**
 * Archives input objects exactly once. Per object: skip it when the archive records it as done
 * (same size); otherwise delete what a crashed run may have left for it, decode it into the
 * writer in deterministic chunks, and once every chunk is durable record it as done. A re-run
 * therefore resumes after the last completed object, and archiving the same input twice leaves
 * one copy. An object that changed since it was archived replaces its old files.
 */
export async function archiveObjects(objects: AsyncIterable<ObjectIn>, opts: BackfillOptions): Promise<BackfillSummary> {
  const { writer } = opts;
  const store: ArchiveStore = writer.store;
  const summary: BackfillSummary = { objects: 0, skipped: 0, records: 0, rejected: 0, files: 0, bytes: 0, recovered: 0, refused: [] };
  let current: ObjectUnit | undefined;
  let ranges: CoveredRange[] = [];
  const flushReady = async (): Promise<void> => {
    if (!writer.shouldFlush()) return;
    const r = await writer.flush();
    ranges.push(...r.ranges);
    summary.bytes += r.bytes;
  };
  const decoder = new FlowDecoder(
    {
      batch: (b) => writer.add(b, current),
      reject: (r) => opts.onReject?.(r),
    },
    { ...opts.decoder, drain: flushReady },
  );
  for await (const obj of objects) {
    opts.signal?.throwIfAborted();
    if (obj.location === '-') throw new Error('stdin cannot be archived exactly once (it has no stable identity); save it to a file first');
    const location = canonicalLocation(obj.location);
    const objectId = objectIdOf(location);
    const doneKey = objectRecordKey(objectId);
    const previous = await readObjectRecord(store, doneKey);
    if (previous !== undefined && !opts.force && (obj.size === undefined || previous.size === obj.size)) {
      summary.skipped++;
      opts.onObject?.({ location, skipped: true, records: previous.records, files: previous.files.length });
      continue;
    }
    if (previous !== undefined) {
      const merged = await compactedInto(store, previous.files);
      if (merged.size > 0) {
        const refused: Refusal = { location, mergedInto: [...new Set(merged.values())].sort() };
        summary.refused.push(refused);
        opts.onObject?.({ location, skipped: true, records: 0, files: 0, refused });
        continue;
      }
    }
    summary.recovered += (await writer.recoverObject(objectId)).deletedFiles.length;
    current = { objectId, location };
    ranges = [];
    const before = decoder.stats.records;
    const rejectedBefore = decoder.stats.rejected;
    await decoder.decodeObject({ ...obj, location });
    decoder.flush();
    writer.endObject(current);
    const r = await writer.flush();
    ranges.push(...r.ranges);
    summary.bytes += r.bytes;
    const records = decoder.stats.records - before;
    // Counted by the decoder: past the listed ones, rejects reach onReject as one summing line.
    const rejected = decoder.stats.rejected - rejectedBefore;
    const files = ranges.flatMap((x) => x.files);
    const record: ObjectRecord = { version: 1, location, size: obj.size ?? null, records, rejected, files };
    // Every counted reject reached onReject, listed or in the line summing the unlisted ones.
    if (rejected > 0) await opts.rejectsKept?.();
    await store.put(doneKey, new TextEncoder().encode(JSON.stringify(record)));
    // Files of an older version of this object that the new one did not overwrite.
    if (previous !== undefined) {
      const keep = new Set(files);
      await store.delete(previous.files.filter((f) => !keep.has(f)));
    }
    await store.delete(ranges.map((x) => x.manifest));
    summary.objects++;
    summary.records += records;
    summary.rejected += rejected;
    summary.files += files.length;
    opts.onObject?.({ location, skipped: false, records, files: files.length });
    current = undefined;
  }
  return summary;
}

async function readObjectRecord(store: ArchiveStore, key: string): Promise<ObjectRecord | undefined> {
  const bytes = await store.get(key);
  if (bytes === undefined) return undefined;
  try {
    const r = JSON.parse(new TextDecoder().decode(bytes)) as ObjectRecord;
    return r.version === 1 && Array.isArray(r.files) ? r : undefined;
  } catch {
    return undefined;
  }
}
