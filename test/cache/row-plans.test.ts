// The model's side of the caching plans, checked against runs that need none of it: a row that
// runs in a smaller batch (absent rows, or rows that compute beside rows that reuse) gives what it
// gives in the full batch; a row that reuses adds exactly its own kept stack residual; a kept branch
// reused at the same input gives the computed step back; a branch's two-step history holds what the
// two computed steps kept. Equality is exact where the same float operations run in the same order
// (rows never mix in any op); the tolerance stated otherwise.
import { afterAll, describe, expect, it } from 'vitest';

import { ResidualCache, type BlockPlan, type StepPlan } from '../../lib/cache/plan.js';
import { loadModel } from '../../lib/models/stdit3/model.js';
import { startProfile, stopProfile } from '../../lib/ops/profile.js';
import { gaussianNoise } from '../../lib/sampling/noise.js';
import { tensor, type Tensor } from '../../lib/tensor.js';
import { Vocabulary } from '../../lib/text/vocabulary.js';
import { TINY_MODEL } from '../helpers/golden.js';

const model = loadModel(TINY_MODEL);
const { y, mask } = Vocabulary.load(TINY_MODEL).encode([
  'a red circle moving right quickly on night',
  'a white square resting on desert',
  'a blue square moving down quickly on forest',
  'a yellow circle resting on night',
]);
const caption = model.encodeCaption(y, mask);
const R = 4;
const [T, H, W] = [4, 8, 8];
const per = 4 * T * H * W;
const noise = (seed: number) => tensor(gaussianNoise(seed, R * per), [R, 4, T, H, W]);
const x0 = noise(1), x1 = noise(2);
afterAll(() => {
  for (const t of [x0, x1, y]) t.dispose();
  caption.dispose();
  model.dispose();
});

const run = (x: Tensor, t: number, plan: StepPlan, cache?: ResidualCache) => {
  const r = model.run({ x, timestep: new Array(R).fill(t), caption }, { plan, ...(cache ? { residualCache: cache } : {}) });
  const data = r.out!.toFloat32Array();
  r.out!.dispose();
  return { data, rows: r.rows };
};
const row = (data: Float32Array, r: number) => data.subarray(r * per * 2, (r + 1) * per * 2); // out has 2·C_in channels
const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i]!)), 0);
const ALL: StepPlan = { compute: true, probes: [] };

describe('rows of a plan', () => {
  it('runs only the present rows, each as it runs in the full batch, and leaves zeros in the absent ones', () => {
    const full = run(x0, 700, ALL);
    for (const present of [[true, false, true, false], [false, true, true, false], [false, false, false, true]]) {
      const part = run(x0, 700, { ...ALL, present });
      expect(part.rows).toEqual(present.map((p) => (p ? 'compute' : 'absent')));
      for (let r = 0; r < R; r++) {
        if (present[r]) expect(maxDiff(row(part.data, r), row(full.data, r))).toBe(0);
        else expect(row(part.data, r).every((v) => v === 0)).toBe(true);
      }
    }
  });

  it('lets each row reuse its own kept stack residual while the others compute', () => {
    const cache = new ResidualCache();
    run(x0, 800, ALL, cache);
    const computed = run(x1, 700, ALL);
    const reused = run(x1, 700, { compute: false, probes: [] }, cache);
    startProfile();
    const mixed = run(x1, 700, { compute: [false, true, true, false], probes: [] }, cache);
    const profile = stopProfile();
    expect(mixed.rows).toEqual(['reuse', 'compute', 'compute', 'reuse']);
    for (let r = 0; r < R; r++) expect(maxDiff(row(mixed.data, r), row([0, 3].includes(r) ? reused.data : computed.data, r))).toBe(0);
    // the computing rows ran as a batch of two: per depth one spatial attention call, one temporal
    // per row, one cross-attention per block
    expect(profile.get('attention')!.calls).toBe(model.config.depth * (1 + 2 + 2));
    // a row never computed cannot reuse
    const fresh = new ResidualCache();
    run(x0, 800, { compute: true, present: [true, true, false, true], probes: [] }, fresh);
    expect(() => run(x1, 700, { compute: [true, true, false, false], probes: [] }, fresh)).toThrow(/filled by an earlier computed step/);
    cache.dispose();
    fresh.dispose();
  });
});

describe('branch reuse', () => {
  const every = (bp: BlockPlan) => () => bp;

  it('gives the computed step back when every kept branch is reused at the same input', () => {
    const cache = new ResidualCache();
    const plain = run(x1, 600, ALL);
    const kept = run(x1, 600, { ...ALL, blocks: every({ keep: { attn: 'gated', cross: true } }) }, cache);
    expect(maxDiff(kept.data, plain.data)).toBe(0); // keeping does not change the computation
    startProfile();
    const reused = run(x1, 600, { ...ALL, blocks: every({ attn: 'reuse', cross: 'reuse' }) }, cache);
    const profile = stopProfile();
    expect(profile.get('attention')).toBeUndefined();
    expect(maxDiff(reused.data, plain.data)).toBe(0);
    const b = cache.breakdown;
    expect(b.branches).toBe(2 * 2 * model.config.depth * R * T * (H / 2) * (W / 2) * model.config.hiddenSize * 4);
    cache.dispose();
  });

  it("keeps the ungated self-attention's last two outputs and extrapolates o1 + w·(o1 − o0) gated anew", () => {
    const cache = new ResidualCache();
    const keep = every({ keep: { attn: 'history' } });
    const a = run(x0, 600, { ...ALL, blocks: keep }, cache);
    expect(maxDiff(a.data, run(x0, 600, ALL).data)).toBe(0);
    run(x1, 600, { ...ALL, blocks: keep }, cache);
    // w = 0: the newest output (x1's); w = −1: the older (x0's), gated by this step's gate, which at
    // the same timestep is the gate PAB's gated residual was kept with.
    const newest = run(x1, 600, { ...ALL, blocks: every({ attn: { extrapolate: 0 } }) }, cache);
    expect(maxDiff(newest.data, run(x1, 600, ALL).data)).toBe(0);
    const pab = new ResidualCache();
    run(x0, 600, { ...ALL, blocks: every({ keep: { attn: 'gated' } }) }, pab);
    const older = run(x1, 600, { ...ALL, blocks: every({ attn: { extrapolate: -1 } }) }, cache);
    const gated = run(x1, 600, { ...ALL, blocks: every({ attn: 'reuse' }) }, pab);
    // (1 + w)·o1 − w·o0 at w = −1 is 0·o1 + o0: exact
    expect(maxDiff(older.data, gated.data)).toBe(0);
    cache.dispose();
    pab.dispose();
  });

  it("lets an absent row's kept outputs follow a present row", () => {
    const cache = new ResidualCache();
    run(x0, 600, { ...ALL, blocks: every({ keep: { attn: 'gated', cross: true } }) }, cache);
    // rows 2 and 3 absent, following rows 0 and 1
    run(x1, 600, { ...ALL, present: [true, true, false, false], follow: [undefined, undefined, 0, 1], blocks: every({ keep: { attn: 'gated', cross: true } }) }, cache);
    const s0 = cache.branches.get('s0:attn')!;
    const rowsOf = (t: Tensor, r: number) => {
      const n = t.shape[0]! / R;
      return t.toFloat32Array().subarray(r * n * t.shape[1]!, (r + 1) * n * t.shape[1]!);
    };
    expect(maxDiff(rowsOf(s0.tensor, 2), rowsOf(s0.tensor, 0))).toBe(0);
    expect(maxDiff(rowsOf(s0.tensor, 3), rowsOf(s0.tensor, 1))).toBe(0);
    cache.dispose();
  });
});
