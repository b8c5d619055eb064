// generate() runs off the JavaScript thread: the event loop's longest stall during a generation
// stays under 50 ms, two generations in parallel equal the same two one after the other, the
// async-iterator form reports every step, and an AbortSignal stops within one step and frees the
// native memory of the generation. (Needs the compiled package: the worker runs dist/.)
import { afterAll, describe, expect, it } from 'vitest';

import { generate, generateSteps, generateSync } from '../../lib/generate.js';
import { loadModel } from '../../lib/models/stdit3/model.js';
import { runtime } from '../../lib/runtime.js';
import { TINY_MODEL } from '../helpers/golden.js';

const model = loadModel(TINY_MODEL);
afterAll(() => model.dispose());
const A = { prompt: 'a red circle moving right quickly on night', seed: 1, steps: 8 };
const B = { prompt: 'a white square resting on desert', seed: 2, steps: 8, cache: 'adacache-fast' };

describe('asynchronous generation', () => {
  it('never stalls the event loop for 50 ms', async () => {
    let maxGap = 0;
    let last = performance.now();
    const timer = setInterval(() => {
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
    }, 1);
    const { latent } = await generate(model, A);
    clearInterval(timer);
    latent.dispose();
    console.log(`longest event-loop stall during a generation: ${maxGap.toFixed(1)} ms`);
    expect(maxGap).toBeLessThan(50);
  });

  it('gives the same results for two generations in parallel as one after the other', async () => {
    const [pa, pb] = await Promise.all([generate(model, A), generate(model, B)]);
    const sa = generateSync(model, A);
    const sb = generateSync(model, B);
    expect(pa.latent.toFloat32Array()).toEqual(sa.latent.toFloat32Array());
    expect(pb.latent.toFloat32Array()).toEqual(sb.latent.toFloat32Array());
    expect(pb.trace.computedSteps).toEqual(sb.trace.computedSteps);
    for (const r of [pa, pb, sa, sb]) r.latent.dispose();
  });

  it('reports every step through the async iterator', async () => {
    const seen: number[] = [];
    const it = generateSteps(model, A);
    let r = await it.next();
    while (!r.done) {
      seen.push(r.value.step);
      r = await it.next();
    }
    expect(seen).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    r.value.latent.dispose();
  });

  it('stops within one step on abort and frees the generation', async () => {
    const before = runtime.memoryStats().bytesInUse;
    const ac = new AbortController();
    let steps = 0;
    const run = generate(model, { ...A, steps: 30, signal: ac.signal, onStep: () => ++steps === 2 && ac.abort() });
    await expect(run).rejects.toMatchObject({ name: 'AbortError' });
    expect(steps).toBe(2);
    expect(runtime.memoryStats().bytesInUse).toBeLessThanOrEqual(before);
    const pre = new AbortController();
    pre.abort();
    await expect(generate(model, { ...A, signal: pre.signal })).rejects.toMatchObject({ name: 'AbortError' });
  });

  it('rejects bad options with the error class of the problem', async () => {
    await expect(generate(model, { ...A, prompt: 'a purple circle' })).rejects.toThrow(/unknown word "purple"/);
    await expect(generate(model, { ...A, cache: 'adacache-warp' })).rejects.toThrow(TypeError);
    await expect(generate(model, { ...A, numFrames: 6 })).rejects.toThrow(RangeError);
  });
});
