// MagCache: decisions against the published Open-Sora rule written out here (Zehong-Ma/MagCache
// eval/magcache/experiments/opensora.py lines 297–308) on the ratios of the spec; the authors'
// nearest_interp for other step counts; threshold 0 on ratios that never reach 1 exactly equals
// the uncached run; the cache holds the stack residual only.
import { afterAll, describe, expect, it } from 'vitest';

import { MAGCACHE_OPEN_SORA_LISTED, nearestInterp, type MagCacheSpec } from '../../lib/cache/index.js';
import { STEPS, computedBy, disposeTinyModel, generateSmall, maxAbsDiff, rowTensorBytes } from '../helpers/policy-runs.js';

afterAll(disposeTinyModel);

function publishedMagCache(ratio: readonly number[], steps: number, thresh: number, K: number, skipTime: number): number[] {
  const computed: number[] = [];
  let sim = 1, accSteps = 0, err = 0;
  for (let t = 0; t < steps; t++) {
    let skip = false;
    if (t >= skipTime) {
      sim *= ratio[t - 1]!;
      accSteps += 1;
      err += 1 - sim;
      if (err <= thresh && accSteps <= K) skip = true;
      else [sim, accSteps, err] = [1, 0, 0];
    }
    if (!skip) computed.push(t + 1);
  }
  return computed;
}

describe('MagCache', () => {
  it('decides as the published rule (Open-Sora setting and the faster one)', () => {
    const ratios = MAGCACHE_OPEN_SORA_LISTED.map((r) => r ** 0.5);
    for (const [preset, thresh, K] of [['magcache-slow', 0.12, 3], ['magcache-fast', 0.24, 6]] as const) {
      const { trace } = generateSmall(preset);
      const expected = publishedMagCache(ratios, STEPS, thresh, K, 6);
      expect(computedBy(trace, 0)).toEqual(expected);
      expect(computedBy(trace, 1)).toEqual(expected);
      expect(trace.cacheBreakdown).toEqual({ stack: rowTensorBytes(), probes: 0, gates: 0, branches: 0, guidance: 0 });
      console.log(`${preset}: computed ${expected.length}/${STEPS}: ${expected.join(' ')}`);
    }
  });

  it('resamples the ratios as the authors\' nearest_interp (numpy rounding, halves to even)', () => {
    const src = Array.from({ length: 5 }, (_, i) => i * 10);
    // scale 4/8 = 0.5: indices round(0, .5, 1, 1.5, 2, 2.5, 3, 3.5, 4) = 0 0 1 2 2 2 3 4 4
    expect(nearestInterp(src, 9)).toEqual([0, 0, 10, 20, 20, 20, 30, 40, 40]);
    expect(nearestInterp(src, 1)).toEqual([40]);
  });

  it('equals the uncached run with threshold 0 when no ratio is exactly 1', () => {
    const spec: MagCacheSpec = { kind: 'magcache', threshold: 0, maxSkips: 3, retention: 0.2, ratios: Array.from({ length: STEPS - 1 }, (_, i) => 0.999 - i * 1e-4) };
    const zero = generateSmall(spec);
    expect(zero.trace.computedSteps.length).toBe(STEPS);
    expect(maxAbsDiff(zero.latent, generateSmall('none').latent)).toBe(0);
  });
});
