/**
 * xoshiro128** — a small, fast, seedable PRNG on 32-bit integer arithmetic.
 *
 * Each tree owns one stream so trees stay independent and a forest run is a
 * pure function of (seed, input). The whole state is four uint32 words, which
 * is what the state format serialises.
 */
export class Random {
  /** The generator state; exposed as a typed array so it can be snapshotted. */
  readonly state: Uint32Array;

  constructor(seed: number) {
    this.state = new Uint32Array(4);
    // splitmix32 expands one seed into four well-mixed words; xoshiro must not
    // start from the all-zero state, which splitmix32 cannot produce for all 4.
    let s = seed >>> 0;
    for (let i = 0; i < 4; i++) {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      this.state[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.state[0]! | this.state[1]! | this.state[2]! | this.state[3]!) === 0) this.state[0] = 1;
  }

  /** Next uniform 32-bit unsigned integer. */
  nextUint32(): number {
    const s = this.state;
    const s0 = s[0]!;
    const s1 = s[1]!;
    const s2 = s[2]!;
    const s3 = s[3]!;
    const m = Math.imul(s1, 5);
    const result = Math.imul((m << 7) | (m >>> 25), 9) >>> 0;
    const t = s1 << 9;
    const n2 = s2 ^ s0;
    const n3 = s3 ^ s1;
    s[1] = s1 ^ n2;
    s[0] = s0 ^ n3;
    s[2] = n2 ^ t;
    s[3] = (n3 << 11) | (n3 >>> 21);
    return result;
  }

  /** Uniform double in [0, 1) with 53 random bits. */
  nextDouble(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /** Uniform double in the open interval (0, 1); safe for `Math.log`. */
  nextOpenDouble(): number {
    const hi = this.nextUint32() >>> 5;
    const lo = this.nextUint32() >>> 6;
    return (hi * 67108864 + lo + 0.5) / 9007199254740992;
  }
}

/** Derives the per-tree seeds from the forest seed (splitmix32 sequence). */
export function deriveSeeds(seed: number, count: number): Uint32Array {
  const out = new Uint32Array(count);
  let s = (seed ^ 0x5bd1e995) >>> 0;
  for (let i = 0; i < count; i++) {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 15), 0x2c1b3c6d);
    z = Math.imul(z ^ (z >>> 12), 0x297a2d39);
    out[i] = (z ^ (z >>> 15)) >>> 0;
  }
  return out;
}
