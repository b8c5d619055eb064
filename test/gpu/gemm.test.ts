// GEMM through cuBLASLt (bias / GELU epilogues, SiLU, gate and residual after it) against the CPU
// GEMM on the same rounded values.
//
// Tolerances: a [2, 37, 96] . w[80, 96]^T with values in [-1, 1] gives outputs of about 3 in
// magnitude, accumulated in fp32 everywhere. f32 differs from the CPU only in summation order
// (cuBLASLt's GELU epilogue, the tanh form, adds a few ulps): atol 2e-4, rtol 1e-4. f16 and bf16
// round the product once, and the gate/residual pass a second time: at most one ulp of |out| < 8,
// whose ulp is 2^-8 (f16) and 2^-5 (bf16) between 4 and 8: atol 8e-3 / 6e-2, rtol 2e-3 / 1.6e-2.
import { describe, it } from 'vitest';

import { ops, type GemmOptions, type Tensor } from '../../lib/index.js';
import { expectClose, FLOAT_DTYPES, gpuUnavailable, randomPair, type FloatDType, type Tolerance } from './device.js';

const TOL: Record<FloatDType, Tolerance> = {
  f32: { atol: 2e-4, rtol: 1e-4 },
  f16: { atol: 8e-3, rtol: 2e-3 },
  bf16: { atol: 6e-2, rtol: 1.6e-2 },
};

const [B, M, K, N] = [2, 37, 96, 80];

interface Variant {
  name: string;
  bias?: boolean;
  activation?: GemmOptions['activation'];
  /** grouped gate [G, N] */
  gateGroups?: number;
  residual?: 'separate' | 'in-place';
}

const VARIANTS: Variant[] = [
  { name: 'plain' },
  { name: 'bias', bias: true },
  { name: 'bias + gelu (fused epilogue)', bias: true, activation: 'gelu-tanh' },
  { name: 'gelu without bias', activation: 'gelu-tanh' },
  { name: 'bias + silu', bias: true, activation: 'silu' },
  { name: 'per-sample gate', gateGroups: B },
  { name: 'residual through C', bias: true, residual: 'separate' },
  { name: 'in-place residual', residual: 'in-place' },
  { name: 'bias + gelu + gate + in-place residual', bias: true, activation: 'gelu-tanh', gateGroups: B, residual: 'in-place' },
  { name: 'silu + per-row gate + residual', activation: 'silu', gateGroups: B * M, residual: 'separate' },
];

function run(dtype: FloatDType, wDtype: FloatDType, v: Variant, seed: number): { gpu: Tensor; cpu: Tensor } {
  const a = randomPair([B, M, K], dtype, seed);
  const w = randomPair([N, K], wDtype, seed + 1);
  const bias = v.bias ? randomPair([N], dtype, seed + 2) : undefined;
  const gate = v.gateGroups ? randomPair([v.gateGroups, N], dtype, seed + 3) : undefined;
  const residual = v.residual ? randomPair([B, M, N], dtype, seed + 4) : undefined;
  const inPlace = v.residual === 'in-place';
  const side = (s: 'gpu' | 'cpu'): Tensor => {
    const out = inPlace ? residual![s] : undefined;
    return ops.gemm(a[s], w[s], {
      bias: bias?.[s],
      activation: v.activation,
      gate: gate?.[s],
      residual: residual?.[s],
      ...(out ? { out } : {}),
    });
  };
  return { gpu: side('gpu'), cpu: side('cpu') };
}

describe.skipIf(gpuUnavailable !== null)('cuda gemm', () => {
  for (const dtype of FLOAT_DTYPES) {
    describe(dtype, () => {
      it.each(VARIANTS)('$name', (v) => {
        const { gpu, cpu } = run(dtype, dtype, v, 100);
        expectClose(gpu, cpu, TOL[dtype], `${dtype} ${v.name}`);
      });
    });
  }

  it.each(['f32', 'f16'] as const)('takes bf16 weights next to %s activations', (dtype) => {
    const v: Variant = { name: 'bias + gelu', bias: true, activation: 'gelu-tanh' };
    const { gpu, cpu } = run(dtype, 'bf16', v, 200);
    expectClose(gpu, cpu, TOL[dtype], `${dtype} activations, bf16 weights`);
  });

  it('reads a row-strided activation view in place', () => {
    const a = randomPair([64, 2 * K], 'bf16', 300);
    const w = randomPair([N, K], 'bf16', 301);
    const gpu = ops.gemm(a.gpu.view([64, K], { strides: [2 * K, 1], offset: K }), w.gpu);
    const cpu = ops.gemm(a.cpu.view([64, K], { strides: [2 * K, 1], offset: K }), w.cpu);
    expectClose(gpu, cpu, TOL.bf16, 'strided a');
  });
});
