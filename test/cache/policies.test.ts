// Caching policies as pure decision logic: AdaCache's forced steps, rate bookkeeping and strict
// codebook comparisons; fixed intervals; presets and the step-count rule; calibration replay.
import { describe, expect, it } from 'vitest';

import { adaCache, adaCachePreset, codebookRate, CODEBOOK_100, CODEBOOK_30_FAST, CODEBOOK_30_SLOW, createPolicy, fixed, scaleCodebook } from '../../lib/cache/index.js';
import { calibrateFromRuns, replay, type CalibrationRun } from '../../lib/cache/calibrate.js';
import type { Observation } from '../../lib/cache/plan.js';

function drive(policy: ReturnType<typeof createPolicy>, steps: number, distance: (step: number) => number, motion?: (step: number) => number) {
  policy.start(steps);
  const computed: number[] = [];
  let first = true;
  for (let s = 1; s <= steps; s++) {
    const plan = policy.plan(s);
    if (!plan.compute) continue;
    computed.push(s);
    const obs: Observation[] = plan.probes.map((probe) => ({
      probe,
      distance: first ? null : distance(s),
      motion: motion && probe.motionStrides ? [motion(s)] : null,
    }));
    policy.observe(s, obs);
    first = false;
  }
  return computed;
}

describe('AdaCache decisions', () => {
  it('maps distances to rates with strict < and never compares the last threshold', () => {
    expect(codebookRate(CODEBOOK_30_FAST, 0.0799)).toBe(6);
    expect(codebookRate(CODEBOOK_30_FAST, 0.08)).toBe(5);
    expect(codebookRate(CODEBOOK_30_FAST, 0.4)).toBe(1);
    expect(codebookRate(CODEBOOK_30_FAST, 5)).toBe(1);
  });

  it('always computes steps 1, N-1 and N, and otherwise at prev + rate', () => {
    const p = createPolicy('adacache-fast', 30, 4);
    const computed = drive(p, 30, () => 0.01); // tiny change: rate 6 from step 2 on
    expect(computed).toEqual([1, 2, 8, 14, 20, 26, 29, 30]);
    expect(p.evaluations[0]).toMatchObject({ step: 2, prevRate: 1, newRate: 6, block: 't1' });
    // the distance is divided by the rate in force, even when a forced step shortened the gap
    const at29 = p.evaluations.find((e) => e.step === 29)!;
    expect(at29.prevRate).toBe(6);
    expect(at29.distance).toBeCloseTo(0.01 / 6, 12);
  });

  it('averages the probes of one step and takes the rate of the last', () => {
    const p = createPolicy(adaCache({ codebook: CODEBOOK_30_FAST, cacheRes: 'ca-mlp', cacheLoc: [1] }), 30, 4);
    p.start(30);
    p.observe(1, p.plan(1).probes.map((probe) => ({ probe, distance: null, motion: null })));
    const probes = p.plan(2).probes;
    expect(probes.map((q) => q.kind)).toEqual(['spatial', 'temporal']);
    p.observe(2, [{ probe: probes[0]!, distance: 0.1, motion: null }, { probe: probes[1]!, distance: 0.3, motion: null }]);
    expect(p.evaluations.map((e) => e.distance)).toEqual([0.1, 0.2]);
    expect(p.evaluations.map((e) => e.newRate)).toEqual([5, 4]);
    expect(p.plan(5).compute).toBe(false);
    expect(p.plan(6).compute).toBe(true);
  });

  it('applies MoReg inside its window only, with the motion gradient at every evaluation', () => {
    const spec = adaCachePreset('adacache-fast-moreg', 30, 4);
    expect(spec.moreg).toEqual({ strides: [1], steps: [4, 26], hyp: [0.385, 8, 1, 2], mogradMul: 10 });
    const p = createPolicy(spec, 30, 4);
    drive(p, 30, () => 0.05, () => 0.385);
    const inside = p.evaluations.filter((e) => e.step >= 4 && e.step <= 26);
    const outside = p.evaluations.filter((e) => e.step < 4);
    for (const e of outside) expect(e.moregRaw).toBe(1);
    for (const e of inside) expect(e.moregRaw).toBeCloseTo(1, 12);
  });
});

describe('fixed interval', () => {
  it('computes steps 1, 1+k, 1+2k, ...', () => {
    expect(drive(createPolicy(fixed({ interval: 3 }), 10, 4), 10, () => 0)).toEqual([1, 4, 7, 10]);
    expect(() => fixed({ interval: 0 })).toThrow(RangeError);
  });
});

describe('presets', () => {
  it('gives the authors codebooks at 30 and 100 steps', () => {
    expect(adaCachePreset('adacache-fast', 30, 28).codebook).toEqual(CODEBOOK_30_FAST);
    expect(adaCachePreset('adacache-slow', 30, 28).codebook).toEqual(CODEBOOK_30_SLOW);
    expect(adaCachePreset('adacache-100', 100, 28).codebook).toEqual(CODEBOOK_100);
    expect(adaCachePreset('adacache-fast', 30, 28).cacheLoc).toEqual([13]);
  });

  it('scales thresholds by base/steps and rates by steps/base for other step counts', () => {
    expect(scaleCodebook(CODEBOOK_30_FAST, 30, 60)).toEqual([[0.04, 12], [0.08, 10], [0.12, 8], [0.16, 6], [0.2, 4], [0.5, 2]]);
    expect(adaCachePreset('adacache-fast', 15, 4).codebook.map((c) => c[1])).toEqual([3, 3, 2, 2, 1, 1]);
  });

  it('rejects malformed specs with the reason', () => {
    expect(() => adaCache({ codebook: [[0.2, 2], [0.1, 1]], cacheLoc: [1] })).toThrow(/increase/);
    expect(() => adaCache({ codebook: [[0.1, 0]], cacheLoc: [1] })).toThrow(/rate/);
    expect(() => createPolicy('adacache-turbo', 30, 4)).toThrow(/unknown cache preset/);
    expect(() => createPolicy(adaCache({ codebook: CODEBOOK_30_FAST, cacheLoc: [9] }), 30, 4)).toThrow(/outside/);
  });
});

describe('calibration', () => {
  const run = (d: number, m: number): CalibrationRun => ({ prompt: '', seed: 0, distance: [null, ...Array(29).fill(d)], motion: Array(30).fill(m) });

  it('replays AdaCache on recorded per-step changes', () => {
    const spec = adaCachePreset('adacache-fast', 30, 4);
    expect(replay(spec, run(0.01, 0.2), 30)).toEqual([1, 2, 8, 14, 20, 26, 29, 30]);
  });

  it('fits the codebook to the target speedup, and MoReg gives moving videos more steps', () => {
    const runs = [run(0.02, 0.1), run(0.03, 0.2), run(0.04, 0.4)];
    const r = calibrateFromRuns(runs, { steps: 30, targetSpeedup: 3, moreg: true }, 4);
    expect(r.predictedSpeedup).toBeGreaterThan(2.5);
    expect(r.predictedSpeedup).toBeLessThan(3.6);
    expect(r.medianMotion).toBeCloseTo(0.2, 12);
    expect(r.spec.moreg!.hyp[0]).toBeCloseTo(0.2, 12);
    const [still, , moving] = r.predictedComputedSteps;
    expect(moving!).toBeGreaterThan(still!);
  });
});

describe('specs of the other policies', () => {
  it('builds them with the published defaults and validates them', async () => {
    const { teaCache, firstBlockCache, magCache, pab, fasterCache, presetSpec } = await import('../../lib/cache/index.js');
    expect(teaCache({ threshold: 0.2 })).toEqual(presetSpec('teacache-fast', 30, 4));
    expect(magCache({ threshold: 0.12 })).toEqual(presetSpec('magcache-slow', 30, 4));
    expect(fasterCache(30, { cfg: null })).toEqual(presetSpec('fastercache-attn', 30, 4));
    expect(firstBlockCache({ threshold: 0.05 })).toEqual(presetSpec('fbcache-slow', 30, 4));
    expect(pab(presetSpec('pab-357', 30, 4) as Parameters<typeof pab>[0])).toMatchObject({ spatial: { interval: 3 }, temporal: { interval: 5 }, cross: { interval: 7 } });
    expect(() => teaCache({ threshold: -1 })).toThrow(/threshold must be a finite number >= 0/);
    expect(() => magCache({ threshold: 0.1, maxSkips: -1 })).toThrow(/maxSkips/);
    expect(() => firstBlockCache({ threshold: 0.1, head: 0 })).toThrow(/head/);
    expect(() => createPolicy({ kind: 'fbcache', threshold: 0.1, head: 8 }, 30, 4)).toThrow(/head must be an integer in \[1, 8\)/);
    expect(() => pab({ spatial: { interval: 0, range: [1, 2] }, temporal: { interval: 1, range: [1, 2] }, cross: { interval: 1, range: [1, 2] } })).toThrow(/spatial.interval/);
    expect(() => fasterCache(30, { attention: { keepFrom: 5, after: 7, every: 0, slope: 0.1 } })).toThrow(/every/);
    expect(() => createPolicy({ kind: 'teacache', threshold: 0.1, coefficients: [1], decide: 'pairs' as never }, 30, 4)).toThrow(/decide must be/);
  });
});
