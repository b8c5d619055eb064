// CausalSTDiT2.forward against the authors' class (test/fixtures/causal-stdit2, made by
// tools/causal-stdit2/goldens.py): three models shaped like the released configurations, each on
// [clean prefix; noisy chunk] with per-frame timesteps from temporal position 0 and 6 (cyclic TPE
// wrapping, RoPE offset) and per-sample timesteps from 2. Measured max |Δ| 9e-7 on outputs of
// magnitude about 1 (float32 with another summation order): atol 5e-6.
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { SafetensorsReader } from '../../lib/io/safetensors.js';
import { loadCausalSTDiT2, type CausalForwardInputs } from '../../lib/models/causal-stdit2/model.js';
import { Scope } from '../../lib/util/scope.js';
import { compare, FIXTURES } from '../helpers/golden.js';

const DIR = join(FIXTURES, 'causal-stdit2');
const scope = new Scope();
afterAll(() => scope.dispose());

describe('CausalSTDiT2 forward matches the authors\' class', () => {
  for (const name of ['sky', 'text', 'rope']) {
    const model = scope.add(loadCausalSTDiT2(join(DIR, name)));
    for (const tag of ['a', 'b', 'c']) {
      it(`${name} forward_${tag}`, () => {
        using s = new Scope();
        const inp = SafetensorsReader.open(join(DIR, name, `forward_${tag}.in.safetensors`));
        const ref = SafetensorsReader.open(join(DIR, name, `forward_${tag}.out.safetensors`));
        const t = (n: string) => s.add(inp.tensor(n));
        const inputs: CausalForwardInputs = {
          x: t('x'),
          timestep: t('timestep'),
          mask_channel: t('mask_channel'),
          x_temporal_start: inp.float32('x_temporal_start')[0]!,
          ...(inp.entries.has('y') ? { y: t('y'), mask: t('mask') } : {}),
        };
        const out = s.add(model.forward(inputs));
        const r = compare(out.toFloat32Array(), ref.float32('out'), { atol: 5e-6, rtol: 0 });
        console.log(`${name} forward_${tag}: max |out − golden| = ${r.maxAbs.toExponential(2)}`);
        expect(out.shape).toEqual(ref.entries.get('out')!.shape);
        expect(r.ok).toBe(true);
        inp.close();
        ref.close();
      });
    }
  }
});
