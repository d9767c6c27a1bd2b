import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { loadCorpus } from '../../src/eval/nab/corpus.js';
import { evaluateDetector } from '../../src/eval/nab/evaluate.js';

// ../shared beside the repository root (this file is test/eval/ inside it).
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'shared', 'data', 'nab');
const byProfile = (r: { profile: string; normalised: number }[]) =>
  Object.fromEntries(r.map((p) => [p.profile, Number(p.normalised.toFixed(2))]));

describe.skipIf(!existsSync(root))('NAB scorer against published figures', () => {
  const corpus = loadCorpus(root);

  it('has the development half: 31 files, 57 windows', () => {
    expect(corpus.files.length).toBe(31);
    expect(corpus.windowCount).toBe(57);
  });

  it('reproduces Random Cut Forest (Kinesis Analytics): 52.00 / 38.28 / 60.98', () => {
    const r = evaluateDetector(corpus, path.join(root, 'results'), 'randomCutForest');
    expect(byProfile(r)).toEqual({ standard: 52.0, reward_low_FP_rate: 38.28, reward_low_FN_rate: 60.98 });
  });

  it('reproduces Numenta HTM: 71.21 / 64.99 / 75.87', () => {
    const r = evaluateDetector(corpus, path.join(root, 'results'), 'numenta');
    expect(byProfile(r)).toEqual({ standard: 71.21, reward_low_FP_rate: 64.99, reward_low_FN_rate: 75.87 });
  });
});
