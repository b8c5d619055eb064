// First-Block Cache: decisions replayed on the recorded changes by the published rule
// (ParaAttention get_can_use_cache / are_two_tensors_similar); the change compared is the first
// block's residual against the one kept at the last step that ran the rest, computed here from
// the block's two branch residuals; threshold 0 equals the uncached run bit for bit; the cache
// holds the tail's stack residual and the kept first-block residual.
import { afterAll, describe, expect, it } from 'vitest';

import { ResidualCache, type StepPlan } from '../../lib/cache/plan.js';
import { gaussianNoise } from '../../lib/sampling/noise.js';
import { tensor } from '../../lib/tensor.js';
import { STEPS, computedBy, disposeTinyModel, generateSmall, maxAbsDiff, rowTensorBytes, tinyModel } from '../helpers/policy-runs.js';

afterAll(disposeTinyModel);

describe('First-Block Cache', () => {
  it('decides as the published rule on the recorded changes', () => {
    for (const [preset, threshold] of [['fbcache-slow', 0.05], ['fbcache-fast', 0.1]] as const) {
      const { trace } = generateSmall(preset);
      const change = new Map(trace.evaluations.map((e) => [e.step, e.distance]));
      // step 1 has nothing to compare with; then reuse iff threshold > 0 and change < threshold
      const expected = Array.from({ length: STEPS }, (_, i) => i + 1).filter((s) => s === 1 || !(threshold > 0 && change.get(s)! < threshold));
      expect(computedBy(trace, 0)).toEqual(expected);
      // rows that reuse still ran the first block: a reused step does a head's share of the work
      for (const d of trace.decisions) expect(d.computed).toBeGreaterThan(0);
      console.log(`${preset}: computed ${expected.length}/${STEPS}: ${expected.join(' ')}`);
    }
  });

  it('compares the first block residual with the one of the last step that ran the rest', () => {
    const model = tinyModel();
    const { y, mask } = { y: tensor(gaussianNoise(9, 2 * 8 * 64), [2, 1, 8, 64]), mask: [[1, 1, 1, 1, 1, 1, 1, 1]] };
    const caption = model.encodeCaption(y, mask);
    const xs = [0, 1, 2].map((s) => tensor(gaussianNoise(20 + s, 2 * 4 * 5 * 8 * 8), [2, 4, 5, 8, 8]));
    // the first block's residual at x: its two branch residuals, kept by probes on a fresh cache
    const headResidual = (x: (typeof xs)[0]) => {
      const c = new ResidualCache();
      model.run({ x, timestep: [500, 500], caption }, { plan: { compute: true, probes: (['attn', 'ca-mlp'] as const).map((branch) => ({ kind: 'spatial', index: 0, branch, norm: 'l1' })) }, residualCache: c }).out!.dispose();
      const [a, b] = [...c.slots.values()].map((s) => s.tensor.toFloat32Array());
      c.dispose();
      return a!.map((v, i) => v + b![i]!);
    };
    const rel = (prev: Float32Array, now: Float32Array) => prev.reduce((s, v, i) => s + Math.abs(v - now[i]!), 0) / prev.reduce((s, v) => s + Math.abs(v), 0);
    const cache = new ResidualCache();
    const seen: (number | null)[] = [];
    const plan = (compute: boolean): StepPlan => ({ compute: true, probes: [], head: 1, gate: { signal: 'head-residual', groups: [[0, 2]], decide: ([c]) => (seen.push(c ?? null), [compute || c === null]) } });
    for (const [i, x] of xs.entries()) model.run({ x, timestep: [500, 500], caption }, { plan: plan(i !== 1), residualCache: cache }).out!.dispose();
    const [r0, r1, r2] = xs.map(headResidual);
    expect(seen[0]).toBeNull();
    expect(seen[1]).toBeCloseTo(rel(r0!, r1!), 5);
    // step 2 reused the rest, so step 3 compares with step 1's residual, not step 2's
    expect(seen[2]).toBeCloseTo(rel(r0!, r2!), 5);
    expect(Math.abs(seen[2]! - rel(r1!, r2!))).toBeGreaterThan(1e-3);
    for (const t of [...xs, y]) t.dispose();
    caption.dispose();
    cache.dispose();
  });

  it('equals the uncached run with threshold 0, and holds the tail residual and the first block residual', () => {
    const none = generateSmall('none');
    const zero = generateSmall({ kind: 'fbcache', threshold: 0 });
    expect(zero.trace.computedSteps.length).toBe(STEPS);
    expect(maxAbsDiff(zero.latent, none.latent)).toBe(0);
    const fast = generateSmall('fbcache-fast');
    expect(fast.trace.cacheBreakdown).toEqual({ stack: rowTensorBytes(), probes: 0, gates: rowTensorBytes(), branches: 0, guidance: 0 });
  });
});
