// Attention on the device (tensor-core kernels for head_dim 64/72/128, the SIMT kernel for other
// sizes and unaligned rows) against the CPU kernel on the same rounded values: key masks of every
// dtype, bottom-right causal masking, a wrapped prefix ring, on-the-fly RoPE and strided layouts.
//
// Tolerances: outputs are convex combinations of values in [-1, 1]. f16 inputs are multiplied in
// f16 and the probabilities rounded to f16 (2^-11) before p.v: atol/rtol 4e-3. bf16 and f32 inputs
// are multiplied in bf16 (f32 is rounded to bf16 on the way, 2^-9 per operand and per probability):
// atol/rtol 1.5e-2. The SIMT kernel computes in fp32 and stays far inside these bounds.
import { describe, it } from 'vitest';

import { ops, tensor, type AttentionOptions, type DType, type Tensor } from '../../lib/index.js';
import { expectClose, FLOAT_DTYPES, gpuUnavailable, pair, random, type FloatDType, type Tolerance } from './device.js';

const TOL: Record<FloatDType, Tolerance> = {
  f32: { atol: 1.5e-2, rtol: 1.5e-2 },
  f16: { atol: 4e-3, rtol: 4e-3 },
  bf16: { atol: 1.5e-2, rtol: 1.5e-2 },
};

interface Case {
  name: string;
  B: number;
  H: number;
  Nq: number;
  Nk: number;
  D: number;
  causal?: boolean;
  mask?: { dtype: DType; visible: (b: number, j: number) => boolean };
  prefix?: { cap: number; start: number; len: number };
  rope?: { qPos0: number; kPos0: number };
  /** q, k, v as [B, N, H, D] views of one [B, N, 3, H, D] buffer, shifted by `shift` elements */
  packed?: { shift: number };
  amp?: number;
}

const CASES: Case[] = [
  { name: 'd64, ragged tiles', B: 2, H: 3, Nq: 100, Nk: 130, D: 64 },
  { name: 'd72 (k8 tail step), causal bottom-right', B: 1, H: 2, Nq: 70, Nk: 150, D: 72, causal: true },
  { name: 'd128, u8 key mask, one sample fully masked', B: 2, H: 2, Nq: 65, Nk: 90, D: 128,
    mask: { dtype: 'u8', visible: (b, j) => b === 0 && j % 3 !== 1 } },
  { name: 'd64, prefix ring wrapping + causal + rope', B: 2, H: 2, Nq: 24, Nk: 24, D: 64, causal: true,
    prefix: { cap: 48, start: 30, len: 40 }, rope: { qPos0: 40, kPos0: 0 } },
  { name: 'd72, rope and i64 mask', B: 1, H: 3, Nq: 33, Nk: 33, D: 72, rope: { qPos0: 5, kPos0: 5 },
    mask: { dtype: 'i64', visible: (_b, j) => j < 30 } },
  { name: 'd128, packed qkv rows (strided, aligned)', B: 2, H: 2, Nq: 80, Nk: 80, D: 128, packed: { shift: 0 } },
  { name: 'd64, packed rows off 16-byte alignment (SIMT)', B: 1, H: 2, Nq: 50, Nk: 50, D: 64, packed: { shift: 1 } },
  { name: 'd40 (SIMT), f32 mask, causal', B: 2, H: 2, Nq: 40, Nk: 60, D: 40, causal: true,
    mask: { dtype: 'f32', visible: (b, j) => (j + b) % 5 !== 0 } },
  { name: 'd64, peaky scores', B: 1, H: 1, Nq: 64, Nk: 200, D: 64, amp: 2 },
];

type Side = 'gpu' | 'cpu';

function qkv(c: Case, dtype: FloatDType, seed: number): Record<'q' | 'k' | 'v', Record<Side, Tensor>> {
  const amp = c.amp ?? 1;
  if (!c.packed) {
    const make = (n: number, s: number) => pair(random(c.B * c.H * n * c.D, s, amp), [c.B, c.H, n, c.D], dtype);
    return { q: make(c.Nq, seed), k: make(c.Nk, seed + 1), v: make(c.Nk, seed + 2) };
  }
  const N = c.Nq; // packed cases use Nq == Nk
  const rowStride = 3 * c.H * c.D;
  const buffer = pair(random(c.packed.shift + c.B * N * rowStride, seed, amp), [c.packed.shift + c.B * N * rowStride], dtype);
  const strides = [N * rowStride, c.D, rowStride, 1];
  const view = (t: Tensor, which: number) =>
    t.view([c.B, c.H, N, c.D], { offset: c.packed!.shift + which * c.H * c.D, strides });
  const part = (which: number) => ({ gpu: view(buffer.gpu, which), cpu: view(buffer.cpu, which) });
  return { q: part(0), k: part(1), v: part(2) };
}

function run(c: Case, dtype: FloatDType, seed: number): Record<Side, Tensor> {
  const { q, k, v } = qkv(c, dtype, seed);
  const P = c.prefix?.len ?? 0;
  const prefix = c.prefix
    ? {
        k: pair(random(c.B * c.H * c.prefix.cap * c.D, seed + 3), [c.B, c.H, c.prefix.cap, c.D], dtype),
        v: pair(random(c.B * c.H * c.prefix.cap * c.D, seed + 4), [c.B, c.H, c.prefix.cap, c.D], dtype),
      }
    : undefined;
  const maskValues = c.mask
    ? Float32Array.from({ length: c.B * (P + c.Nk) }, (_, i) => (c.mask!.visible(Math.floor(i / (P + c.Nk)), i % (P + c.Nk)) ? 1 : 0))
    : undefined;
  const freqs = Float32Array.from({ length: c.D / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / c.D));
  const side = (s: Side): Tensor => {
    const device = s === 'gpu' ? 'cuda' : 'cpu';
    const options: AttentionOptions = { causal: c.causal };
    if (maskValues) options.keyMask = tensor(maskValues, [c.B, P + c.Nk], { dtype: c.mask!.dtype, device });
    if (prefix) options.prefix = { k: prefix.k[s], v: prefix.v[s], start: c.prefix!.start, length: c.prefix!.len };
    if (c.rope) options.rope = { freqs: tensor(freqs, [c.D / 2], { device }), qPos0: c.rope.qPos0, kPos0: c.rope.kPos0 };
    return ops.attention(q[s], k[s], v[s], options);
  };
  return { gpu: side('gpu'), cpu: side('cpu') };
}

describe.skipIf(gpuUnavailable !== null)('cuda attention', () => {
  for (const dtype of FLOAT_DTYPES) {
    describe(dtype, () => {
      it.each(CASES)('$name', (c) => {
        const { gpu, cpu } = run(c, dtype, 1000);
        expectClose(gpu, cpu, TOL[dtype], `${dtype} ${c.name}`);
      });
    });
  }
});
