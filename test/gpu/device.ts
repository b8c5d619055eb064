// Plumbing of the GPU suite: whether a CUDA device can run ops (the suite is skipped, with a
// note, when none can), deterministic data, and GPU/CPU pairs holding identical values.
//
// Every GPU op is checked against the CPU op run on the same values: inputs are rounded to the
// dtype under test once, on the device, and the CPU reference reads those rounded values back as
// f32. What remains is the GPU's own arithmetic and its output rounding, which the tolerances in
// each file bound.
import { expect } from 'vitest';

import { runtime, tensor, type DType, type Tensor } from '../../lib/index.js';
import { compare } from '../helpers/golden.js';

export const gpuUnavailable: string | null = runtime.deviceUnavailableReason('cuda');
if (gpuUnavailable !== null) console.log(`GPU tests skipped: ${gpuUnavailable}`);

export type FloatDType = 'f32' | 'f16' | 'bf16';
export const FLOAT_DTYPES: readonly FloatDType[] = ['f32', 'f16', 'bf16'];

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** Deterministic values in [-amp, amp]. */
export function random(n: number, seed: number, amp = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * amp;
  }
  return out;
}

export interface Pair {
  gpu: Tensor;
  /** f32 on the CPU, holding exactly the GPU tensor's (rounded) values */
  cpu: Tensor;
}

export function pair(data: Float32Array, shape: readonly number[], dtype: DType): Pair {
  const gpu = tensor(data, shape, { device: 'cuda', dtype });
  return { gpu, cpu: tensor(gpu.toFloat32Array(), shape) };
}

export function randomPair(shape: readonly number[], dtype: DType, seed: number, amp = 1): Pair {
  return pair(random(shape.reduce((a, b) => a * b, 1), seed, amp), shape, dtype);
}

export function expectClose(gpu: Tensor, cpu: Tensor, tol: Tolerance, what: string): void {
  expect(gpu.device).toBe('cuda');
  const { maxAbs, ok } = compare(gpu.toFloat32Array(), cpu.toFloat32Array(), tol);
  expect(ok, `${what}: largest |gpu - cpu| = ${maxAbs} (atol ${tol.atol}, rtol ${tol.rtol})`).toBe(true);
}
