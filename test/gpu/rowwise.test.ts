// Row-wise ops on the device against the CPU ops on the same rounded values: norms (with affine
// and fused modulate), modulate, activations, axpby / mul with same-shape and grouped operands,
// softmax and RoPE, on a row length that is not a multiple of the warp and on strided rows.
//
// Tolerances: every kernel computes in fp32 from the same values as the CPU, so f32 differs by
// summation order only: atol/rtol 2e-5 (norms divide by a standard deviation that itself carries
// a few ulps). f16/bf16 add one rounding of the output, at most half an ulp: 2^-11 (f16) and 2^-9
// (bf16) of the value, so rtol 1e-3 / 8e-3, with atol 1e-3 / 1e-2 for results near zero.
import { describe, it } from 'vitest';

import { ops, tensor, type Tensor } from '../../lib/index.js';
import { expectClose, FLOAT_DTYPES, gpuUnavailable, randomPair, type FloatDType, type Pair, type Tolerance } from './device.js';

const TOL: Record<FloatDType, Tolerance> = {
  f32: { atol: 2e-5, rtol: 2e-5 },
  f16: { atol: 1e-3, rtol: 1e-3 },
  bf16: { atol: 1e-2, rtol: 8e-3 },
};

const [B, T, S, C] = [2, 3, 5, 200];
const SHAPE = [B, T, S, C];

type Side = 'gpu' | 'cpu';

interface Case {
  name: string;
  run: (side: Side, p: (shape: readonly number[], seed: number, amp?: number) => Pair) => Tensor;
}

const CASES: Case[] = [
  {
    name: 'layerNorm',
    run: (s, p) => ops.layerNorm(p(SHAPE, 1, 3)[s]),
  },
  {
    name: 'layerNorm + affine + per-frame modulate',
    run: (s, p) =>
      ops.layerNorm(p(SHAPE, 2, 3)[s], {
        weight: p([C], 3)[s],
        bias: p([C], 4)[s],
        shift: p([B * T, C], 5)[s],
        scale: p([B * T, C], 6)[s],
      }),
  },
  {
    name: 'rmsNorm with weight, in place on a strided view',
    run: (s, p) => {
      const x = p([B, T, S, 2 * C], 7, 2)[s].view(SHAPE, { strides: [T * S * 2 * C, S * 2 * C, 2 * C, 1] });
      ops.rmsNorm(x, { weight: p([C], 8)[s], eps: 1e-5, out: x });
      return x.clone();
    },
  },
  {
    name: 'modulate, per-sample',
    run: (s, p) => ops.modulate(p(SHAPE, 9)[s], p([B, C], 10)[s], p([B, C], 11)[s]),
  },
  {
    name: 'gelu-tanh',
    run: (s, p) => ops.activate(p(SHAPE, 12, 4)[s], 'gelu-tanh'),
  },
  {
    name: 'silu',
    run: (s, p) => ops.activate(p(SHAPE, 13, 4)[s], 'silu'),
  },
  {
    name: 'axpby, same shape',
    run: (s, p) => ops.axpby(0.75, p(SHAPE, 14)[s], -1.5, p(SHAPE, 15)[s]),
  },
  {
    name: 'axpby, grouped per frame',
    run: (s, p) => ops.axpby(2, p(SHAPE, 16)[s], 0.5, p([B * T, C], 17)[s]),
  },
  {
    name: 'mul, grouped per sample, in place',
    run: (s, p) => {
      const x = p(SHAPE, 18)[s];
      return ops.mul(x, p([B, C], 19)[s], { out: x });
    },
  },
  {
    name: 'softmax',
    run: (s, p) => ops.softmax(p(SHAPE, 20, 6)[s]),
  },
  {
    name: 'rope at pos0 = 7',
    run: (s, p) => {
      const freqs = Float32Array.from({ length: C / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / C));
      return ops.rope(p(SHAPE, 21)[s], tensor(freqs, [C / 2], { device: s === 'gpu' ? 'cuda' : 'cpu' }), { pos0: 7 });
    },
  },
];

describe.skipIf(gpuUnavailable !== null)('cuda row-wise ops', () => {
  for (const dtype of FLOAT_DTYPES) {
    describe(dtype, () => {
      it.each(CASES)('$name', (c) => {
        // One set of pairs per case, shared by both sides so they see identical values.
        const made = new Map<number, Pair>();
        const p = (shape: readonly number[], seed: number, amp = 1): Pair => {
          if (!made.has(seed)) made.set(seed, randomPair(shape, dtype, seed, amp));
          return made.get(seed)!;
        };
        const gpu = c.run('gpu', p);
        const cpu = c.run('cpu', p);
        expectClose(gpu, cpu, TOL[dtype], `${dtype} ${c.name}`);
      });
    });
  }
});
