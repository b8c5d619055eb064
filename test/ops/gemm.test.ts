// GEMM with fused epilogue against a naive double-precision reference, on every kernel variant.
//
// Tolerances, per element, relative to S = Σ_k |a[r,k]·w[n,k]| + |bias[n]| (the size of the sum
// before cancellation), scaled by the largest slope of the activation (≤ 1.13) and |gate|, plus
// the rounding of the residual add:
//   fp32 products (fp32 weights, or bf16 weights widened):  2e-5 · S — fp32 accumulation in
//     blocks of k steps; the observed error is about √K · 2⁻²⁴ · S, far below this for K ≤ 2500;
//   vdpbf16ps (bf16 weights on AVX-512 with BF16):  2⁻⁸ · S — A is rounded to bf16 (relative
//     error ≤ 2⁻⁹ per product) before the fp32 accumulation.
// The reference applies the bf16-rounded weights when the weight is bf16.
import { describe, expect, it } from 'vitest';

import { ops, runtime, tensor, zeros, type Activation, type Tensor } from '../../lib/index.js';
import { fmaPeak } from '../../lib/bench.js';
import { binding } from '../../lib/native/loader.js';
import { describeEachIsa, uniform } from './isa-cases.js';

interface Epilogue {
  bias: boolean;
  activation: Activation;
  /** groups of the gate ([G, N]); 0 = no gate */
  gateGroups: number;
  residual: 'none' | 'separate' | 'alias';
}

interface Case {
  M: number;
  N: number;
  K: number;
  bf16?: boolean;
  /** extra elements per A row: a strided view of a wider buffer */
  aPad?: number;
  /** extra elements per W row, likewise */
  wPad?: number;
  /** A as [2, M/2, K] */
  batched?: boolean;
  epilogue: Epilogue;
}

const ACTIVATIONS: Activation[] = ['none', 'gelu-tanh', 'silu'];
const RESIDUALS: Epilogue['residual'][] = ['none', 'separate', 'alias'];
const ACT_SLOPE = 1.13; // max |d act / dz| over gelu-tanh and silu

function allEpilogues(M: number): Epilogue[] {
  const groups = M % 3 === 0 ? 3 : M % 2 === 0 ? 2 : 1;
  const out: Epilogue[] = [];
  for (const bias of [false, true])
    for (const activation of ACTIVATIONS)
      for (const gateGroups of [0, groups])
        for (const residual of RESIDUALS) out.push({ bias, activation, gateGroups, residual });
  return out;
}

function activate(act: Activation, z: number): number {
  if (act === 'gelu-tanh') return 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z * z * z)));
  if (act === 'silu') return z / (1 + Math.exp(-z));
  return z;
}

interface Operands {
  a: Tensor;
  w: Tensor;
  bias?: Tensor;
  gate?: Tensor;
  residual?: Tensor;
  out: Tensor;
  expected: Float64Array;
  bound: Float64Array;
}

function build(c: Case, seed: number, tol: number): Operands {
  const { M, N, K, epilogue: e } = c;
  const pad = c.aPad ?? 0;
  const aData = uniform(M * (K + pad), seed);
  const wide = tensor(aData, [M, K + pad]);
  const a2 = pad ? wide.view([M, K], { strides: [K + pad, 1] }) : wide;
  const a = c.batched ? a2.view([2, M / 2, K], { strides: [(M / 2) * (K + pad), K + pad, 1] }) : a2;
  const wPad = c.wPad ?? 0;
  const wWide = tensor(uniform(N * (K + wPad), seed + 1), [N, K + wPad]);
  const wStored = c.bf16 ? wWide.to('cpu', 'bf16') : wWide;
  const w = wPad ? wStored.view([N, K], { strides: [K + wPad, 1] }) : wStored;
  const wRef = w.toFloat32Array(); // row-major [N, K]; bf16-rounded values for a bf16 weight
  const biasData = e.bias ? uniform(N, seed + 2) : undefined;
  const gateData = e.gateGroups ? uniform(e.gateGroups * N, seed + 3, -2, 2) : undefined;
  const resData = e.residual !== 'none' ? uniform(M * N, seed + 4, -3, 3) : undefined;
  const outShape = c.batched ? [2, M / 2, N] : [M, N];
  const out = e.residual === 'alias' ? tensor(resData!.slice(), outShape) : zeros(outShape);
  const residual = e.residual === 'alias' ? out : e.residual === 'separate' ? tensor(resData!, outShape) : undefined;

  const expected = new Float64Array(M * N);
  const bound = new Float64Array(M * N);
  const rowsPerGroup = e.gateGroups ? M / e.gateGroups : 1;
  for (let r = 0; r < M; r++) {
    for (let n = 0; n < N; n++) {
      let z = 0;
      let s = 0;
      for (let k = 0; k < K; k++) {
        const p = aData[r * (K + pad) + k]! * wRef[n * K + k]!;
        z += p;
        s += Math.abs(p);
      }
      if (biasData) {
        z += biasData[n]!;
        s += Math.abs(biasData[n]!);
      }
      const g = gateData ? gateData[Math.floor(r / rowsPerGroup) * N + n]! : 1;
      const res = resData ? resData[r * N + n]! : 0;
      const y = res + g * activate(e.activation, z);
      expected[r * N + n] = y;
      bound[r * N + n] = tol * (ACT_SLOPE * Math.abs(g) * s + Math.abs(res)) + 1e-30;
    }
  }
  return {
    a,
    w,
    bias: biasData ? tensor(biasData, [N]) : undefined,
    gate: gateData ? tensor(gateData, [e.gateGroups, N]) : undefined,
    residual,
    out,
    expected,
    bound,
  };
}

function describeCase(c: Case): string {
  const e = c.epilogue;
  return (
    `M=${c.M} N=${c.N} K=${c.K}${c.bf16 ? ' bf16' : ''}${c.aPad ? ` lda=K+${c.aPad}` : ''}` +
    `${c.wPad ? ` ldw=K+${c.wPad}` : ''}${c.batched ? ' batched' : ''}` +
    ` bias=${e.bias} act=${e.activation} gate=${e.gateGroups} residual=${e.residual}`
  );
}

function check(c: Case, seed: number): void {
  const dpbf16 = Boolean(c.bf16) && runtime.isa().bf16;
  const tol = dpbf16 ? 2 ** -8 : 2e-5;
  const o = build(c, seed, tol);
  const result = ops.gemm(o.a, o.w, {
    bias: o.bias,
    activation: c.epilogue.activation,
    gate: o.gate,
    residual: o.residual,
    out: o.out,
  });
  expect(result).toBe(o.out);
  const got = o.out.toFloat32Array();
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i]! - o.expected[i]!);
    if (!(err <= o.bound[i]!)) {
      expect.fail(
        `${describeCase(c)}: element ${i} (row ${Math.floor(i / c.N)}, col ${i % c.N}) is ${got[i]}, ` +
          `expected ${o.expected[i]} ± ${o.bound[i]}`,
      );
    }
  }
}

// Shapes around the tile edges of every ISA (6, 14 rows; 8, 16, 32 columns; K steps of 2),
// primes, single rows and columns, several K blocks (K > 1152), and products large enough to be
// split between threads.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [1, 7, 5],
  [3, 1, 9],
  [1, 1, 300],
  [2, 33, 17],
  [13, 31, 29],
  [14, 32, 16],
  [15, 64, 15],
  [6, 16, 2],
  [29, 65, 127],
  [1, 200, 300],
  [100, 1, 50],
  [37, 97, 261],
  [42, 96, 1152],
  [30, 70, 2500],
  [200, 300, 130],
  [128, 96, 1],
];

describeEachIsa('gemm', () => {
  it('matches the reference on every shape, for fp32 and bf16 weights', () => {
    let i = 0;
    for (const bf16 of [false, true]) {
      for (const [M, N, K] of SHAPES) {
        const all = allEpilogues(M);
        check({ M, N, K, bf16, epilogue: all[(i * 7) % all.length]! }, 100 + i);
        i++;
      }
    }
  });

  it('applies every epilogue combination', () => {
    for (const bf16 of [false, true]) {
      for (const [n, epilogue] of allEpilogues(30).entries()) {
        check({ M: 30, N: 45, K: 37, bf16, epilogue }, 500 + n);
      }
    }
  });

  it('reads strided and batched A rows, and strided W rows', () => {
    const epilogue: Epilogue = { bias: true, activation: 'silu', gateGroups: 2, residual: 'alias' };
    check({ M: 20, N: 33, K: 19, aPad: 5, epilogue }, 900);
    check({ M: 20, N: 33, K: 19, aPad: 5, batched: true, epilogue }, 901);
    check({ M: 44, N: 40, K: 64, aPad: 3, bf16: true, batched: true, epilogue }, 902);
    check({ M: 30, N: 64, K: 67, wPad: 9, epilogue }, 903);
    check({ M: 30, N: 64, K: 67, wPad: 9, bf16: true, epilogue }, 904);
  });

  it('gives the same result in the Promise form', async () => {
    const a = tensor(uniform(6 * 5, 7), [6, 5], { copy: true });
    const w = tensor(uniform(4 * 5, 8), [4, 5], { copy: true });
    const sync = ops.gemm(a, w, { activation: 'gelu-tanh' }).toFloat32Array();
    const async = (await ops.async.gemm(a, w, { activation: 'gelu-tanh' })).toFloat32Array();
    expect([...async]).toEqual([...sync]);
  });
});

describe('gemm argument errors', () => {
  const a = tensor(uniform(4 * 6, 1), [4, 6]);
  const w = tensor(uniform(3 * 6, 2), [3, 6]);

  it('rejects a weight with the wrong K', () => {
    expect(() => ops.gemm(a, tensor(uniform(3 * 7, 3), [3, 7]))).toThrow(RangeError);
  });

  it('rejects wrong dtypes', () => {
    expect(() => ops.gemm(a, tensor(new Int32Array(18), [3, 6]))).toThrow(TypeError);
    expect(() => ops.gemm(tensor(new Int32Array(24), [4, 6]), w)).toThrow(TypeError);
    expect(() => ops.gemm(a, w, { bias: tensor(new Int32Array(3), [3]) })).toThrow(TypeError);
  });

  it('rejects mismatched epilogue operands', () => {
    expect(() => ops.gemm(a, w, { bias: tensor(uniform(4, 4), [4]) })).toThrow(RangeError);
    expect(() => ops.gemm(a, w, { gate: tensor(uniform(9, 5), [3, 3]) })).toThrow(RangeError);
    expect(() => ops.gemm(a, w, { residual: zeros([4, 4]) })).toThrow(RangeError);
    expect(() => ops.gemm(a, w, { out: zeros([3, 3]) })).toThrow(RangeError);
    // @ts-expect-error an unknown activation
    expect(() => ops.gemm(a, w, { activation: 'relu' })).toThrow(TypeError);
  });

  it('rejects disposed tensors', () => {
    const gone = tensor(uniform(3 * 6, 6), [3, 6]);
    gone.dispose();
    expect(() => ops.gemm(a, gone)).toThrow(TypeError);
    const out = zeros([4, 3]);
    out.dispose();
    expect(() => ops.gemm(a, w, { out })).toThrow(TypeError);
  });

  it('is validated again in native code', () => {
    const native = binding();
    const badW = tensor(uniform(3 * 7, 3), [3, 7]);
    expect(() => native.gemm(a.native, badW.native, zeros([4, 3]).native, {})).toThrow(RangeError);
    expect(() => native.gemm(a.native, w.native, zeros([4, 3]).native, { activation: 9 })).toThrow(TypeError);
    const wI32 = tensor(new Int32Array(18), [3, 6]);
    expect(() => native.gemm(a.native, wI32.native, zeros([4, 3]).native, {})).toThrow(TypeError);
  });
});

describe('fma peak', () => {
  it('measures a positive throughput and checks its arguments', () => {
    const gflops = fmaPeak(1, 0.02);
    expect(Number.isFinite(gflops) && gflops > 0).toBe(true);
    expect(() => fmaPeak(0, 0.02)).toThrow(RangeError);
    expect(() => fmaPeak(1, 0)).toThrow(RangeError);
  });
});
