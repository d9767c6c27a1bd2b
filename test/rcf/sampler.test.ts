import { describe, expect, test } from 'vitest';
import { Random } from '../../src/rcf/random.js';
import { ACCEPTED_NO_EVICTION, REJECTED, Sampler } from '../../src/rcf/sampler.js';

/** Streams 0..n-1 through `reps` independent samplers; returns how often each position ended up sampled. */
function inclusionCounts(n: number, capacity: number, lambda: number, reps: number): Float64Array {
  const counts = new Float64Array(n);
  let badEviction = false;
  for (let r = 0; r < reps; r++) {
    const rng = new Random(1000 + r);
    const s = new Sampler(capacity, lambda);
    for (let t = 0; t < n; t++) {
      const d = s.offer(t, rng);
      if (d === REJECTED) continue;
      s.accept(t);
      if (!(d === ACCEPTED_NO_EVICTION || d < t)) badEviction = true;
    }
    expect(s.size).toBe(capacity);
    expect(new Set(s.points).size).toBe(capacity);
    for (let i = 0; i < s.size; i++) counts[s.points[i]!]!++;
  }
  expect(badEviction).toBe(false);
  return counts;
}

function binned(counts: Float64Array, bins: number): number[] {
  const out = new Array<number>(bins).fill(0);
  const w = counts.length / bins;
  counts.forEach((c, i) => (out[Math.floor(i / w)]! += c));
  return out;
}

describe('time-decayed reservoir sampler', () => {
  test('with λ = 0 it is a uniform reservoir (chi-square over 10 stream bins)', () => {
    const n = 2000;
    const capacity = 100;
    const reps = 300;
    const bins = binned(inclusionCounts(n, capacity, 0, reps), 10);
    const expected = (capacity * reps) / 10;
    const chi2 = bins.reduce((acc, b) => acc + (b - expected) ** 2 / expected, 0);
    // 9 degrees of freedom: P(chi2 > 33.7) = 1e-4. A sampler biased even 10%
    // towards recent or old points gives chi2 in the hundreds.
    expect(chi2).toBeLessThan(33.7);
  });

  test('with λ > 0 recent points dominate, as weights e^{λt} predict', () => {
    const n = 2000;
    const bins = binned(inclusionCounts(n, 100, 1 / 200, 100), 10);
    const total = bins.reduce((a, b) => a + b, 0);
    // Weights e^{t/200}: the last 200 points carry 63% of the weight and sampling
    // without replacement of 100 draws concentrates further; the first half
    // carries e^-5 ≈ 0.7% of it.
    expect(bins[9]! / total).toBeGreaterThan(0.5);
    expect((bins[0]! + bins[1]! + bins[2]! + bins[3]! + bins[4]!) / total).toBeLessThan(0.02);
    // Monotone in age (over bins, allowing no inversions at this sample size).
    for (let i = 1; i < 10; i++) expect(bins[i]!).toBeGreaterThanOrEqual(bins[i - 1]!);
  });
});

describe('rejection without the second logarithm', () => {
  /** The sampler's decision rule written out directly: key ln(-ln u) - λt, keep the smallest. */
  class ExactSampler {
    readonly keys: number[] = [];
    constructor(
      readonly capacity: number,
      readonly lambda: number,
    ) {}
    offer(t: number, rng: Random): { accepted: boolean; key: number } {
      const key = Math.log(-Math.log(rng.nextOpenDouble())) - this.lambda * t;
      if (this.keys.length < this.capacity) return { accepted: true, key };
      return { accepted: key < Math.max(...this.keys), key };
    }
  }

  test.each([
    [0, 0],
    [1 / 5, 0],
    [1 / 2560, 0],
    [1 / 2560, 1e9],
    [1 / 2560, 1e12],
    [1 / 100000, 3e13],
  ])('decides every offer as the exact comparison does (λ = %f, sequence from %d)', (lambda, start) => {
    const s = new Sampler(16, lambda);
    const exact = new ExactSampler(16, lambda);
    const rngA = new Random(77);
    const rngB = new Random(77);
    let accepted = 0;
    for (let i = 0; i < 20000; i++) {
      const t = start + i;
      const d = s.offer(t, rngA);
      const e = exact.offer(t, rngB);
      expect(d !== REJECTED).toBe(e.accepted);
      if (d === REJECTED) continue;
      accepted++;
      // The exact sampler evicts its largest key, as the heap does.
      if (exact.keys.length === exact.capacity) exact.keys.splice(exact.keys.indexOf(Math.max(...exact.keys)), 1);
      exact.keys.push(e.key);
      s.accept(i);
      expect(Math.max(...s.weights.subarray(0, s.size))).toBe(Math.max(...exact.keys));
    }
    // Enough of both outcomes for the comparison to mean something.
    expect(accepted).toBeGreaterThan(16);
    expect(accepted).toBeLessThan(20000);
  });
});

describe('the carried rejection bound', () => {
  /** A generator that returns the given values from nextOpenDouble, in turn. */
  const scripted = (values: number[]): Random => {
    let i = 0;
    return { nextOpenDouble: () => values[i++ % values.length]!, nextDouble: () => values[i++ % values.length]! } as unknown as Random;
  };

  test.each([0, 1 / 2560, 1 / 5])('an offer just inside the bound is decided by the exact rule, never by the shortcut (λ = %f)', (lambda) => {
    for (const t0 of [1, 1e6, 1e12]) {
      const s = new Sampler(2, lambda);
      // Fill with two keys, so the root (largest key) is known.
      const fill = scripted([0.3, 0.6]);
      for (const t of [t0, t0 + 1]) {
        expect(s.offer(t, fill)).toBe(ACCEPTED_NO_EVICTION);
        s.accept(t);
      }
      const root = Math.max(...s.weights.subarray(0, 2));
      // Several steps after the last accept, so the bound has been carried, not recomputed.
      for (let step = 2; step < 40; step++) {
        const t = t0 + step;
        const bound = Math.exp(root + lambda * t);
        // -ln u = e: just below the bound the exact rule accepts (its key is below the root);
        // a shortcut with too small a margin would reject it.
        for (const factor of [1 - 1e-9, 1 - 1e-12, 1 + 1e-12]) {
          const u = Math.exp(-bound * factor);
          const exactKey = Math.log(-Math.log(u)) - lambda * t;
          const decision = s.offer(t, scripted([u]));
          expect(decision !== REJECTED, `t=${t} factor=${factor}`).toBe(exactKey < root);
        }
      }
    }
  });

  test('a sampler filled at sequence 0 still decides sequence 0 by the exact rule', () => {
    const s = new Sampler(2, 0);
    const fill = scripted([0.3, 0.6]);
    for (let i = 0; i < 2; i++) {
      s.offer(0, fill);
      s.accept(i);
    }
    // u close to 1: a tiny -ln u, so a key far below the root: the exact rule accepts.
    expect(s.offer(0, scripted([0.999]))).not.toBe(REJECTED);
  });
});
