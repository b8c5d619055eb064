// The iDDPM schedule and step against the authors' IDDPM (test/fixtures/causal-stdit2/iddpm):
// respaced timesteps exactly, the float32 coefficient arrays and single p_sample steps to float32
// rounding (measured: arrays within 1 ulp, steps within 6e-8 of values near 1).
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { SafetensorsReader } from '../../lib/io/safetensors.js';
import { iddpmSchedule, pSample, respacedPerturbStep, spaceTimesteps, type IddpmSchedule } from '../../lib/sampling/iddpm.js';
import { compare, FIXTURES } from '../helpers/golden.js';

const g = SafetensorsReader.open(join(FIXTURES, 'causal-stdit2', 'iddpm.safetensors'));
const ARRAYS: [string, keyof IddpmSchedule][] = [
  ['betas', 'betas'],
  ['sqrt_alphas_cumprod', 'sqrtAlphasCumprod'],
  ['sqrt_one_minus_alphas_cumprod', 'sqrtOneMinusAlphasCumprod'],
  ['posterior_log_variance_clipped', 'posteriorLogVarianceClipped'],
  ['posterior_mean_coef1', 'posteriorMeanCoef1'],
  ['posterior_mean_coef2', 'posteriorMeanCoef2'],
  ['sqrt_recip_alphas_cumprod', 'sqrtRecipAlphasCumprod'],
  ['sqrt_recipm1_alphas_cumprod', 'sqrtRecipm1AlphasCumprod'],
];

describe('iDDPM', () => {
  for (const n of [20, 100, 1000]) {
    it(`${n} steps: the respaced timesteps and coefficients`, () => {
      const s = iddpmSchedule(String(n));
      expect(Array.from(s.timestepMap)).toEqual(Array.from(g.raw(`n${n}.timestep_map`) as BigInt64Array, Number));
      for (const [name, key] of ARRAYS) {
        const ref = g.float32(`n${n}.${name}`);
        const r = compare(s[key] as Float32Array, ref, { atol: 0, rtol: 2.4e-7 });
        expect(r.ok, `${name}: max |Δ| ${r.maxAbs}`).toBe(true);
      }
    });
  }

  it('p_sample with the learned-range variance, at the first, a middle and the last step', () => {
    const s = iddpmSchedule('100');
    const x0 = g.float32('step.x');
    const out = g.float32('step.model_out');
    const noise = g.float32('step.noise');
    const half = out.length / 2;
    // [1, 2C, T, H, W]: the first C channels are the noise, the next C the variance interpolation.
    const eps = out.subarray(0, half), v = out.subarray(half);
    for (const t of [99, 37, 0]) {
      const x = Float32Array.from(x0);
      pSample(s, x, t, eps, v, noise);
      const r = compare(x, g.float32(`step${t}.sample`), { atol: 2e-6, rtol: 2e-6 });
      console.log(`p_sample t=${t}: max |Δ| ${r.maxAbs.toExponential(2)}`);
      expect(r.ok).toBe(true);
    }
  });

  it('space_timesteps sections, ddim strides, and the respaced prefix perturbation', () => {
    expect(spaceTimesteps(10, '2,3')).toEqual([0, 4, 5, 7, 9]);
    expect(spaceTimesteps(1000, 'ddim4')).toEqual([0, 250, 500, 750]);
    expect(() => spaceTimesteps(10, '7,1')).toThrow(RangeError);
    expect(respacedPerturbStep(iddpmSchedule('100'), 50)).toBe(5);
    expect(respacedPerturbStep(iddpmSchedule('20'), 50)).toBe(1);
    expect(() => respacedPerturbStep(iddpmSchedule('10'), 50)).toThrow(/prefixPerturbT 0/);
  });
});
