import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FlowDecoder } from '../../src/decode/decoder.js';
import type { FlowBatch } from '../../src/flowlog/batch.js';
import { openArchiveView } from '../../src/archive/query.js';
import { LocalStore } from '../../src/archive/store.js';

const here = dirname(fileURLToPath(import.meta.url));
const CHILD = join(here, 'crash-child.mjs');
const SEED = 7;
const PER_SHARD = 500;

interface ChildModule {
  generateRecords(seed: number, perShard: number): import('../../src/sources/types.js').KinesisRecordIn[];
}

interface Kill {
  /** Count this many progress lines ('D': flush durable, 'F': checkpointed) first; 0: time from start. */
  readonly after: { line: 'D' | 'F'; count: number } | undefined;
  readonly delayMs: number;
}

/**
 * Runs the child; with `kill`, sends SIGKILL `delayMs` after the chosen progress line (or after
 * start). Kills thus land at random points while records flow: mid-decode, mid-flush, between a
 * durable flush and its checkpoint, mid-checkpoint.
 */
function runChild(dir: string, checkpoint: string, maxAgeMs: number, kill?: Kill): Promise<{ code: number | null; signal: string | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, dir, checkpoint, String(SEED), String(PER_SHARD), String(maxAgeMs)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let timer: NodeJS.Timeout | undefined;
    const arm = (): void => {
      timer ??= setTimeout(() => child.kill('SIGKILL'), kill!.delayMs);
    };
    if (kill && kill.after === undefined) arm();
    child.stdout.on('data', (b: Buffer) => {
      out += b;
      const after = kill?.after;
      if (after && out.split(`${after.line}\n`).length - 1 >= after.count) arm();
    });
    child.stderr.on('data', (b: Buffer) => (out += b));
    child.once('exit', (code, signal) => {
      if (timer) clearTimeout(timer);
      resolve({ code, signal, out });
    });
  });
}

/** The multiset of records the input holds, as `location|index|srcaddr|dstaddr|bytes|start`. */
function expectedRecords(mod: ChildModule): string[] {
  const keys: string[] = [];
  const decoder = new FlowDecoder({
    batch: (b: FlowBatch) => {
      for (let r = 0; r < b.length; r++) {
        keys.push([b.origins[r]!.location, b.subIndex[r], b.get(r, 'srcaddr'), b.get(r, 'dstaddr'), b.get(r, 'bytes'), b.get(r, 'start')].join('|'));
      }
    },
    reject: () => {},
  });
  for (const rec of mod.generateRecords(SEED, PER_SHARD)) decoder.decodeKinesisRecord(rec);
  decoder.flush();
  return keys.sort();
}

describe('archive under SIGKILL', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowcut-crash-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it.skipIf(!existsSync(join(here, '../../dist/archive/writer.js')))('holds every input record exactly once after random kills and a final run', async () => {
    const archive = join(dir, 'archive');
    const checkpoint = join(dir, 'checkpoint.json');
    const kills: string[] = [];
    const rnd = (n: number): number => Math.floor(Math.random() * n);
    for (let i = 0; i < 12; i++) {
      // File boundaries differ from run to run: the flush age changes every time.
      const maxAgeMs = 1 + rnd(30);
      const kill: Kill =
        i % 3 === 0 ? { after: undefined, delayMs: 300 + rnd(1500) }
        : i % 3 === 1 ? { after: { line: 'D', count: 1 + rnd(6) }, delayMs: rnd(4) }
        : { after: { line: 'F', count: 1 + rnd(6) }, delayMs: rnd(maxAgeMs + 10) };
      const r = await runChild(archive, checkpoint, maxAgeMs, kill);
      kills.push(r.signal ?? `exit ${r.code}`);
      if (r.code !== null && r.code !== 0) throw new Error(`child failed: ${r.out}`);
    }
    // At least some runs must really have been killed mid-way, or the test proves nothing.
    expect(kills.filter((k) => k === 'SIGKILL').length).toBeGreaterThanOrEqual(8);
    const final = await runChild(archive, checkpoint, 20);
    expect(final.out).toContain('DONE');

    const mod = (await import(CHILD)) as ChildModule;
    const expected = expectedRecords(mod);
    const view = await openArchiveView(new LocalStore(archive));
    try {
      expect(view.skipped).toEqual([]);
      const rows = (
        await view.connection.runAndReadAll(
          // NULL is '' on both sides (NODATA records have no addresses or bytes).
          `SELECT concat_ws('|', ${['source_location', 'sub_index', 'srcaddr', 'dstaddr', 'bytes', 'start'].map((c) => `coalesce(${c}::VARCHAR, '')`).join(', ')}) AS k FROM flows`,
        )
      ).getRowsJS().map((r) => String(r[0]));
      rows.sort();
      expect(rows.length).toBe(expected.length);
      expect(rows).toEqual(expected);
    } finally {
      await view.close();
    }
  }, 120_000);
});
