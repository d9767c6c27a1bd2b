import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { InvalidArgumentError } from 'commander';
import { describe, expect, it, vi } from 'vitest';
import { main, parseSeeds } from '../../src/eval/nab/main.js';

const NAB = path.resolve(new URL('../../../shared/data/nab', import.meta.url).pathname);
// Two of the corpus' shortest files, so that a run takes seconds.
const FILES = ['realAWSCloudwatch/iio_us-east-1_i-a2eb1cd9_NetworkIn.csv', 'realAdExchange/exchange-4_cpc_results.csv'];

/** A NAB root holding only FILES, their windows and the profiles (in a temp dir; nothing is copied into the repo). */
function smallCorpus(): string {
  const root = mkdtempSync(path.join(tmpdir(), 'flowcut-nab-small-'));
  const windows = JSON.parse(readFileSync(path.join(NAB, 'labels/combined_windows.json'), 'utf8')) as Record<string, unknown>;
  mkdirSync(path.join(root, 'labels'));
  writeFileSync(path.join(root, 'labels/combined_windows.json'), JSON.stringify(Object.fromEntries(FILES.map((f) => [f, windows[f]]))));
  copyFileSync(path.join(NAB, 'profiles.json'), path.join(root, 'profiles.json'));
  for (const f of FILES) {
    mkdirSync(path.join(root, 'data', path.dirname(f)), { recursive: true });
    copyFileSync(path.join(NAB, 'data', f), path.join(root, 'data', f));
  }
  return root;
}

async function printed(argv: string[]): Promise<string> {
  const out = vi.spyOn(process.stdout, 'write').mockImplementation(() => true);
  try {
    await main(['node', 'eval:nab', ...argv]);
    return out.mock.calls.map((c) => String(c[0])).join('');
  } finally {
    out.mockRestore();
  }
}

const figures = (line: string | undefined) => (line ?? '').split('|').slice(2, 5).map(Number);

describe('eval:nab over several seeds', () => {
  it('reads seed lists and refuses what is not one', () => {
    expect(parseSeeds('1-5')).toEqual([1, 2, 3, 4, 5]);
    expect(parseSeeds('3, 1,7-8,3')).toEqual([3, 1, 7, 8]);
    expect(() => parseSeeds('5-3')).toThrow(InvalidArgumentError);
    expect(() => parseSeeds('x')).toThrow(/expected seeds such as 1-5 or 1,3,7/);
    expect(() => parseSeeds('1-2000')).toThrow(/at most 1000 seeds/);
  });

  it('runs each seed, reports each and their mean, and each seed as a run of its own gives', async () => {
    const root = smallCorpus();
    const out = path.join(root, 'out');
    const text = await printed(['--root', root, '--out', out, '--jobs', '1', '--seeds', '1-2']);
    const mean = text.split('\n').find((l) => l.startsWith('| flowcut (default configuration), mean of 2 seeds [computed]'));
    const perSeed = text.split('\n').find((l) => l.startsWith('flowcut (default configuration), per seed'));
    const each = [...(perSeed ?? '').matchAll(/(\d+): ([\d.]+) \/ ([\d.]+) \/ ([\d.]+)/g)].map((m) => ({ seed: Number(m[1]), f: [m[2], m[3], m[4]].map(Number) }));
    expect(each.map((e) => e.seed)).toEqual([1, 2]);
    // The seeds differ on these files, so a run that ignored them would show here and below.
    expect(each[0]?.f).not.toEqual(each[1]?.f);
    const means = figures(mean);
    for (let k = 0; k < 3; k++) expect(means[k]).toBeCloseTo(((each[0]?.f[k] as number) + (each[1]?.f[k] as number)) / 2, 1);
    expect(existsSync(path.join(out, 'seed-1', 'flowcut')) && existsSync(path.join(out, 'seed-2', 'flowcut'))).toBe(true);

    for (const { seed, f } of each) {
      const alone = await printed(['--root', root, '--out', path.join(root, `alone-${seed}`), '--jobs', '1', '--seed', String(seed)]);
      const line = alone.split('\n').find((l) => l.startsWith('| flowcut (default configuration) [computed]'));
      expect(figures(line)).toEqual(f);
    }
  });

  it('reports the mean over seeds 1-5 when told neither --seed nor --seeds', async () => {
    const root = smallCorpus();
    const text = await printed(['--root', root, '--out', path.join(root, 'out'), '--jobs', '2']);
    expect(text).toContain('| flowcut (default configuration), mean of 5 seeds [computed]');
    const perSeed = text.split('\n').find((l) => l.startsWith('flowcut (default configuration), per seed'));
    expect([...(perSeed ?? '').matchAll(/(\d+): [\d.]+ \//g)].map((m) => Number(m[1]))).toEqual([1, 2, 3, 4, 5]);
  });
});
