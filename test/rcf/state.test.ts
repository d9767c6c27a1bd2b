import { describe, expect, test } from 'vitest';

const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => Buffer.compare(a, b) === 0;
import { RandomCutForest, RcfStateError, ThresholdedForest } from '../../src/rcf/index.js';
import { crc32 } from '../../src/rcf/bytes.js';
import { NODE_DIM, NODE_LEFT, NODE_MASS, NODE_RIGHT, NODE_SLOT } from '../../src/rcf/tree.js';
import { randomWalk } from './helpers.js';

const rows = randomWalk(2000, 3, 21);
const options = { dimensions: 3, shingleSize: 2, numberOfTrees: 40, sampleSize: 128, timeDecay: 400, seed: 8 };

describe('forest state', () => {
  test('a restored forest produces bitwise the same later scores as the uninterrupted run', () => {
    const original = new RandomCutForest(options);
    for (let i = 0; i < 1000; i++) original.update(rows[i]!);
    const state = original.toState();
    const restored = RandomCutForest.fromState(state);
    expect(restored.config).toEqual(original.config);
    for (let i = 1000; i < 2000; i++) {
      const a = original.scoreThenUpdate(rows[i]!);
      const b = restored.scoreThenUpdate(rows[i]!);
      expect(Object.is(a, b), `point ${i}: ${a} vs ${b}`).toBe(true);
    }
    expect(Array.from(restored.attribution([1, 2, 3]).high)).toEqual(Array.from(original.attribution([1, 2, 3]).high));
    // Same future, same state: the snapshots after the continued run are identical.
    expect(sameBytes(restored.toState(), original.toState())).toBe(true);
  });

  test('an empty forest and a forest mid-shingle round-trip', () => {
    const empty = new RandomCutForest({ dimensions: 2 });
    expect(sameBytes(RandomCutForest.fromState(empty.toState()).toState(), empty.toState())).toBe(true);
    const mid = new RandomCutForest({ dimensions: 1, shingleSize: 4 });
    mid.update([1]);
    mid.update([2]);
    const r = RandomCutForest.fromState(mid.toState());
    expect(r.pointsSeen).toBe(2);
    expect(r.entriesSeen).toBe(0);
    r.update([3]);
    mid.update([3]);
    expect(r.scoreThenUpdate([4])).toBe(mid.scoreThenUpdate([4]));
  });

  test('the thresholded forest round-trips with identical results', () => {
    const t = new ThresholdedForest({ ...options, zFactor: 2.5 });
    for (let i = 0; i < 800; i++) t.process(rows[i]!);
    const r = ThresholdedForest.fromState(t.toState());
    expect(r.options).toEqual(t.options);
    for (let i = 800; i < 1200; i++) {
      const a = t.process(rows[i]!);
      const b = r.process(rows[i]!);
      expect(b.score).toBe(a.score);
      expect(b.threshold).toBe(a.threshold);
      expect(b.isAnomaly).toBe(a.isAnomaly);
    }
  });

  describe('corrupt or foreign state is a clear RcfStateError', () => {
    const forest = new RandomCutForest(options);
    for (let i = 0; i < 300; i++) forest.update(rows[i]!);
    const good = forest.toState();

    const expectError = (bytes: Uint8Array, message: RegExp, read = RandomCutForest.fromState) => {
      let error: unknown;
      try {
        read(bytes);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(RcfStateError);
      expect((error as Error).message).toMatch(message);
    };
    /** Rewrites the trailing CRC so only the intended defect remains. */
    const reseal = (b: Uint8Array) => {
      new DataView(b.buffer).setUint32(b.length - 4, crc32(b, 0, b.length - 4), true);
      return b;
    };

    test('truncated', () => {
      expectError(good.slice(0, good.length - 10), /truncated/);
      expectError(good.slice(0, 3), /truncated/);
    });
    test('bad magic (foreign data)', () => {
      const b = good.slice();
      b[0] = 0x50;
      expectError(b, /magic/);
      expectError(new TextEncoder().encode('{"not":"a forest state"}'), /magic/);
    });
    test('a flipped bit fails the checksum', () => {
      const b = good.slice();
      b[Math.floor(b.length / 2)]! ^= 0x10;
      expectError(b, /checksum/);
    });
    test('a newer format version', () => {
      const b = good.slice();
      new DataView(b.buffer).setUint16(4, 3, true);
      expectError(reseal(b), /version 3 is newer/);
    });
    test('an older format version (whole-point store) is refused, not misread', () => {
      const b = good.slice();
      new DataView(b.buffer).setUint16(4, 1, true);
      expectError(reseal(b), /version 1 was written by an earlier flowcut/);
    });
    test('a forest state given to the thresholded forest reader', () => {
      expectError(good, /expected a ThresholdedForest/, ThresholdedForest.fromState as (b: Uint8Array) => unknown as never);
    });
    test('a configuration larger than the bytes that follow could hold, refused before anything is allocated for it', () => {
      // 65535 trees of sample 32767 would take tens of gigabytes; the state holds a few kilobytes.
      const b = good.slice();
      const view = new DataView(b.buffer);
      view.setUint32(12 + 8, 65535, true);
      view.setUint32(12 + 12, 32767, true);
      expectError(reseal(b), /claims 65535 trees of sample size 32767, which take at least \d+ bytes; \d+ remain/);
    });
    test('trailing bytes', () => {
      const b = new Uint8Array(good.length + 2);
      b.set(good);
      expectError(b, /trailing/);
    });

    /** A state written from a forest damaged in memory: well-formed bytes, inconsistent content. */
    const damaged = (damage: (f: RandomCutForest) => void): Uint8Array => {
      const f = RandomCutForest.fromState(good);
      damage(f);
      return f.toState();
    };
    const liveLeaf = (f: RandomCutForest): number => f.trees[0]!.leafMass.findIndex((m) => m > 0);
    test.each([
      ['a leaf naming a point past the store', (f: RandomCutForest) => (f.trees[0]!.leafPoint[liveLeaf(f)] = 1_000_000), /leaf point/],
      ['a leaf naming a released point', (f: RandomCutForest) => {
        const t = f.trees[0]!;
        const free = Array.from(f.store.refCounts.subarray(0, f.store.nextRow)).findIndex((c) => c === 0);
        t.leafPoint[liveLeaf(f)] = free;
      }, /leaf point|reference counts/],
      ['a cut dimension out of range', (f: RandomCutForest) => (f.trees[1]!.nodes[(f.trees[1]!.root << 3) + NODE_DIM] = 99), /cut dimension/],
      ['a child reference out of range', (f: RandomCutForest) => (f.trees[2]!.nodes[(f.trees[2]!.root << 3) + NODE_LEFT] = 60000), /tree reference/],
      ['a cycle', (f: RandomCutForest) => {
        const t = f.trees[3]!;
        t.nodes[(t.root << 3) + NODE_RIGHT] = t.root;
      }, /reached twice/],
      ['a wrong node mass', (f: RandomCutForest) => {
        const t = f.trees[4]!;
        t.nodes[(t.root << 3) + NODE_MASS]!++;
      }, /node mass/],
      ['a box slot past the pool', (f: RandomCutForest) => (f.trees[5]!.nodes[(f.trees[5]!.root << 3) + NODE_SLOT] = 4000), /box slot/],
      ['a reference count that does not match the samplers', (f: RandomCutForest) => f.store.refCounts[f.samplers[0]!.points[0]!]!++, /reference counts/],
    ])('%s', (_name, damage, message) => {
      expectError(damaged(damage), message);
    });
  });
});
