// A cached step is x_in + Σ cached residuals. The model keeps that sum as one tensor; this checks
// that a cached step runs no block at all, and that the summed tensor equals the sum of the
// per-branch residual slots the same computed step recorded through probes (the residuals the
// authors keep per block, two per block), added one by one. It does not run a separate per-block
// cache implementation: both sides come from the same computed step. Tolerance 1e-4 abs: float
// summation order.
import { afterAll, describe, expect, it } from 'vitest';

import { ResidualCache, RowTensor, type Probe } from '../../lib/cache/plan.js';
import { loadModel } from '../../lib/models/stdit3/model.js';
import { startProfile, stopProfile } from '../../lib/ops/profile.js';
import { ops } from '../../lib/ops/index.js';
import { tensor } from '../../lib/tensor.js';
import { gaussianNoise } from '../../lib/sampling/noise.js';
import { Vocabulary } from '../../lib/text/vocabulary.js';
import { TINY_MODEL, compare } from '../helpers/golden.js';

const model = loadModel(TINY_MODEL);
afterAll(() => model.dispose());

describe('summed residual cache', () => {
  it('equals the sum of the per-branch residuals of its computed step, and skips every block on a cached step', () => {
    const { y, mask } = Vocabulary.load(TINY_MODEL).encode(['a red circle moving right quickly on night', 'a white square resting on desert']);
    const caption = model.encodeCaption(y, mask);
    const [T, H, W] = [4, 8, 8];
    const x0 = tensor(gaussianNoise(1, 2 * 4 * T * H * W), [2, 4, T, H, W]);
    const x1 = tensor(gaussianNoise(2, 2 * 4 * T * H * W), [2, 4, T, H, W]);
    const inputs = (x: typeof x0, t: number) => ({ x, timestep: [t, t], caption });

    // Every block branch as a probe: on the first computed step each probe slot keeps a copy of
    // that block's residual, which is the per-block cache of the authors' formulation.
    const probes: Probe[] = [];
    for (let i = 0; i < model.config.depth; i++) {
      for (const kind of ['spatial', 'temporal'] as const) {
        for (const branch of ['attn', 'ca-mlp'] as const) probes.push({ kind, index: i, branch, norm: 'l1' });
      }
    }
    const cache = new ResidualCache();
    model.run(inputs(x0, 800), { plan: { compute: true, probes }, residualCache: cache }).out!.dispose();
    expect(cache.slots.size).toBe(4 * model.config.depth);

    startProfile();
    const summed = model.run(inputs(x1, 700), { plan: { compute: false, probes: [] }, residualCache: cache }).out!;
    const profile = stopProfile();
    expect(profile.get('attention')).toBeUndefined();
    expect(profile.get('gemm')!.calls).toBeLessThanOrEqual(8); // embedders and the final layer only

    // Per-block: the sum of the 4·depth residuals, block by block, replaces the summed residual.
    const perBlock = new ResidualCache();
    const slots = [...cache.slots.values()].map((s) => s.tensor);
    perBlock.stack = new RowTensor(slots[0]!.clone(), 2);
    perBlock.stack.filled.fill(1);
    const perBlockSum = perBlock.stack.tensor;
    for (const s of slots.slice(1)) ops.add(perBlockSum, s, { out: perBlockSum });
    const blockwise = model.run(inputs(x1, 700), { plan: { compute: false, probes: [] }, residualCache: perBlock }).out!;
    const r = compare(summed.toFloat32Array(), blockwise.toFloat32Array(), { atol: 1e-4, rtol: 0 });
    console.log(`summed vs per-block residuals: max |Δ| = ${r.maxAbs.toExponential(2)}; memory ${cache.sum!.storageBytes} B vs ${slots.reduce((n, s) => n + s.storageBytes, 0)} B`);
    expect(r.ok).toBe(true);
    for (const t of [summed, blockwise, x0, x1, y]) t.dispose();
    cache.dispose();
    perBlock.dispose();
    caption.dispose();
  });
});
