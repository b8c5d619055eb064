// Bad input gives a TypeError or RangeError whose message names the argument, what was expected and
// what was given — whether the TypeScript layer or the native core catches it.
import { describe, expect, it } from 'vitest';

import { TemporalKvCache } from '../../lib/causal/kv-cache.js';
import { empty, ops, runtime, tensor, zeros, type DType } from '../../lib/index.js';

/** Runs `fn`, expecting it to throw an instance of `kind`; returns the error for further checks. */
function thrown<E extends Error>(fn: () => unknown, kind: new (...a: never[]) => E): E {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(kind);
    return e as E;
  }
  throw new Error('expected a throw');
}

describe('dtypes', () => {
  it('rejects an unknown dtype, listing the known ones', () => {
    const e = thrown(() => zeros([2], { dtype: 'f64' as DType }), TypeError);
    expect(e.message).toBe('dtype must be one of f32, f16, bf16, i32, i64, u8, got f64');
    expect(() => tensor([1, 2], [2], { dtype: 'int8' as DType })).toThrow(/dtype must be one of .* got int8/);
  });

  it('asks for the meaning of a Uint16Array', () => {
    const e = thrown(() => tensor(new Uint16Array(2), [2]), TypeError);
    expect(e.message).toMatch(/Uint16Array.*'bf16' or 'f16'/);
  });

  it('rejects data that is not an array', () => {
    expect(() => tensor('abc' as never, [3])).toThrow(TypeError);
  });

  it('reports an op dtype mismatch with the argument, the expected and the actual dtype', () => {
    const x = zeros([2, 4], { dtype: 'i32' });
    const e = thrown(() => ops.layerNorm(x), TypeError);
    expect(e.message).toBe('x: expected dtype f32 or bf16, got i32');
    expect((e as Error & { code?: string }).code).toBe('DC_ERR_DTYPE');
    const w = zeros([3, 4], { dtype: 'u8' });
    expect(() => ops.gemm(zeros([2, 4]), w)).toThrow('w: expected dtype f32 or bf16, got u8');
  });
});

describe('shapes', () => {
  it('rejects data whose length does not match the shape', () => {
    const e = thrown(() => tensor(new Float32Array(6), [2, 2]), RangeError);
    expect(e.message).toBe('data has 6 elements but shape [2,2] needs 4');
  });

  it('rejects negative, fractional and non-numeric dimensions, naming the index', () => {
    expect(thrown(() => zeros([2, -1]), RangeError).message).toBe('shape[1] must be >= 0, got -1');
    expect(thrown(() => zeros([2.5]), TypeError).message).toBe('shape[0] must be an integer, got 2.5');
    expect(thrown(() => empty([3, '4' as never]), TypeError).message).toBe('shape[1] must be an integer, got 4');
    expect(thrown(() => zeros(5 as never), TypeError).message).toBe('shape must be an array of dimensions, got number');
    expect(thrown(() => zeros([1, 1, 1, 1, 1, 1, 1, 1, 1]), RangeError).message).toBe(
      'shape has 9 dimensions; at most 8 are supported',
    );
  });

  it('rejects huge dimensions and element counts', () => {
    expect(thrown(() => zeros([2 ** 41]), RangeError).message).toMatch(/shape\[0\] = 2199023255552 is too large/);
    // Every dimension is allowed on its own; their product is not (caught by the native core).
    const e = thrown(() => empty([2 ** 20, 2 ** 20, 2 ** 20]), RangeError);
    expect(e.message).toMatch(/more than 2\^48 elements/);
    expect((e as Error & { code?: string }).code).toBe('DC_ERR_RANGE');
  });

  it('accepts zero-size dimensions for tensors but not where an op needs a size', () => {
    expect(zeros([0, 3]).numel).toBe(0);
    const q = zeros([1, 1, 2, 0]);
    expect(thrown(() => ops.attention(q, q, q), RangeError).message).toBe('q: head_dim must be in [1, 256], got 0');
    const r = zeros([1, 4, 2]);
    expect(thrown(() => ops.motionScore(r, 0, [1]), RangeError).message).toBe('frames: 0 does not divide the 4 tokens of r');
  });

  it('reports mismatched op shapes with both shapes', () => {
    const a = zeros([2, 3]);
    expect(thrown(() => ops.gemm(a, zeros([4, 5])), RangeError).message).toBe('w: expected shape [4, 3], got [4, 5]');
    expect(thrown(() => ops.add(a, zeros([3, 2])), RangeError).message).toBe(
      'y: expected [G, 3] with G dividing the 2 rows of x [2, 3], got [3, 2]',
    );
    expect(thrown(() => ops.softmax(a, { out: zeros([3, 2]) }), RangeError).message).toBe(
      'out: expected the shape of x [2, 3], got [3, 2]',
    );
    expect(thrown(() => ops.attention(zeros([1, 2, 3, 4]), zeros([1, 2, 5, 4]), zeros([1, 2, 6, 4])), RangeError).message).toBe(
      'v: expected shape [1, 2, 5, 4], got [1, 2, 6, 4]',
    );
  });

  it('maps native shape errors to RangeError with the core message and code', () => {
    // A strided out whose last dimension is not dense passes the TypeScript checks.
    const base = zeros([2, 6]);
    const out = base.view([2, 3], { strides: [6, 2] });
    const e = thrown(() => ops.softmax(zeros([2, 3]), { out }), RangeError);
    expect(e.message).toBe('out: the last dimension must have stride 1 (got 2)');
    expect((e as Error & { code?: string }).code).toBe('DC_ERR_SHAPE');
  });
});

describe('arguments', () => {
  it('names a missing or foreign tensor argument', () => {
    expect(thrown(() => ops.gemm(undefined as never, zeros([2, 2])), TypeError).message).toBe('a must be a Tensor, got undefined');
    expect(thrown(() => ops.softmax(new Float32Array(4) as never), TypeError).message).toBe(
      'x must be a Tensor, got Float32Array',
    );
    expect(() => ops.activate(zeros([2]), 'relu' as never)).toThrow("activation must be 'none', 'gelu-tanh' or 'silu', got relu");
    expect(() => ops.axpby(Number.NaN, zeros([2]), 1, zeros([2]))).toThrow('alpha must be a number, got number NaN');
  });

  it('rejects a disposed tensor by name, in TypeScript and in the binding', () => {
    const a = zeros([2, 3]);
    a.dispose();
    expect(thrown(() => ops.gemm(a, zeros([4, 3])), TypeError).message).toBe('a: tensor was disposed');
    expect(thrown(() => a.view([3]), TypeError).message).toBe('tensor was disposed');
    expect(() => a.native.read()).toThrow('tensor was disposed');
  });
});

describe('devices', () => {
  const reason = runtime.deviceUnavailableReason('cuda');

  it.skipIf(reason === null)('refuses CUDA tensors where CUDA cannot run, with the reason', () => {
    const e = thrown(() => zeros([2], { device: 'cuda' }), Error);
    expect(e.message).toBe(`device 'cuda' is not available: ${reason}`);
    expect(() => tensor([1, 2], [2], { device: 'cuda' })).toThrow(/device 'cuda' is not available/);
    expect(() => zeros([2]).to('cuda')).toThrow(/device 'cuda' is not available/);
  });

  it('rejects an unknown device', () => {
    expect(thrown(() => zeros([2], { device: 'tpu' as never }), TypeError).message).toBe(
      "device must be 'cpu' or 'cuda', got tpu",
    );
  });
});

describe('the temporal KV cache', () => {
  it('refuses a capacity that is not a positive number of frames, with a code', () => {
    for (const capacity of [0, -1, 2.5, Number.NaN]) {
      const e = thrown(() => new TemporalKvCache({ layers: 1, batch: 1, tokens: 1, heads: 1, headDim: 8, capacity }), RangeError);
      expect(e.message).toBe(`KV cache capacity must be a positive number of frames, got ${capacity}`);
      expect((e as Error & { code?: string }).code).toBe('DC_ERR_RANGE');
    }
  });
});
