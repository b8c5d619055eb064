// Ca2-VDM extension on the causal fixture: 'none' and 'window' against the golden AR runs
// (manifest tolerance atol 1e-2 rtol 1e-3: three chunks of CFG-7 sampling amplify rounding),
// 'window' against 'none', 'stream' against the growing-context recompute while nothing is
// evicted, and the KV cache bounded by its capacity.
import { afterAll, describe, expect, it } from 'vitest';

import { extendSync } from '../../lib/causal/extend.js';
import { loadModel } from '../../lib/models/stdit3/model.js';
import { tensor } from '../../lib/tensor.js';
import { gaussianNoise } from '../../lib/sampling/noise.js';
import { CAUSAL_MODEL, compare, goldenCase, openGolden } from '../helpers/golden.js';

const model = loadModel(CAUSAL_MODEL);
afterAll(() => model.dispose());

function maskRows(m: Float32Array, L: number): number[][] {
  return Array.from({ length: m.length / L }, (_, b) => Array.from(m.subarray(b * L, (b + 1) * L)));
}

describe('autoregressive extension', () => {
  for (const name of ['ar_stdit3-tiny-causal_k2_n6x2_16x16', 'ar_stdit3-tiny-causal_k4_n4x3_16x16']) {
    it(`${name}: 'none' and 'window' match the golden runs`, () => {
      const c = goldenCase(name);
      const g = openGolden(c);
      const chunks = c['num_chunks'] as number;
      const base = {
        condition: g.tensor('cond'),
        y: g.tensor('y'),
        mask: maskRows(g.float32('mask'), g.entries.get('mask')!.shape[1]!),
        chunks,
        framesPerChunk: c['chunk_len'] as number,
        maxCacheFrames: c['cond_len'] as number,
        steps: 30,
        cfgScale: 7,
        noise: Array.from({ length: chunks }, (_, j) => g.tensor(`noise_chunk${j}`)),
      };
      const none = extendSync(model, { ...base, kvCache: 'none' });
      const window = extendSync(model, { ...base, kvCache: 'window' });
      const rn = compare(none.latent.toFloat32Array(), g.float32('out'), c.tolerance);
      const rw = compare(window.latent.toFloat32Array(), g.float32('out_kv_cache'), c.tolerance);
      // Exact: 'window' computes the conditioning frames' K/V with the same kernels over the same
      // rows as 'none' and reads them in the same key order. Measured bitwise equal (max |Δ| 0) on
      // both fixtures with the avx512, avx2 and portable kernels and 1, 2 and 3 threads, so any
      // difference is a change of computation, not of rounding.
      const rnw = compare(window.latent.toFloat32Array(), none.latent.toFloat32Array(), { atol: 0, rtol: 0 });
      console.log(`${name}: none ${rn.maxAbs.toExponential(2)}, window ${rw.maxAbs.toExponential(2)} from golden; window vs none ${rnw.maxAbs.toExponential(2)}`);
      expect(rn.ok).toBe(true);
      expect(rw.ok).toBe(true);
      expect(rnw.ok).toBe(true);
      expect(window.trace.chunks.every((ch) => ch.modelFrames === base.framesPerChunk)).toBe(true);
      g.close();
    });
  }

  it("'stream' equals the growing-context recompute until the first eviction, and the cache stays within capacity", () => {
    const b = 1, C = 4, H = 8, W = 8, k = 2, n = 3, chunks = 3;
    const condition = tensor(gaussianNoise(7, b * C * k * H * W), [b, C, k, H, W]);
    const common = { condition, prompt: 'a red circle moving right quickly on night', chunks, framesPerChunk: n, steps: 3, seed: 11 };
    const grow = extendSync(model, { ...common, kvCache: 'none', maxCacheFrames: Infinity });
    const stream = extendSync(model, { ...common, kvCache: 'stream', maxCacheFrames: k + chunks * n });
    const r = compare(stream.latent.toFloat32Array(), grow.latent.toFloat32Array(), { atol: 1e-4, rtol: 1e-4 });
    console.log(`stream vs growing context (no eviction): max |Δ| = ${r.maxAbs.toExponential(2)}`);
    expect(r.ok).toBe(true);
    expect(stream.trace.chunks.map((c) => c.contextFrames)).toEqual([2, 5, 8]);

    const capacity = 4;
    const bounded = extendSync(model, { ...common, kvCache: 'stream', maxCacheFrames: capacity });
    for (const ch of bounded.trace.chunks) {
      expect(ch.kvCacheFrames).toBeLessThanOrEqual(capacity);
      expect(ch.contextFrames).toBeLessThanOrEqual(capacity);
    }
    expect(bounded.trace.peakKvCacheBytes).toBe(stream.trace.peakKvCacheBytes * capacity / (k + chunks * n));
  });
});
