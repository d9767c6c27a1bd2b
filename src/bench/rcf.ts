/**
 * Random Cut Forest benchmark: one core, sample size 256, score-then-update
 * per point after warm-up, on seeded random-walk-plus-noise data.
 *
 * Run with `npm run bench:rcf` (node --expose-gc so heap figures are real).
 */
import { DiVector } from '../rcf/divector.js';
import { RandomCutForest, type ForestOptions } from '../rcf/forest.js';
import { Random } from '../rcf/random.js';

interface Case {
  name: string;
  options: ForestOptions;
  attribution: boolean;
  /** AWS Java reference figures from the issue, for comparison. */
  refMicros: number;
  refBytes?: number;
}

const WARMUP = 3000;
const MEASURED = 20000;

/** Each feature is a random walk (slow level) plus Gaussian-ish noise, with feature-specific scales. */
function makeData(dimensions: number, n: number, seed: number): Float64Array[] {
  const rng = new Random(seed);
  const level = new Float64Array(dimensions);
  const scale = Float64Array.from({ length: dimensions }, (_, i) => 1 + 10 * i);
  const out: Float64Array[] = [];
  for (let t = 0; t < n; t++) {
    const p = new Float64Array(dimensions);
    for (let d = 0; d < dimensions; d++) {
      level[d]! += (rng.nextDouble() - 0.5) * 0.1 * scale[d]!;
      // Sum of three uniforms: cheap, bell-shaped noise.
      const noise = rng.nextDouble() + rng.nextDouble() + rng.nextDouble() - 1.5;
      p[d] = level[d]! + noise * scale[d]! + 0.5 * scale[d]! * Math.sin(t / 50 + d);
    }
    out.push(p);
  }
  return out;
}

/** Full GC, repeated across event-loop turns so freed ArrayBuffer backing stores are really released. */
async function gc(): Promise<void> {
  const g = (globalThis as { gc?: () => void }).gc;
  for (let i = 0; i < 3; i++) {
    g?.();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

function heapBytes(): number {
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function run(c: Case): Promise<{ micros: number; wall: number; bytes: number; heap: number; checksum: number }> {
  const data = makeData(c.options.dimensions, WARMUP + MEASURED, 12345);
  await gc();
  const before = heapBytes();
  const forest = new RandomCutForest(c.options);
  for (let i = 0; i < WARMUP; i++) forest.update(data[i]!);
  const attr = new DiVector(forest.shingledDimensions);
  let checksum = 0;
  const cpu0 = process.cpuUsage();
  const start = process.hrtime.bigint();
  for (let i = WARMUP; i < WARMUP + MEASURED; i++) {
    const p = data[i]!;
    if (c.attribution) {
      forest.attribution(p, attr);
      checksum += attr.total();
      forest.update(p);
    } else {
      checksum += forest.scoreThenUpdate(p);
    }
  }
  const wall = Number(process.hrtime.bigint() - start) / 1e3;
  const cpu = process.cpuUsage(cpu0);
  await gc();
  const heap = heapBytes() - before - attr.high.byteLength - attr.low.byteLength;
  // Keep the input alive up to here, or its release would be subtracted from the forest's footprint.
  checksum += data.length * 0;
  // CPU time of this (single-threaded) process is robust to other load on the
  // machine; wall time is printed too so the two can be compared.
  return { micros: (cpu.user + cpu.system) / MEASURED, wall: wall / MEASURED, bytes: forest.byteLength(), heap, checksum };
}

const base = { sampleSize: 256, seed: 7 };
const cases: Case[] = [
  { name: '(a) 50 trees, 1-d', options: { ...base, dimensions: 1, numberOfTrees: 50 }, attribution: false, refMicros: 23 },
  {
    name: '(b) 50 trees, 6x shingle 4',
    options: { ...base, dimensions: 6, shingleSize: 4, numberOfTrees: 50 },
    attribution: false,
    refMicros: 93,
    refBytes: 2.9e6,
  },
  {
    name: '(c) (b) + attribution',
    options: { ...base, dimensions: 6, shingleSize: 4, numberOfTrees: 50 },
    attribution: true,
    refMicros: 267,
  },
  {
    name: '(d) 100 trees, 16-d',
    options: { ...base, dimensions: 16, numberOfTrees: 100 },
    attribution: false,
    refMicros: 165,
    refBytes: 4.9e6,
  },
];

const mb = (b: number): string => (b / 1e6).toFixed(2) + ' MB';
const pad = (s: string, n: number): string => s.padEnd(n);
const lpad = (s: string, n: number): string => s.padStart(n);

const noDecay = process.argv.includes('--no-decay');
const minMass = process.argv.find((a) => a.startsWith('--min-mass='))?.slice(11);
const only = process.argv.find((a) => a.startsWith('--case='))?.slice(7);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
if (!Number.isInteger(rounds) || rounds < 1) {
  console.error(`BENCH_ROUNDS must be a positive integer, got ${JSON.stringify(process.env.BENCH_ROUNDS)}`);
  process.exit(2);
}
const selected = cases.filter((c) => !only || c.name.startsWith(`(${only})`));
for (const c of selected) {
  if (noDecay) c.options.timeDecay = 0;
  if (minMass) c.options.boxCacheMinMass = Number(minMass);
}
console.log(`RCF benchmark: sample 256, score then update, ${WARMUP} warm-up + ${MEASURED} timed points per case, node ${process.version}`);
console.log(`time decay: ${noDecay ? 'none (worst case for memory)' : 'default (timeDecay = 10 x sampleSize)'}; gc exposed: ${typeof (globalThis as { gc?: unknown }).gc === 'function'}`);
console.log(`${rounds} rounds (BENCH_ROUNDS), cases interleaved round by round so a busy machine slows them alike; figures are per-case medians`);
console.log('');
// Each round runs every case once, with a fresh forest on the same data.
const results = new Map<Case, Awaited<ReturnType<typeof run>>[]>();
for (let round = 0; round < rounds; round++) {
  for (const c of selected) {
    const r = await run(c);
    results.set(c, [...(results.get(c) ?? []), r]);
  }
}
const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
};
console.log(
  pad('case', 30) + lpad('cpu us/pt', 10) + lpad('range', 14) + lpad('wall us/pt', 11) + lpad('points/s', 11) + lpad('arrays', 11) + lpad('heap', 11) + '   | ' + lpad('ref us', 7) + lpad('ref mem', 10),
);
for (const c of selected) {
  const rs = results.get(c)!;
  const micros = median(rs.map((r) => r.micros));
  const lo = Math.min(...rs.map((r) => r.micros));
  const hi = Math.max(...rs.map((r) => r.micros));
  const last = rs[rs.length - 1]!;
  console.log(
    pad(c.name, 30) +
      lpad(micros.toFixed(1), 10) +
      lpad(`${lo.toFixed(1)}-${hi.toFixed(1)}`, 14) +
      lpad(median(rs.map((r) => r.wall)).toFixed(1), 11) +
      lpad(Math.round(1e6 / micros).toLocaleString('en-US'), 11) +
      lpad(mb(last.bytes), 11) +
      lpad(mb(median(rs.map((r) => r.heap))), 11) +
      '   | ' +
      lpad(String(c.refMicros), 7) +
      lpad(c.refBytes ? mb(c.refBytes) : '-', 10) +
      `   (checksum ${last.checksum.toFixed(3)})`,
  );
}
console.log('');
console.log('cpu us/pt = median over rounds of process CPU time per point (range: fastest-slowest round); arrays = sum of');
console.log('typed-array byteLengths of the forest; heap = heapUsed + arrayBuffers growth after gc, measured after constructing');
console.log('the forest and running all points through it (the forest is live at that moment), median over rounds.');
