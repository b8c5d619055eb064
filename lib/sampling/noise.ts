// Seeded Gaussian noise from a portable PRNG, so a seed gives the same latent on every platform
// and in every language: xoshiro128** seeded through splitmix32, Box-Muller on pairs of uniforms.
//
//   state s0..s3 = four successive splitmix32 outputs of `seed` (32-bit);
//   uniform u = (next() >>> 8) / 2^24 + 2^-25  (in (0, 1), 24 bits);
//   for each pair (u1, u2): r = sqrt(−2 ln u1), z0 = r cos(2π u2), z1 = r sin(2π u2), in double,
//   stored as float32 in order z0, z1, z0, z1, ...

function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
}

export class Xoshiro128 {
  #s: Uint32Array;

  constructor(seed: number) {
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`seed must be an integer in [0, 2^32), got ${seed}`);
    const sm = splitmix32(seed);
    this.#s = Uint32Array.from([sm(), sm(), sm(), sm()]);
  }

  next(): number {
    const s = this.#s;
    const result = Math.imul(rotl(Math.imul(s[1]!, 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1]! << 9) >>> 0;
    s[2]! ^= s[0]!;
    s[3]! ^= s[1]!;
    s[1]! ^= s[2]!;
    s[0]! ^= s[3]!;
    s[2]! ^= t;
    s[3] = rotl(s[3]!, 11);
    return result;
  }

  uniform(): number {
    return (this.next() >>> 8) / 16777216 + 1 / 33554432;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Standard normal samples drawn in turns from one generator (each turn as gaussianNoise draws them). */
export class GaussianStream {
  readonly #rng: Xoshiro128;

  constructor(seed: number) {
    this.#rng = new Xoshiro128(seed);
  }

  /** The next n samples (float32); an odd n leaves the last pair's second sample unused. */
  next(n: number): Float32Array {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i += 2) {
      const r = Math.sqrt(-2 * Math.log(this.#rng.uniform()));
      const a = 2 * Math.PI * this.#rng.uniform();
      out[i] = r * Math.cos(a);
      if (i + 1 < n) out[i + 1] = r * Math.sin(a);
    }
    return out;
  }
}

/** n standard normal samples (float32) from `seed`. */
export function gaussianNoise(seed: number, n: number): Float32Array {
  return new GaussianStream(seed).next(n);
}
