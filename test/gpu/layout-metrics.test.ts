// Patchify / unpatchify (pure data movement: exact in every dtype) and the residual metrics
// (fp32 per row, double across rows, as the CPU: the same values give sums equal to rtol 1e-5)
// on the device against the CPU ops on the same rounded values.
import { describe, expect, it } from 'vitest';

import { ops, type Patch } from '../../lib/index.js';
import { expectClose, FLOAT_DTYPES, gpuUnavailable, randomPair } from './device.js';

const EXACT = { atol: 0, rtol: 0 };
const SUMS = 1e-5;

function expectRelative(gpu: number, cpu: number, what: string): void {
  expect(Math.abs(gpu - cpu) <= SUMS * Math.abs(cpu), `${what}: gpu ${gpu}, cpu ${cpu}`).toBe(true);
}

describe.skipIf(gpuUnavailable !== null)('cuda layout and metrics', () => {
  for (const dtype of FLOAT_DTYPES) {
    describe(dtype, () => {
      it('patchifies with end padding and a strided video, and unpatchifies back', () => {
        const patch: Patch = [1, 2, 2];
        const base = randomPair([2, 4, 5, 7, 9], dtype, 1);
        // Channels 1..3 of a 4-channel video: a strided view.
        const view = (s: 'gpu' | 'cpu') => base[s].view([2, 3, 5, 7, 9], { offset: 5 * 7 * 9, strides: [4 * 315, 315, 63, 9, 1] });
        const gpu = ops.patchify(view('gpu'), patch);
        const cpu = ops.patchify(view('cpu'), patch);
        expectClose(gpu, cpu, EXACT, 'patchify');
        const tokens = randomPair(gpu.shape, dtype, 2);
        const shape = [2, 3, 5, 7, 9];
        expectClose(ops.unpatchify(tokens.gpu, patch, shape), ops.unpatchify(tokens.cpu, patch, shape), EXACT, 'unpatchify');
      });

      it('unpatchifies the first channels of wider tokens', () => {
        const patch: Patch = [2, 2, 2];
        const tokens = randomPair([1, 2 * 2 * 3, 8 * 6], dtype, 3);
        const shape = [1, 4, 3, 4, 5];
        expectClose(ops.unpatchify(tokens.gpu, patch, shape), ops.unpatchify(tokens.cpu, patch, shape), EXACT, 'unpatchify');
      });

      it.each(['l1', 'l2'] as const)('measures the %s residual distance and refreshes the cache', (norm) => {
        const cache = randomPair([3, 17, 300], dtype, 4);
        const fresh = randomPair([3, 17, 300], dtype, 5);
        const gpu = ops.residualDistance(cache.gpu, fresh.gpu, { norm, update: true });
        const cpu = ops.residualDistance(cache.cpu, fresh.cpu, { norm, update: true });
        expectRelative(gpu.num, cpu.num, 'num');
        expectRelative(gpu.den, cpu.den, 'den');
        expectClose(cache.gpu, fresh.cpu, EXACT, 'cache after update');
      });

      it('scores motion for several frame strides', () => {
        const r = randomPair([2, 6 * 10, 48], dtype, 6);
        const gpu = ops.motionScore(r.gpu, 6, [1, 2, 5]);
        const cpu = ops.motionScore(r.cpu, 6, [1, 2, 5]);
        gpu.forEach((g, i) => expectRelative(g, cpu[i]!, `stride index ${i}`));
      });
    });
  }
});
