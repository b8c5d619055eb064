// Ca2-VDM's two KV caches against the authors' class (test/fixtures/causal-stdit2/*/cache):
// write_latents_to_cache of a clean 2-frame prefix (temporal and prefix-spatial contents, layer by
// layer), then forward_kv_cache of the noisy chunk, which must also equal the noisy frames of the
// no-cache forward on [prefix; chunk] (forward_a). Measured: cache contents within 3.1e-6 (values
// up to 7), outputs within 8e-7: atol 1e-5 on the caches, 5e-6 on the outputs.
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { Ca2KvCache } from '../../lib/causal/ca2-cache.js';
import { SafetensorsReader } from '../../lib/io/safetensors.js';
import { loadCausalSTDiT2 } from '../../lib/models/causal-stdit2/model.js';
import { Scope } from '../../lib/util/scope.js';
import { compare, FIXTURES } from '../helpers/golden.js';

const DIR = join(FIXTURES, 'causal-stdit2');
const scope = new Scope();
afterAll(() => scope.dispose());

/** Frames [t0, T) of a [B, C, T, H, W] host array. */
function framesFrom(a: Float32Array, shape: readonly number[], t0: number): Float32Array {
  const [B, C, T, H, W] = shape as [number, number, number, number, number];
  const out = new Float32Array(B * C * (T - t0) * H * W);
  const plane = H * W;
  for (let bc = 0; bc < B * C; bc++) out.set(a.subarray((bc * T + t0) * plane, (bc + 1) * T * plane), bc * (T - t0) * plane);
  return out;
}

describe('Ca2-VDM KV caches match the authors\' write_latents_to_cache and forward_kv_cache', () => {
  for (const name of ['sky', 'text', 'rope']) {
    it(name, () => {
      using s = new Scope();
      const model = scope.add(loadCausalSTDiT2(join(DIR, name)));
      const g = SafetensorsReader.open(join(DIR, name, 'cache.safetensors'));
      const t = (n: string) => s.add(g.tensor(n));
      const caption = g.entries.has('y') ? s.add(model.encodeCaption(t('y'), t('mask'))) : undefined;
      const cache = s.add(new Ca2KvCache(model, 2, 5));
      cache.write(t('prefix'), caption);
      expect(cache.framesWritten).toBe(2);
      expect(cache.length).toBe(2);
      const depth = model.config.depth;
      const tol = { atol: 1e-5, rtol: 0 };
      let worst = 0;
      for (let layer = 0; layer < depth; layer++) {
        const snap = cache.snapshot(layer);
        const refT = g.float32('after_write.cache_t');
        const per = refT.length / depth;
        const rt = compare(snap.temporal, refT.subarray(layer * per, (layer + 1) * per), tol);
        expect(rt.ok).toBe(true);
        worst = Math.max(worst, rt.maxAbs);
        if (g.entries.has('after_write.cache_s')) {
          const refS = g.float32('after_write.cache_s');
          const ps = refS.length / depth;
          const rs = compare(snap.spatial!, refS.subarray(layer * ps, (layer + 1) * ps), tol);
          expect(rs.ok).toBe(true);
          worst = Math.max(worst, rs.maxAbs);
        } else {
          expect(snap.spatial).toBeNull();
        }
      }
      const out = s.add(model.run({ x: t('chunk'), timestep: t('timestep'), ...(caption ? { caption } : {}) }, { kv: cache.readPass() }).out!);
      const r = compare(out.toFloat32Array(), g.float32('out'), { atol: 5e-6, rtol: 0 });
      const fwd = SafetensorsReader.open(join(DIR, name, 'forward_a.out.safetensors'));
      const noisy = framesFrom(fwd.float32('out'), fwd.entries.get('out')!.shape, 2);
      const rn = compare(out.toFloat32Array(), noisy, { atol: 5e-6, rtol: 0 });
      console.log(`${name}: caches max |Δ| ${worst.toExponential(2)}; cached forward ${r.maxAbs.toExponential(2)} from golden, ${rn.maxAbs.toExponential(2)} from the no-cache forward`);
      expect(r.ok).toBe(true);
      expect(rn.ok).toBe(true);
      g.close();
      fwd.close();
    });
  }
});
