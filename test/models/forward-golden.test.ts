// Single model calls of both fixtures against the golden vectors (tolerance: the manifest's,
// atol 1e-4 rtol 1e-4; the maximum error reached is printed).
import { afterAll, describe, expect, it } from 'vitest';

import { loadModel, type STDiT3 } from '../../lib/models/stdit3/model.js';
import { CAUSAL_MODEL, TINY_MODEL, compare, goldenCase, openGolden } from '../helpers/golden.js';

const models = new Map<string, STDiT3>();
function model(name: string): STDiT3 {
  let m = models.get(name);
  if (!m) {
    m = loadModel(name === 'stdit3-tiny' ? TINY_MODEL : CAUSAL_MODEL);
    models.set(name, m);
  }
  return m;
}
afterAll(() => {
  for (const m of models.values()) m.dispose();
});

const cases = [
  'forward_stdit3-tiny_t2v_T8_16x16',
  'forward_stdit3-tiny_xmask_T8_16x16',
  'forward_stdit3-tiny-causal_t2v_T8_16x16',
  'forward_stdit3-tiny-causal_xmask_T8_16x16',
];

describe('STDiT3 forward matches the golden vectors', () => {
  for (const name of cases) {
    it(name, () => {
      const c = goldenCase(name);
      const g = openGolden(c);
      const m = model(c['model'] as string);
      const x = g.tensor('x');
      const mask = g.float32('mask');
      const L = g.entries.get('mask')!.shape[1]!;
      const rows = Array.from({ length: mask.length / L }, (_, b) => mask.subarray(b * L, (b + 1) * L));
      const xMask = g.entries.has('x_mask') ? g.tensor('x_mask') : undefined;
      const out = m.forward({
        x,
        timestep: g.float32('timestep'),
        y: g.tensor('y'),
        mask: rows,
        fps: g.float32('fps'),
        height: g.float32('height'),
        width: g.float32('width'),
        ...(xMask ? { x_mask: xMask } : {}),
      });
      const r = compare(out.toFloat32Array(), g.float32('out'), c.tolerance);
      console.log(`${name}: max |out − golden| = ${r.maxAbs.toExponential(2)}`);
      expect(r.ok).toBe(true);
      out.dispose();
      x.dispose();
      xMask?.dispose();
      g.close();
    });
  }
});
