// Residual distance and motion score against double-precision references, on every ISA: L1/L2,
// the fused cache refresh, strided rows, frame strides, and results that do not depend on the
// thread count.
import { describe, expect, it } from 'vitest';

import { ops, runtime, tensor, zeros, type DType } from '../../lib/index.js';
import { binding } from '../../lib/native/loader.js';
import { bf16Round, describeEachIsa, expectClose, uniform, uniformAs } from './isa-cases.js';

// Sums of up to ~10^5 float terms accumulated in double: the float rounding of each term dominates.
// bf16 inputs are widened exactly and summed the same way, so the bound is the same for them
// (the reference takes the bf16 values).
const SUM_TOL = { atol: 1e-9, rtol: 1e-6 };

function distanceRef(cache: ArrayLike<number>, fresh: ArrayLike<number>, norm: 'l1' | 'l2') {
  let num = 0;
  let den = 0;
  for (let i = 0; i < cache.length; i++) {
    const d = cache[i]! - fresh[i]!;
    num += norm === 'l1' ? Math.abs(d) : d * d;
    den += norm === 'l1' ? Math.abs(cache[i]!) : cache[i]! ** 2;
  }
  return norm === 'l1' ? { num, den } : { num: Math.sqrt(num), den: Math.sqrt(den) };
}

function motionRef(r: Float32Array, B: number, T: number, S: number, C: number, strides: number[]): number[] {
  const frame = S * C;
  return strides.map((s) => {
    let num = 0;
    let den = 0;
    for (let b = 0; b < B; b++)
      for (let f = 0; f + s < T; f++)
        for (let j = 0; j < frame; j++) {
          const x0 = r[(b * T + f) * frame + j]!;
          const x1 = r[(b * T + f + s) * frame + j]!;
          num += Math.abs(x1 - x0);
          den += Math.abs(x1) + Math.abs(x0);
        }
    return den > 0 ? num / den : 0;
  });
}

describeEachIsa('residualDistance', () => {
  const shapes = [[1], [7], [3, 17], [2, 64, 72], [4, 33, 130], [2, 300, 1152]];

  it('matches the reference for L1 and L2 on every shape', () => {
    for (const shape of shapes) {
      const n = shape.reduce((a, b) => a * b);
      const cache = uniform(n, n, -2, 2);
      const fresh = cache.map((v, i) => v + 0.1 * Math.sin(i));
      for (const norm of ['l1', 'l2'] as const) {
        const got = ops.residualDistance(tensor(cache, shape), tensor(fresh, shape), { norm });
        const ref = distanceRef(cache, fresh, norm);
        expectClose([got.num, got.den, got.distance], [ref.num, ref.den, ref.num / ref.den], SUM_TOL, `${shape} ${norm}`);
      }
    }
  });

  it('refreshes the cache in the same pass, also through strided views', () => {
    for (const [R, C] of [
      [5, 1],
      [13, 31],
      [40, 72],
    ] as const) {
      const ld = C + 3;
      const storage = tensor(uniform(R * ld, C), [R, ld]);
      const cache = storage.view([R, C], { offset: 1, strides: [ld, 1] });
      const before = storage.toFloat32Array();
      const cacheValues = cache.toFloat32Array();
      const freshStorage = tensor(uniform(R * 2 * C, C + 1), [R, 2 * C]);
      const fresh = freshStorage.view([R, C], { offset: C, strides: [2 * C, 1] });
      const freshValues = fresh.toFloat32Array();
      const got = ops.residualDistance(cache, fresh, { norm: 'l2', update: true });
      const ref = distanceRef(cacheValues, freshValues, 'l2');
      expectClose([got.num, got.den], [ref.num, ref.den], SUM_TOL, `${R}x${C}`);
      expect(cache.toFloat32Array()).toEqual(freshValues);
      const after = storage.toFloat32Array();
      for (let r = 0; r < R; r++) {
        expect(after[r * ld]).toBe(before[r * ld]);
        expect(after.subarray(r * ld + 1 + C, (r + 1) * ld)).toEqual(before.subarray(r * ld + 1 + C, (r + 1) * ld));
      }
    }
  });

  it('gives distance 0 for an all-zero cache and the same sums for any thread count', () => {
    expect(ops.residualDistance(zeros([4, 8]), zeros([4, 8])).distance).toBe(0);
    const cache = tensor(uniform(64 * 1152, 9), [64, 1152]);
    const fresh = tensor(uniform(64 * 1152, 10), [64, 1152]);
    const threads = runtime.threads();
    try {
      runtime.setThreads(1);
      const one = ops.residualDistance(cache, fresh);
      runtime.setThreads(2);
      expect(ops.residualDistance(cache, fresh)).toEqual(one);
    } finally {
      runtime.setThreads(threads);
    }
  });
});

describeEachIsa('motionScore', () => {
  it('matches the reference for several frame strides', () => {
    for (const [B, T, S, C] of [
      [1, 2, 1, 1],
      [2, 5, 3, 7],
      [2, 8, 16, 72],
      [1, 4, 50, 33], // a frame of 1650 elements: several work blocks with a tail
    ] as const) {
      const r = uniform(B * T * S * C, T * S + C);
      const strides = [1, 2, 3].filter((s) => s < T);
      const got = ops.motionScore(tensor(r, [B, T * S, C]), T, strides);
      expectClose(got, motionRef(r, B, T, S, C, strides), SUM_TOL, `${[B, T, S, C]}`);
    }
  });

  it('is 0 for a static video', () => {
    const frame = uniform(4 * 8, 1);
    const r = new Float32Array(3 * 4 * 8);
    for (let f = 0; f < 3; f++) r.set(frame, f * 32);
    expect(ops.motionScore(tensor(r, [1, 12, 8]), 3, [1, 2])).toEqual([0, 0]);
  });
});

describeEachIsa('residualDistance and motionScore with bf16 operands', () => {
  const FLOATS: ('f32' | 'bf16')[] = ['f32', 'bf16'];

  it('match the reference for every pair of cache and fresh dtypes, and refresh the cache in its dtype', () => {
    for (const shape of [[7], [3, 17], [2, 64, 72], [40, 130]]) {
      const n = shape.reduce((a, b) => a * b);
      for (const cd of FLOATS)
        for (const fd of FLOATS) {
          const cache = uniformAs(cd, n, n, -2, 2);
          const fresh = uniformAs(fd, n, n + 1, -2, 2);
          for (const norm of ['l1', 'l2'] as const) {
            const got = ops.residualDistance(tensor(cache, shape, { dtype: cd }), tensor(fresh, shape, { dtype: fd }), { norm });
            const ref = distanceRef(cache, fresh, norm);
            expectClose([got.num, got.den], [ref.num, ref.den], SUM_TOL, `${shape} cache ${cd} fresh ${fd} ${norm}`);
          }
          const c = tensor(cache.slice(), shape, { dtype: cd }); // refreshed below: not cache's own memory
          const got = ops.residualDistance(c, tensor(fresh, shape, { dtype: fd }), { update: true });
          const ref = distanceRef(cache, fresh, 'l1');
          expectClose([got.num, got.den], [ref.num, ref.den], SUM_TOL, `${shape} cache ${cd} fresh ${fd} update`);
          expect(c.dtype).toBe(cd);
          expect(c.toFloat32Array(), `${shape} refreshed cache`).toEqual(cd === 'bf16' ? fresh.map(bf16Round) : fresh);
        }
    }
  });

  it('motionScore matches the reference on bf16 residuals', () => {
    for (const [B, T, S, C] of [
      [2, 5, 3, 7],
      [2, 8, 16, 72],
      [1, 4, 50, 33],
    ] as const) {
      const r = uniformAs('bf16', B * T * S * C, T * S + C);
      const strides = [1, 2, 3].filter((s) => s < T);
      const got = ops.motionScore(tensor(r, [B, T * S, C], { dtype: 'bf16' }), T, strides);
      expectClose(got, motionRef(r, B, T, S, C, strides), SUM_TOL, `${[B, T, S, C]}`);
    }
  });
});

describe('metric errors', () => {
  const r = zeros([2, 12, 8]);

  it('rejects mismatched shapes, bad norms, frames and strides', () => {
    expect(() => ops.residualDistance(zeros([2, 3]), zeros([3, 2]))).toThrow(RangeError);
    expect(() => ops.residualDistance(zeros([2, 3]), zeros([2, 3]), { norm: 'l3' as never })).toThrow(TypeError);
    expect(() => ops.motionScore(r, 5, [1])).toThrow(RangeError);
    expect(() => ops.motionScore(r, 4, [4])).toThrow(RangeError);
    expect(() => ops.motionScore(r, 4, [])).toThrow(TypeError);
    expect(() => ops.motionScore(zeros([24, 8]), 4, [1])).toThrow(RangeError);
  });

  it('rejects disposed tensors and wrong dtypes', () => {
    const gone = zeros([2, 3]);
    gone.dispose();
    expect(() => ops.residualDistance(gone, zeros([2, 3]))).toThrow(TypeError);
    expect(() => ops.residualDistance(zeros([2, 3], { dtype: 'i32' }), zeros([2, 3], { dtype: 'i32' }))).toThrow(TypeError);
    expect(() => ops.motionScore(zeros([2, 12, 8], { dtype: 'u8' }), 4, [1])).toThrow(TypeError);
  });

  it('refuse dtypes other than f32 and bf16 on the CPU with DC_ERR_DTYPE, in either layer', () => {
    const f16 = (shape: number[], dtype: DType = 'f16') => zeros(shape, { dtype });
    const b = binding();
    const cases: [string, () => unknown][] = [
      ['f16 fresh', () => ops.residualDistance(zeros([2, 3]), f16([2, 3]))],
      ['f16 cache', () => ops.residualDistance(f16([2, 3]), zeros([2, 3], { dtype: 'bf16' }))],
      ['f16 r', () => ops.motionScore(f16([2, 12, 8]), 4, [1])],
      ['native f16 fresh', () => b.residualDistance(zeros([2, 3], { dtype: 'bf16' }).native, f16([2, 3]).native, 1, false)],
      ['native i32 cache', () => b.residualDistance(f16([2, 3], 'i32').native, zeros([2, 3]).native, 1, false)],
      ['native f16 r', () => b.motionScore(f16([2, 12, 8]).native, 4, [1])],
    ];
    for (const [what, fn] of cases) {
      expect(fn, what).toThrow(TypeError);
      expect(fn, what).toThrow(expect.objectContaining({ code: 'DC_ERR_DTYPE' }));
    }
  });
});
