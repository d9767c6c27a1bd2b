/**
 * Archiving an object again after compaction merged its files with other objects' files: the
 * merged file still holds its old records, so writing new files would leave them twice. Such an
 * object is refused (nothing written, reported); after its merged file is gone it goes through.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { archiveObjects } from '../../src/archive/backfill.js';
import { compactArchive, compactedInto, retainArchive } from '../../src/archive/housekeeping.js';
import { PARTITION_ROOT } from '../../src/archive/partition.js';
import { readArchiveColumns } from '../../src/archive/read.js';
import { COL_SOURCE, COL_SUB_INDEX } from '../../src/archive/schema.js';
import { LocalStore } from '../../src/archive/store.js';
import { ArchiveWriter } from '../../src/archive/writer.js';
import { simulateTraffic } from '../../src/sim/traffic.js';
import type { ObjectIn } from '../../src/sources/types.js';

const HOUR = 1_767_600_000 - (1_767_600_000 % 3600);

/** Text objects as a flow log to S3 writes them: header, then lines, all in one hour. */
function objects(count: number, linesEach: number, seed = 3): { location: string; text: string }[] {
  const lines = simulateTraffic({ minutes: 50, seed, startSec: HOUR + 60 }).map((l) => l.line);
  return Array.from({ length: count }, (_, i) => ({
    location: `/data/flows-${i}.log`,
    text: `version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status\n${lines.slice(i * linesEach, (i + 1) * linesEach).join('\n')}\n`,
  }));
}

async function* asInput(list: { location: string; text: string }[]): AsyncGenerator<ObjectIn> {
  for (const o of list) {
    const bytes = Buffer.from(o.text);
    yield { location: o.location, key: o.location, size: bytes.length, open: async function* () { yield bytes; } };
  }
}

/** source location → how many times each of its records (by line number) is in the archive. */
async function copies(store: LocalStore): Promise<Map<string, number[]>> {
  const out = new Map<string, number[]>();
  for await (const o of store.list(PARTITION_ROOT)) {
    if (!o.key.endsWith('.parquet')) continue;
    const { rows, columns } = await readArchiveColumns(await readFile(join(store.root, o.key)));
    for (let r = 0; r < rows; r++) {
      const loc = columns[COL_SOURCE]!.strings![r]!;
      const line = columns[COL_SUB_INDEX]!.numbers![r]!;
      const counts = out.get(loc) ?? [];
      counts[line] = (counts[line] ?? 0) + 1;
      out.set(loc, counts);
    }
  }
  return out;
}

describe('archiving an object again after compaction', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('is refused while a merged file holds its records, and nothing is duplicated', async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowcut-rearchive-'));
    const store = new LocalStore(dir);
    const input = objects(3, 200);
    const writer = () => new ArchiveWriter({ store, chunkRecords: 100 });
    const first = await archiveObjects(asInput(input), { writer: writer() });
    expect(first.objects).toBe(3);
    // Twice compacted: the merged file of the second round replaces the first round's, and must
    // still say which original files it holds.
    const compacted = await compactArchive(store, { minAgeMs: 0, maxRecords: 250 });
    expect(compacted.outputs).toBeGreaterThan(1);
    expect((await compactArchive(store, { minAgeMs: 0, maxRecords: 10_000 })).outputs).toBeGreaterThan(0);

    // Unchanged, not forced: skipped as before.
    expect((await archiveObjects(asInput(input), { writer: writer() })).skipped).toBe(3);
    // Forced, and changed (a line more): both refused, nothing written.
    const changed = [{ ...input[1]!, text: input[1]!.text + input[2]!.text.split('\n')[1] + '\n' }];
    const forced = await archiveObjects(asInput([input[0]!]), { writer: writer(), force: true });
    const again = await archiveObjects(asInput(changed), { writer: writer() });
    expect(forced.refused.map((r) => r.location)).toEqual(['/data/flows-0.log']);
    expect(again.refused.map((r) => r.location)).toEqual(['/data/flows-1.log']);
    expect(forced.refused[0]!.mergedInto[0]).toMatch(/\/c-[0-9a-f]+\.parquet$/);
    expect(forced.objects + again.objects).toBe(0);

    const have = await copies(store);
    expect([...have.keys()].sort()).toEqual(input.map((o) => o.location));
    for (const counts of have.values()) {
      expect(counts.filter((n) => n !== undefined)).toHaveLength(200);
      expect(counts.every((n) => n === undefined || n === 1)).toBe(true);
    }
  });

  it('goes through once the hour is gone (retention), and then holds the object once', async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowcut-rearchive-'));
    const store = new LocalStore(dir);
    const input = objects(2, 150, 5);
    await archiveObjects(asInput(input), { writer: new ArchiveWriter({ store, chunkRecords: 100 }) });
    await compactArchive(store, { minAgeMs: 0, maxRecords: 10_000 });
    const retained = await retainArchive(store, { retainDays: 0, now: Date.now() + 86_400_000 });
    expect(retained.files).toBeGreaterThan(0);
    const redo = await archiveObjects(asInput([input[0]!]), { writer: new ArchiveWriter({ store, chunkRecords: 100 }), force: true });
    expect(redo.refused).toEqual([]);
    expect(redo.objects).toBe(1);
    const have = await copies(store);
    expect([...have.keys()]).toEqual(['/data/flows-0.log']);
    expect(have.get('/data/flows-0.log')!.filter((n) => n === 1)).toHaveLength(150);
  });

  it('is refused too when a compaction stopped after writing the merged file, before deleting the originals', async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowcut-rearchive-'));
    let failDeletes = true;
    // The compaction "crashes" at its first delete of partition files: merged file written, originals still there.
    const store = new (class extends LocalStore {
      override async delete(keys: readonly string[]): Promise<void> {
        if (failDeletes && keys.some((k) => k.startsWith(PARTITION_ROOT))) throw new Error('injected crash');
        await super.delete(keys);
      }
    })(dir);
    const input = objects(2, 150, 9);
    failDeletes = false;
    await archiveObjects(asInput(input), { writer: new ArchiveWriter({ store, chunkRecords: 100 }) });
    failDeletes = true;
    await expect(compactArchive(store, { minAgeMs: 0, maxRecords: 10_000 })).rejects.toThrow('injected crash');
    failDeletes = false;
    const changed = [{ ...input[0]!, text: input[0]!.text + input[1]!.text.split('\n')[1] + '\n' }];
    const again = await archiveObjects(asInput(changed), { writer: new ArchiveWriter({ store, chunkRecords: 100 }) });
    expect(again.refused.map((r) => r.location)).toEqual(['/data/flows-0.log']);
    // The next compaction finishes the interrupted one; each record is then in the archive once.
    await compactArchive(store, { minAgeMs: 0, maxRecords: 10_000 });
    for (const counts of (await copies(store)).values()) {
      expect(counts.filter((n) => n !== undefined)).toHaveLength(150);
      expect(counts.every((n) => n === undefined || n === 1)).toBe(true);
    }
  });

  it('finds where a file went only through merged files that name it', async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowcut-rearchive-'));
    const store = new LocalStore(dir);
    const r = await archiveObjects(asInput(objects(2, 120, 7)), { writer: new ArchiveWriter({ store, chunkRecords: 100 }) });
    expect(r.files).toBeGreaterThan(2);
    const before: string[] = [];
    for await (const o of store.list(PARTITION_ROOT)) before.push(o.key);
    expect((await compactedInto(store, before)).size).toBe(0); // all still there
    await compactArchive(store, { minAgeMs: 0, maxRecords: 10_000 });
    const moved = await compactedInto(store, [...before, `${before[0]!.slice(0, before[0]!.lastIndexOf('/') + 1)}never-written.parquet`]);
    expect([...moved.keys()].sort()).toEqual(before.sort());
    expect(new Set(moved.values()).size).toBe(1);
  });
});
