// The double-precision references, fixtures and float32 tolerances of the row-wise op tests
// (rowwise.test.ts for f32 data, rowwise-bf16.test.ts for bf16 inputs and outputs).
import { tensor, type DType, type Tensor } from '../../lib/index.js';
import { uniform, type Tolerance } from './isa-cases.js';

// Float32 kernels against double references: a few float roundings per element.
export const NORM_TOL: Tolerance = { atol: 1e-5, rtol: 1e-5 };
export const ACT_TOL: Tolerance = { atol: 1e-5, rtol: 1e-6 };
export const EXACTISH_TOL: Tolerance = { atol: 1e-6, rtol: 1e-6 };
export const SOFTMAX_TOL: Tolerance = { atol: 1e-7, rtol: 1e-5 };
export const ROPE_TOL: Tolerance = { atol: 1e-5, rtol: 1e-5 };

export const WIDTHS = [1, 2, 3, 7, 16, 17, 31, 33, 72, 127, 130];
// x [B, F, S, C]: rows = B·F·S; the group counts a grouped parameter may have.
export const B = 2;
export const F = 3;
export const S = 5;
export const ROWS = B * F * S;
export const GROUPS = [1, B, B * F, ROWS];

/**
 * An [R, C] view with row stride C + pad inside a larger buffer of `dtype`; `values` are its
 * elements (as stored, for bf16 the rounded values).
 */
export function stridedRows(
  R: number,
  C: number,
  pad: number,
  seed: number,
  dtype: DType = 'f32',
): { view: Tensor; base: Tensor; values: Float32Array } {
  const ld = C + pad;
  const base = tensor(uniform(R * ld + pad, seed), [R * ld + pad], { dtype });
  const view = base.view([R, C], { offset: pad, strides: [ld, 1] });
  return { view, base, values: view.toFloat32Array() };
}

export interface NormRef {
  eps: number;
  rms?: boolean;
  weight?: Float32Array;
  bias?: Float32Array;
  shift?: Float32Array;
  scale?: Float32Array;
  groups?: number;
}

export function normRef(x: ArrayLike<number>, R: number, C: number, o: NormRef): Float64Array {
  const out = new Float64Array(R * C);
  const per = R / (o.groups ?? 1);
  for (let r = 0; r < R; r++) {
    let mean = 0;
    if (!o.rms) {
      for (let c = 0; c < C; c++) mean += x[r * C + c]!;
      mean /= C;
    }
    let ss = 0;
    for (let c = 0; c < C; c++) ss += (x[r * C + c]! - mean) ** 2;
    const inv = 1 / Math.sqrt(ss / C + o.eps);
    const g = Math.floor(r / per);
    for (let c = 0; c < C; c++) {
      let y = (x[r * C + c]! - mean) * inv;
      if (o.weight) y *= o.weight[c]!;
      if (o.bias) y += o.bias[c]!;
      if (o.shift && o.scale) y = y * (1 + o.scale[g * C + c]!) + o.shift[g * C + c]!;
      out[r * C + c] = y;
    }
  }
  return out;
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

export function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** Element (r, c) of a grouped [G, C] parameter for x with R rows. */
export function grouped(p: ArrayLike<number>, G: number, R: number, C: number, r: number, c: number): number {
  return p[Math.floor(r / (R / G)) * C + c]!;
}

/** RoPE of rows at positions pos0 + r % T, with float32 angles as rotary_embedding_torch. */
export function ropeRef(x: ArrayLike<number>, rows: number, T: number, D: number, freqs: Float32Array, pos0: number): Float64Array {
  const out = new Float64Array(rows * D);
  for (let r = 0; r < rows; r++) {
    const pos = pos0 + (r % T);
    for (let i = 0; i < D / 2; i++) {
      const angle = Math.fround(pos * freqs[i]!);
      const [c, s] = [Math.cos(angle), Math.sin(angle)];
      const [x0, x1] = [x[r * D + 2 * i]!, x[r * D + 2 * i + 1]!];
      out[r * D + 2 * i] = x0 * c - x1 * s;
      out[r * D + 2 * i + 1] = x1 * c + x0 * s;
    }
  }
  return out;
}

export const freqsOf = (D: number): Float32Array => Float32Array.from({ length: D / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / D));

/** Softmax of each row of x [R, C], in double. */
export function softmaxRef(x: ArrayLike<number>, R: number, C: number): Float64Array {
  const out = new Float64Array(R * C);
  for (let r = 0; r < R; r++) {
    const row = Array.from({ length: C }, (_, c) => x[r * C + c]!);
    const m = Math.max(...row);
    const e = row.map((v) => Math.exp(v - m));
    const s = e.reduce((a, b) => a + b, 0);
    e.forEach((v, c) => (out[r * C + c] = v / s));
  }
  return out;
}
