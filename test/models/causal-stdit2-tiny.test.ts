// The bundled tiny CausalSTDiT2 (lib/models/causal-stdit2-tiny): it loads by the authors' config
// keys and state-dict names, and a short extension from the first frame its caption describes runs
// through both KV caches, keeps that frame and stays finite. How well it moves is measured in its
// README, not asserted here; twenty sampling steps (the fewest its prefix perturbation to t = 50
// allows) exercise every layer.
import { describe, expect, it } from 'vitest';

import { extendSync } from '../../lib/causal/extend.js';
import { bundledModel, BUNDLED_MODELS } from '../../lib/models/bundled.js';
import { loadCausalSTDiT2 } from '../../lib/models/causal-stdit2/model.js';
import { modelTypeOf } from '../../lib/models/open.js';
import { tensor } from '../../lib/tensor.js';
import { sceneFirstFrame, SCENE_SIZE } from '../../lib/video/scene.js';

describe('the bundled tiny CausalSTDiT2', () => {
  it('is bundled, and loads as a CausalSTDiT2 of the moving-shapes world', () => {
    expect(BUNDLED_MODELS).toContain('causal-stdit2-tiny');
    const dir = bundledModel('causal-stdit2-tiny');
    expect(modelTypeOf(dir)).toBe('CausalSTDiT2');
    const model = loadCausalSTDiT2(dir);
    const c = model.config;
    expect(c.inputSize.slice(1)).toEqual([SCENE_SIZE, SCENE_SIZE]);
    expect(c.inChannels).toBe(3);
    expect(c.captionChannels).toBe(64);
    expect(c.predSigma).toBe(true);
    expect(c.prefixFrames).toBe(3);
    expect(c.sampling.chunkFrames).toBe(3);
    model.dispose();
  });

  it('extends the first frame its caption describes by two chunks, keeping that frame', () => {
    const model = loadCausalSTDiT2(bundledModel('causal-stdit2-tiny'));
    const prompt = 'a red square moving left slowly on desert';
    const first = sceneFirstFrame(prompt, 2);
    const condition = tensor(first, [1, 3, 1, SCENE_SIZE, SCENE_SIZE]);
    let writes = 0;
    const { latent, trace } = extendSync(model, { condition, prompt, chunks: 2, steps: 20, seed: 5, onKvWrite: () => writes++ });
    expect(latent.shape).toEqual([1, 3, 7, SCENE_SIZE, SCENE_SIZE]);
    expect(trace.chunks).toHaveLength(2);
    expect(writes).toBe(2); // the first frame, then the first chunk (the last chunk is not written)
    const out = latent.toFloat32Array();
    const plane = SCENE_SIZE * SCENE_SIZE;
    for (let ch = 0; ch < 3; ch++) {
      expect(Array.from(out.subarray(ch * 7 * plane, ch * 7 * plane + plane))).toEqual(Array.from(first.subarray(ch * plane, (ch + 1) * plane)));
    }
    expect(out.every(Number.isFinite)).toBe(true);
    latent.dispose();
    condition.dispose();
    model.dispose();
  });
});
