import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DeadLetterSink } from './dead-letter.js';

const reject = (location: string) => ({ location, reason: 'bad', text: '' });
const kept = (path: string) => readFileSync(path, 'utf8').trim().split('\n').map((l) => (JSON.parse(l) as { location: string }).location);

/** A sink whose file exists (a first reject, r0, written): its handle can then be patched. */
async function sinkWithFile(): Promise<{ path: string; sink: DeadLetterSink }> {
  const path = join(mkdtempSync(join(tmpdir(), 'flowcut-dl-')), 'd.jsonl');
  const sink = new DeadLetterSink(path);
  sink.reject(reject('r0'));
  await sink.flush();
  return { path, sink };
}

/** The sink's open file, with its next `method` call failing once with `code`. */
function failOnce(sink: DeadLetterSink, method: 'appendFile' | 'datasync', code: string): void {
  const file = (sink as unknown as { file: FileHandle }).file;
  const real = file[method].bind(file) as (...a: unknown[]) => Promise<void>;
  let failed = false;
  (file as unknown as Record<string, unknown>)[method] = async (...args: unknown[]) => {
    if (!failed) {
      failed = true;
      throw Object.assign(new Error(code), { code });
    }
    return real(...args);
  };
}

describe('the dead-letter file of flowcut run', () => {
  it('resolves a flush only when every reject taken before it is on disk, also beside a flush that failed', async () => {
    const { path, sink } = await sinkWithFile();
    failOnce(sink, 'appendFile', 'ENOSPC');
    sink.reject(reject('A'));
    const first = sink.flush(); // e.g. the checkpoint timer's
    sink.reject(reject('B'));
    const second = sink.flush(); // e.g. a shard end's, at the same time
    const [a, b] = await Promise.allSettled([first, second]);
    expect(a.status).toBe('rejected');
    expect(b.status).toBe('fulfilled');
    expect(kept(path)).toEqual(['r0', 'A', 'B']);
  });

  it('writes many rejects in bounded appends, and after one fails writes only the rest again', async () => {
    const { path, sink } = await sinkWithFile();
    const file = (sink as unknown as { file: FileHandle }).file;
    const real = file.appendFile.bind(file) as (data: string) => Promise<void>;
    const sizes: number[] = [];
    (file as unknown as Record<string, unknown>).appendFile = async (data: string) => {
      sizes.push(data.length);
      if (sizes.length === 2) throw Object.assign(new Error('ENOSPC'), { code: 'ENOSPC' });
      return real(data);
    };
    const text = 'x'.repeat(4000);
    const locations = Array.from({ length: 6000 }, (_, i) => `r${i + 1}`);
    for (const location of locations) sink.reject({ ...reject(location), text });
    await expect(sink.flush()).rejects.toThrow('ENOSPC');
    await sink.flush();
    expect(kept(path)).toEqual(['r0', ...locations]);
    expect(sizes.length).toBeGreaterThanOrEqual(4);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(8 * 1024 * 1024);
  });

  it('creates its file (and directory) readable by the owner only: rejects hold whole payloads', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'flowcut-dl-')), 'rejects', 'd.jsonl');
    const sink = new DeadLetterSink(path);
    sink.reject(reject('r0'));
    await sink.close();
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(dirname(path)).mode & 0o777).toBe(0o700);
  });

  it('keeps a reject that arrives while a flush is writing, for the next flush', async () => {
    const { path, sink } = await sinkWithFile();
    const file = (sink as unknown as { file: FileHandle }).file;
    const real = file.appendFile.bind(file);
    (file as unknown as Record<string, unknown>).appendFile = async (data: string) => {
      sink.reject(reject('late')); // the pipeline decodes on while the sinks flush
      return real(data);
    };
    sink.reject(reject('A'));
    await sink.flush();
    (file as unknown as Record<string, unknown>).appendFile = real;
    await sink.flush();
    expect(kept(path)).toEqual(['r0', 'A', 'late']);
  });

  it('syncs again after a failed sync without writing the rejects twice', async () => {
    const { path, sink } = await sinkWithFile();
    failOnce(sink, 'datasync', 'EIO');
    sink.reject(reject('A'));
    await expect(sink.flush()).rejects.toThrow('EIO');
    await sink.close();
    expect(kept(path)).toEqual(['r0', 'A']);
  });
});
