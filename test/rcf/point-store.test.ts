import { describe, expect, test } from 'vitest';
import { RandomCutForest } from '../../src/rcf/forest.js';
import { PointStore } from '../../src/rcf/point-store.js';
import { randomWalk, storeProblems } from './helpers.js';

/** The point at `handle`, as plain numbers. */
const pointAt = (s: PointStore, handle: number): number[] => Array.from(s.values.subarray(s.offset(handle), s.offset(handle) + s.dimensions));

describe('shingle-aware point store', () => {
  test('a point that continues the newest one by one input takes one row; any other takes a whole shingle', () => {
    const s = new PointStore(2, 3, 100, 64);
    const a = s.add(Float32Array.of(1, 2, 3, 4, 5, 6));
    const b = s.add(Float32Array.of(3, 4, 5, 6, 7, 8));
    expect(b).toBe(a + 1);
    expect(s.nextRow).toBe(4);
    expect(pointAt(s, a)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(pointAt(s, b)).toEqual([3, 4, 5, 6, 7, 8]);
    // Same values except the sign of a zero: not a continuation (rows are compared bitwise).
    const c = s.add(Float32Array.of(5, 6, 7, 8, -0, 1));
    const d = s.add(Float32Array.of(7, 8, 0, 1, 2, 2));
    expect(d).toBe(c + 3);
    expect(Object.is(pointAt(s, c)[4], -0)).toBe(true);
    expect(pointAt(s, d)).toEqual([7, 8, 0, 1, 2, 2]);
  });

  test('compaction keeps every referenced point and the newest one, and reports where each moved', () => {
    const s = new PointStore(1, 2, 50, 8);
    const maps: Int32Array[] = [];
    s.onCompact = (m) => maps.push(m);
    const live = new Map<number, number[]>();
    // Consecutive shingles of a counter; every third point is kept (referenced).
    for (let i = 0; i < 40; i++) {
      const h = s.add(Float32Array.of(i, i + 1));
      // A compaction inside add moved the points referenced so far (the new handle is already final).
      for (const m of maps.splice(0)) {
        const moved = new Map<number, number[]>();
        for (const [old, p] of live) {
          expect(m[old]).toBeGreaterThanOrEqual(0);
          moved.set(m[old]!, p);
        }
        live.clear();
        for (const [k, v] of moved) live.set(k, v);
      }
      if (i % 3 === 0) {
        s.addRef(h);
        live.set(h, [i, i + 1]);
      }
      for (const [handle, p] of live) expect(pointAt(s, handle)).toEqual(p);
    }
    expect(s.size).toBe(live.size);
    // 14 kept points of 2 rows (none overlap: two gaps between kept ones) plus the newest and one
    // growth step of 16 rows; keeping every point's rows would take 41.
    expect(s.capacity).toBeLessThanOrEqual(30 + 2 + 16);
  });

  test('a forest with shingle 4 stores about one input per point, and its references stay exact', () => {
    const f = new RandomCutForest({ dimensions: 6, shingleSize: 4, numberOfTrees: 20, sampleSize: 64, seed: 2 });
    for (const row of randomWalk(3000, 6, 3)) f.update(row);
    expect(storeProblems(f)).toEqual([]);
    // Released points wait for the next compaction; after it, only live rows remain.
    f.store.compact();
    expect(storeProblems(f)).toEqual([]);
    expect(f.score(randomWalk(1, 6, 4)[0]!)).toBeGreaterThan(0);
    // Whole points would take 4 rows each; shared windows take 1 per point plus 3 per gap between
    // sampled points (this decay keeps a sparse tail of older points, hence many gaps).
    expect(f.store.nextRow).toBeLessThan(0.6 * 4 * f.store.size);
  });
});
