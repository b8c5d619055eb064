// The optional NaN/Inf checks name the tensor that went bad.
import { afterAll, describe, expect, it } from 'vitest';

import { generateSync } from '../../lib/generate.js';
import { loadModel } from '../../lib/models/stdit3/model.js';
import { NonFiniteError } from '../../lib/util/finite.js';
import { TINY_MODEL } from '../helpers/golden.js';

const model = loadModel(TINY_MODEL);
afterAll(() => model.dispose());

describe('checkFinite', () => {
  it('reports a NaN in the initial latent by name', () => {
    const noise = new Float32Array(4 * 8 * 16 * 16);
    noise[123] = NaN;
    const run = () => generateSync(model, { prompt: 'a red circle resting on night', noise, steps: 2, checkFinite: true });
    expect(run).toThrow(NonFiniteError);
    expect(run).toThrow(/the initial latent has 1 non-finite value \(first at element 123/);
  });

  it('reports the first velocity that overflows', () => {
    const noise = new Float32Array(4 * 8 * 16 * 16).fill(3e38);
    expect(() => generateSync(model, { prompt: 'a red circle resting on night', noise, steps: 2, checkFinite: true })).toThrow(/of step 1|after step 1/);
  });
});
