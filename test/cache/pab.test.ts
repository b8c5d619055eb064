// PAB: per step and block, which attention outputs were broadcast, against the published rule
// (VideoSys pab_mgr.py if_broadcast_*: count % range != 0 and low < int(t) < high) on the run's own
// timesteps; intervals of 1 equal the uncached run bit for bit; the cache holds one kept output per
// block and broadcast branch.
import { afterAll, describe, expect, it } from 'vitest';

import type { PabSpec } from '../../lib/cache/index.js';
import { samplingSchedule } from '../../lib/sampling/rflow.js';
import { SHAPE, STEPS, disposeTinyModel, generateSmall, maxAbsDiff, rowTensorBytes, tinyModel } from '../helpers/policy-runs.js';

afterAll(disposeTinyModel);

const published = (interval: number, count: number, t: number) => count % interval !== 0 && 450 < Math.trunc(t) && Math.trunc(t) < 930;

describe('PAB', () => {
  it('broadcasts spatial, temporal and cross-attention as the published rule does', () => {
    const { timesteps } = samplingSchedule({ steps: STEPS, ...SHAPE });
    const depth = tinyModel().config.depth;
    for (const [preset, [s, t, c]] of [['pab-246', [2, 4, 6]], ['pab-579', [5, 7, 9]]] as const) {
      const { trace } = generateSmall(preset);
      let broadcastSteps = 0;
      for (const d of trace.decisions) {
        const count = d.step - 1, ts = timesteps[count]!;
        const names = (kind: 's' | 't') => Array.from({ length: depth }, (_, i) => `${kind}${i}`);
        const attn = [...(published(s, count, ts) ? names('s') : []), ...(published(t, count, ts) ? names('t') : [])].sort();
        const cross = published(c, count, ts) ? [...names('s'), ...names('t')].sort() : [];
        expect([...(d.attnReused ?? [])].sort()).toEqual(attn);
        expect([...(d.crossReused ?? [])].sort()).toEqual(cross);
        expect(d.rows).toEqual(['compute', 'compute']);
        if (attn.length || cross.length) broadcastSteps++;
      }
      console.log(`${preset}: ${broadcastSteps}/${STEPS} steps broadcast some attention; computed ${(100 * trace.computedFraction).toFixed(1)}% of the block work`);
      expect(broadcastSteps).toBeGreaterThan(0);
      expect(trace.computedFraction).toBeLessThan(1);
      // every block keeps its self-attention and cross-attention output for the broadcast steps
      expect(trace.cacheBreakdown).toEqual({ stack: 0, probes: 0, gates: 0, branches: 4 * depth * rowTensorBytes(), guidance: 0 });
    }
  });

  it('equals the uncached run when every interval is 1', () => {
    const spec: PabSpec = { kind: 'pab', spatial: { interval: 1, range: [450, 930] }, temporal: { interval: 1, range: [450, 930] }, cross: { interval: 1, range: [450, 930] } };
    const one = generateSmall(spec);
    expect(one.trace.decisions.every((d) => !d.attnReused && !d.crossReused)).toBe(true);
    expect(one.trace.cacheBytes).toBe(0);
    expect(maxAbsDiff(one.latent, generateSmall('none').latent)).toBe(0);
  });
});
