// Seeded fuzzing of the public op surface (through its TypeScript checks): random shapes, dtypes,
// options and disposed tensors. Each call either succeeds or throws TypeError / RangeError /
// Error with a message; the process never crashes. The raw addon below these checks (strided
// views, detached buffers, huge numbers, pool growth) is fuzzed in binding.fuzz.test.ts.
import { describe, expect, it } from 'vitest';

import { ops } from '../../lib/ops/index.js';
import { Xoshiro128 } from '../../lib/sampling/noise.js';
import { empty, tensor, type DType, type Tensor } from '../../lib/tensor.js';

const DTYPES: DType[] = ['f32', 'f32', 'f32', 'bf16', 'i32', 'u8'];

describe('op argument fuzz', () => {
  it('survives 3000 random calls', () => {
    const rng = new Xoshiro128(7);
    const pick = <T>(xs: readonly T[]): T => xs[rng.next() % xs.length]!;
    const dim = () => pick([0, 1, 2, 3, 5, 8, 16, 33]);
    const randomTensor = (): Tensor => {
      const rank = 1 + (rng.next() % 4);
      const shape = Array.from({ length: rank }, dim);
      const t = empty(shape, { dtype: pick(DTYPES) });
      if (rng.next() % 10 === 0) t.dispose();
      return t;
    };
    const junk = (): unknown => pick([undefined, null, 3, 'x', {}, [], randomTensor(), randomTensor()]);
    const calls: ((...a: unknown[]) => unknown)[] = Object.values(ops).filter((f): f is (...a: unknown[]) => unknown => typeof f === 'function');
    const counts = { ok: 0, TypeError: 0, RangeError: 0, Error: 0 };
    for (let i = 0; i < 3000; i++) {
      const f = pick(calls);
      const args = Array.from({ length: 1 + (rng.next() % 4) }, () => (rng.next() % 3 === 0 ? junk() : randomTensor()));
      if (rng.next() % 4 === 0) args.push({ out: randomTensor(), scale: pick([0, -1, NaN, 0.5]), causal: true, keyMask: randomTensor(), eps: pick([-1, 1e-6]) });
      try {
        f(...args);
        counts.ok++;
      } catch (e) {
        const err = e as Error;
        expect(err).toBeInstanceOf(Error);
        expect(err.message.length).toBeGreaterThan(5);
        counts[err instanceof TypeError ? 'TypeError' : err instanceof RangeError ? 'RangeError' : 'Error']++;
      }
    }
    console.log(`op fuzz: ${JSON.stringify(counts)}`);
    expect(counts.TypeError + counts.RangeError).toBeGreaterThan(1000);
  });

  it('refuses absurd sizes before allocating', () => {
    expect(() => empty([2 ** 40, 2 ** 40])).toThrow(RangeError);
    expect(() => empty([-1])).toThrow(RangeError);
    expect(() => tensor(new Float32Array(4), [2, 3])).toThrow(RangeError);
  });
});
