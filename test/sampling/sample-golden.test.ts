// 30-step RFlow sampling with CFG 7 against the golden runs: the schedule exactly (float32), the
// final latents within the manifest's tolerance (atol 5e-3, rtol 1e-3: CFG-7 sampling amplifies
// rounding, see manifest.json "sensitivity"), and AdaCache decisions exactly.
import { afterAll, describe, expect, it } from 'vitest';

import { generateSync } from '../../lib/generate.js';
import type { AdaCacheSpec } from '../../lib/cache/index.js';
import { loadModel, type STDiT3 } from '../../lib/models/stdit3/model.js';
import { samplingSchedule } from '../../lib/sampling/rflow.js';
import { CAUSAL_MODEL, TINY_MODEL, compare, goldenCase, openGolden } from '../helpers/golden.js';

const models = new Map<string, STDiT3>();
const model = (name: string) => {
  if (!models.has(name)) models.set(name, loadModel(name === 'stdit3-tiny' ? TINY_MODEL : CAUSAL_MODEL));
  return models.get(name)!;
};
afterAll(() => models.forEach((m) => m.dispose()));

function maskRows(g: ReturnType<typeof openGolden>): number[][] {
  const m = g.float32('mask');
  const L = g.entries.get('mask')!.shape[1]!;
  return Array.from({ length: m.length / L }, (_, b) => Array.from(m.subarray(b * L, (b + 1) * L)));
}

function adaSpec(c: Record<string, unknown>): AdaCacheSpec | undefined {
  const a = c['adacache'] as Record<string, unknown> | undefined;
  if (!a) return undefined;
  return {
    kind: 'adacache',
    codebook: a['codebook'] as [number, number][],
    cacheRes: a['cache_res'] as AdaCacheSpec['cacheRes'],
    cacheLoc: a['cache_loc'] as number[],
    distance: 'l1',
    ...(a['apply_moreg']
      ? {
          moreg: {
            strides: a['moreg_strides'] as number[],
            steps: a['moreg_steps'] as [number, number],
            hyp: a['moreg_hyp'] as number[],
            mogradMul: a['mograd_mul'] as number,
          },
        }
      : {}),
  };
}

const cases = [
  'sample_stdit3-tiny_30steps_T8_16x16_nocache',
  'sample_stdit3-tiny-causal_30steps_T8_16x16_nocache',
  'sample_stdit3-tiny_30steps_T8_16x16_adacache',
  'sample_stdit3-tiny_30steps_T8_16x16_adacache_moreg',
  'sample_stdit3-tiny_30steps_T8_16x16_adacache_sattn',
  'sample_stdit3-tiny_30steps_T8_16x16_adacache_camlp_moreg',
];

describe('RFlow sampling matches the golden runs', () => {
  it('computes the transformed timesteps of the goldens exactly', () => {
    const g = openGolden(goldenCase(cases[0]!));
    const ts = g.float32('timesteps');
    const { timesteps } = samplingSchedule({ steps: 30, height: g.float32('height')[0]!, width: g.float32('width')[0]!, numFrames: g.float32('num_frames')[0]! });
    for (let i = 0; i < 30; i++) expect(timesteps[i]).toBe(ts[2 * i]);
    g.close();
  });

  for (const name of cases) {
    it(name, () => {
      const c = goldenCase(name);
      const g = openGolden(c);
      const ada = adaSpec(c);
      const noise = g.tensor('z0');
      const y = g.tensor('y');
      const { latent, trace } = generateSync(model(c['model'] as string), {
        y,
        mask: maskRows(g),
        noise,
        steps: 30,
        cfgScale: 7,
        fps: g.float32('fps')[0]!,
        height: g.float32('height')[0]!,
        width: g.float32('width')[0]!,
        numFrames: g.float32('num_frames')[0]!,
        ...(ada ? { cache: ada } : {}),
      });
      const r = compare(latent.toFloat32Array(), g.float32('out'), c.tolerance);
      console.log(`${name}: max |latent − golden| = ${r.maxAbs.toExponential(2)}, computed ${trace.computedSteps.length}/30`);
      expect(r.ok).toBe(true);
      if (ada) {
        expect(trace.computedSteps).toEqual(c['recomputed_steps']);
        const golden = g.float32('log_distance');
        const goldenReg = g.float32('log_distance_reg');
        const goldenRate = g.raw('log_new_rate') as BigInt64Array;
        expect(trace.evaluations.length).toBe(golden.length);
        trace.evaluations.forEach((e, i) => {
          expect(e.distance).toBeCloseTo(golden[i]!, 4);
          expect(e.distanceReg / goldenReg[i]!).toBeCloseTo(1, 3);
          expect(e.newRate).toBe(Number(goldenRate[i]!));
          expect(e.block).toBe((c['log_block'] as string[])[i]);
        });
        if (g.entries.has('log_moreg')) {
          const moreg = g.float32('log_moreg');
          trace.evaluations.forEach((e, i) => expect(e.moreg! / moreg[i]!).toBeCloseTo(1, 3));
        }
      }
      latent.dispose();
      noise.dispose();
      y.dispose();
      g.close();
    });
  }
});
