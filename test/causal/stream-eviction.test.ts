// 'stream' extension with eviction (Ca2-VDM): the ring of capacity `cap` wraps around and every
// chunk sees its conditioning frames at shifted positions. Compared here, chunk by chunk, with an
// independent recompute that knows no ring: an append-only store of every frame's K/V (never
// wrapping, never evicting) replayed from the clean frames, each write pass and each denoising
// step reading only the newest `cap` frames of it, as a sliding window. Chunk j is denoised by
// the recompute from the frames stream produced before it (teacher forcing), with the same noise,
// and must equal stream's chunk j. (The 'window' mode is a different computation once frames are
// evicted: it recomputes the kept frames with the evicted ones gone, while stream keeps the K/V
// each frame got when it was written.)
// Tolerance 1e-4 abs: the two read the same keys in the same order from different layouts, and
// were measured bitwise equal here (printed per chunk); a window one frame too wide differs by
// ~0.8.
import { afterAll, describe, expect, it } from 'vitest';

import { createPolicy } from '../../lib/cache/index.js';
import { extendSync } from '../../lib/causal/extend.js';
import { TemporalKvCache } from '../../lib/causal/kv-cache.js';
import { cfgCaption, vocabularyOf } from '../../lib/generate.js';
import type { CaptionState, TemporalKvHooks } from '../../lib/models/stdit3/model.js';
import { loadModel } from '../../lib/models/stdit3/model.js';
import { denoise, frames } from '../../lib/sampling/denoise.js';
import { gaussianNoise } from '../../lib/sampling/noise.js';
import { samplingSchedule } from '../../lib/sampling/rflow.js';
import { empty, tensor, type Tensor } from '../../lib/tensor.js';
import { Scope } from '../../lib/util/scope.js';
import { CAUSAL_MODEL, compare } from '../helpers/golden.js';

const model = loadModel(CAUSAL_MODEL);
afterAll(() => model.dispose());

const [b, C, H, W, k, steps, cfgScale, seed] = [1, 4, 8, 8, 2, 3, 7, 11];
const prompt = 'a red circle moving right quickly on night';

/** Hooks that show only the newest `cap` frames of `hooks`' prefix. */
function windowed(hooks: TemporalKvHooks, cap: number): TemporalKvHooks {
  return {
    ...hooks,
    prefix: (layer) => {
      const p = hooks.prefix?.(layer);
      if (!p) return undefined;
      const length = Math.min(p.length, cap);
      if (p.start + p.length > p.k.shape[2]!) throw new Error('the reference store must not wrap');
      return { ...p, start: p.start + p.length - length, length };
    },
  };
}

/** Chunk j of a stream extension, recomputed from `video` (frames before chunk j) without a ring. */
function recomputeChunk(video: Tensor, j: number, n: number, cap: number, caption: CaptionState): Tensor {
  using s = new Scope();
  const cfg = model.config;
  const total = k + j * n;
  const store = s.add(
    new TemporalKvCache({ layers: cfg.depth, batch: 2 * b, tokens: (H / 2) * (W / 2), heads: cfg.numHeads, headDim: cfg.hiddenSize / cfg.numHeads, capacity: total }),
  );
  const fps = 24, height = 8 * H, width = 8 * W;
  const write = (t0: number, t1: number) => {
    const x = s.add(empty([2 * b, C, t1 - t0, H, W]));
    const src = s.add(frames(video, t0, t1));
    s.add(x.view([b, C, t1 - t0, H, W])).copyFrom(src);
    s.add(x.view([b, C, t1 - t0, H, W], { offset: b * C * (t1 - t0) * H * W })).copyFrom(src);
    const w = store.writeHooks(t1 - t0);
    model.run({ x, timestep: new Float32Array(2 * b), caption, fps, height, width }, { blocksOnly: true, temporalKv: windowed(w.hooks, cap) });
    w.commit();
    w.dispose();
  };
  write(k - Math.min(k, cap), k);
  for (let c = 0; c < j; c++) write(k + c * n, k + (c + 1) * n);
  const z = s.add(tensor(gaussianNoise(seed + j, b * C * n * H * W), [b, C, n, H, W]));
  const context = Math.min(store.length, cap);
  const { timesteps, dt } = samplingSchedule({
    steps, height, width, numFrames: 4 * (context + n),
    useTimestepTransform: cfg.scheduler.useTimestepTransform, numTimesteps: cfg.scheduler.numTimesteps,
  });
  const it = denoise(model, { z, caption, timesteps, dt, cfgScale, fps, height, width, policy: createPolicy('none', steps, cfg.depth), temporalKv: windowed(store.readHooks(), cap) });
  while (!it.next().done);
  return s.keep(z);
}

describe("'stream' extension with eviction", () => {
  for (const [cap, n, chunks] of [[3, 3, 4], [4, 3, 3], [6, 4, 3]] as const) {
    it(`equals the sliding-window recompute: capacity ${cap}, ${n} frames a chunk, ${chunks} chunks`, () => {
      const condition = tensor(gaussianNoise(7, b * C * k * H * W), [b, C, k, H, W]);
      const stream = extendSync(model, { condition, prompt, chunks, framesPerChunk: n, steps, cfgScale, seed, kvCache: 'stream', maxCacheFrames: cap });
      // Frames were evicted, and the ring wrapped (more frames went in than it holds).
      expect(k + chunks * n).toBeGreaterThan(cap + n);
      expect(stream.trace.chunks.at(-1)!.kvCacheFrames).toBe(cap);
      const { y, mask } = vocabularyOf(model).encode([prompt]);
      const caption = cfgCaption(model, y, mask);
      const diffs: string[] = [];
      for (let j = 0; j < chunks; j++) {
        const want = recomputeChunk(stream.latent, j, n, cap, caption);
        const got = frames(stream.latent, k + j * n, k + (j + 1) * n).clone();
        const r = compare(got.toFloat32Array(), want.toFloat32Array(), { atol: 1e-4, rtol: 0 });
        diffs.push(r.maxAbs.toExponential(1));
        expect(r.ok, `chunk ${j}: max |Δ| ${r.maxAbs}`).toBe(true);
        got.dispose();
        want.dispose();
      }
      console.log(`stream (capacity ${cap}, chunk ${n}) vs recompute, max |Δ| per chunk: ${diffs.join(', ')}`);
      caption.dispose();
      y.dispose();
      condition.dispose();
      stream.latent.dispose();
    });
  }
});
