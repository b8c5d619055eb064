// GEMM with bf16 activations, bf16 outputs and epilogue operands, and weights packed once
// (ops.packWeight), against a naive double-precision reference, on every kernel variant.
//
// The reference uses the values the kernel is given: every bf16 operand as its bf16 value, a
// weight packed as bf16 from f32 as its rounded value. Tolerances, per element, relative to
// S = Σ_k |a·w| + |bias| (scaled as in gemm.test.ts by the activation's slope and |gate|):
//   products exact in fp32 (f32 weights; bf16 weights with bf16 A, whose products of two 8-bit
//     significands are exact): 2e-5 · S, the fp32 accumulation bound of gemm.test.ts;
//   bf16 weights with f32 A on a bf16 ISA (amx, avx512_bf16): A is rounded to bf16 by the
//     kernel, a relative error ≤ 2⁻⁸ per product: 2⁻⁸ · S;
//   a bf16 out adds its own rounding, ≤ 2⁻⁸ · |y| (8 significant bits, round to nearest).
import { describe, expect, it } from 'vitest';

import { ops, runtime, tensor, zeros, type DType, type Tensor } from '../../lib/index.js';
import { bf16Round as bf16, describeEachIsa, uniform } from './isa-cases.js';

const rounded = (data: Float32Array, dtype: DType) => (dtype === 'bf16' ? data.map(bf16) : data);

interface Case {
  M: number;
  N: number;
  K: number;
  a: DType;
  w: DType;
  /** pack the weight first, as this dtype */
  packed?: DType;
  out: DType;
  /** dtype of bias, gate and residual */
  epilogue: DType;
}

function run(c: Case, seed: number): void {
  const { M, N, K } = c;
  const aData = rounded(uniform(M * K, seed), c.a);
  const wData = rounded(uniform(N * K, seed + 1), c.w);
  const biasData = rounded(uniform(N, seed + 2), c.epilogue);
  const gateData = rounded(uniform(N, seed + 3, -2, 2), c.epilogue);
  const resData = rounded(uniform(M * N, seed + 4, -3, 3), c.epilogue);
  const make = (data: Float32Array, shape: number[], dtype: DType): Tensor => tensor(data, shape, { dtype });
  const a = make(aData, [M, K], c.a);
  const wRow = make(wData, [N, K], c.w);
  const w = c.packed ? ops.packWeight(wRow, { dtype: c.packed as 'f32' | 'bf16' }) : wRow;
  const wDtype = c.packed ?? c.w;
  const wUsed = wDtype === 'bf16' ? wData.map(bf16) : wData;
  const out = ops.gemm(a, w, {
    bias: make(biasData, [N], c.epilogue),
    gate: make(gateData, [1, N], c.epilogue),
    residual: make(resData, [M, N], c.epilogue),
    activation: 'gelu-tanh',
    dtype: c.out,
  });
  expect(out.dtype).toBe(c.out);
  const got = out.toFloat32Array();
  const roundsA = wDtype === 'bf16' && c.a === 'f32' && runtime.isa().bf16;
  const tol = roundsA ? 2 ** -8 : 2e-5;
  for (let r = 0; r < M; r++) {
    for (let n = 0; n < N; n++) {
      let z = biasData[n]!;
      let s = Math.abs(z);
      for (let k = 0; k < K; k++) {
        const p = aData[r * K + k]! * wUsed[n * K + k]!;
        z += p;
        s += Math.abs(p);
      }
      const g = gateData[n]!;
      const gelu = 0.5 * z * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (z + 0.044715 * z ** 3)));
      const y = resData[r * N + n]! + g * gelu;
      const bound = tol * (1.13 * Math.abs(g) * s + Math.abs(resData[r * N + n]!)) + (c.out === 'bf16' ? 2 ** -8 * Math.abs(y) : 0);
      const err = Math.abs(got[r * N + n]! - y);
      if (!(err <= bound + 1e-30)) {
        expect.fail(`${JSON.stringify(c)}: [${r}, ${n}] is ${got[r * N + n]}, expected ${y} ± ${bound}`);
      }
    }
  }
}

// Tile edges of every kernel (14- and 6-row panels, 16- and 32-column blocks, AMX's 32 x 32
// blocks and 32-k tiles), odd K (a half bf16 pair), several K blocks.
const SHAPES: [number, number, number][] = [
  [1, 1, 1],
  [3, 17, 5],
  [33, 16, 31],
  [37, 97, 261],
  [64, 64, 64],
  [65, 48, 96],
  [9, 40, 2500],
];

describeEachIsa('gemm with bf16 operands and packed weights', () => {
  it('matches the reference for every operand dtype', () => {
    let seed = 1;
    for (const [M, N, K] of SHAPES) {
      for (const a of ['f32', 'bf16'] as DType[])
        for (const w of ['f32', 'bf16'] as DType[]) {
          run({ M, N, K, a, w, out: a, epilogue: w }, seed++);
          run({ M, N, K, a, w, out: a === 'f32' ? 'bf16' : 'f32', epilogue: a }, seed++);
        }
    }
  });

  it('reads weights packed as f32 or bf16 from either dtype', () => {
    let seed = 1000;
    for (const [M, N, K] of SHAPES) {
      for (const w of ['f32', 'bf16'] as DType[])
        for (const packed of ['f32', 'bf16'] as DType[]) {
          run({ M, N, K, a: 'bf16', w, packed, out: 'f32', epilogue: 'f32' }, seed++);
          run({ M, N, K, a: 'f32', w, packed, out: 'bf16', epilogue: 'bf16' }, seed++);
        }
    }
  });
});

describe('packed weights', () => {
  const w = tensor(uniform(40 * 24, 3), [40, 24]);

  it('give the same result on every ISA that multiplies alike', () => {
    const a = tensor(uniform(20 * 24, 4), [20, 24], { dtype: 'bf16' });
    const packed = ops.packWeight(w, { dtype: 'bf16' });
    const direct = ops.gemm(a, w.to('cpu', 'bf16')).toFloat32Array();
    const viaPacked = ops.gemm(a, packed).toFloat32Array();
    // Same products, same k order within a step; sums may be grouped differently across blocks.
    for (let i = 0; i < direct.length; i++) expect(Math.abs(viaPacked[i]! - direct[i]!)).toBeLessThan(1e-4);
    expect(packed.packed).toBe(true);
    expect(packed.shape).toEqual([40, 24]);
  });

  it('are refused by every op but gemm, with a clear error', () => {
    const packed = ops.packWeight(w);
    expect(() => packed.toFloat32Array()).toThrow(/packed GEMM weight/);
    expect(() => packed.view([40, 24])).toThrow(/packed GEMM weight/);
    expect(() => ops.rmsNorm(packed)).toThrow(TypeError);
    expect(() => zeros([40, 24]).copyFrom(packed)).toThrow(/packed GEMM weight/);
  });

  it('check their arguments', () => {
    expect(() => ops.packWeight(tensor(new Int32Array(6), [2, 3]))).toThrow(TypeError);
    expect(() => ops.packWeight(tensor(uniform(6, 1), [6]))).toThrow(RangeError);
    // @ts-expect-error an unsupported packed dtype
    expect(() => ops.packWeight(w, { dtype: 'f16' })).toThrow(TypeError);
    const strided = tensor(uniform(40 * 30, 5), [40, 30]).view([40, 24], { strides: [30, 1] });
    const a = tensor(uniform(2 * 24, 6), [2, 24]);
    expect(ops.gemm(a, ops.packWeight(strided)).toFloat32Array()).toEqual(ops.gemm(a, strided).toFloat32Array());
  });
});
