// Ca2-VDM's own model (the bundled tiny CausalSTDiT2) generating a long video from a first frame:
// time per chunk with the KV caches ('stream', the authors' autoregressive_sample_kv_cache) against
// the window recomputed at every denoising step ('none', their autoregressive_sample), and the
// memory both caches hold against its formula. Run by `npm run bench:ar`.
import { join } from 'node:path';

import type { Ca2KvCache } from '../lib/causal/ca2-cache.js';
import { extendSync } from '../lib/causal/extend.js';
import { loadCausalSTDiT2 } from '../lib/models/causal-stdit2/model.js';
import { tokensPerFrame } from '../lib/models/causal-stdit2/config.js';
import { packageRoot } from '../lib/native/loader.js';
import { runtime } from '../lib/runtime.js';
import { tensor } from '../lib/tensor.js';
import { sceneFirstFrame } from '../lib/video/scene.js';
import { markdownTable, median, writeResultsSection } from './harness.js';

export function benchCa2(quick: boolean): void {
  const model = loadCausalSTDiT2(join(packageRoot(), 'lib', 'models', 'causal-stdit2-tiny'));
  const cfg = model.config;
  const [, H, W] = cfg.inputSize;
  const n = cfg.sampling.chunkFrames;
  const capacity = cfg.sampling.cacheFrames;
  const steps = quick ? 20 : 50;
  // The authors compare at 80 frames: a first frame and enough chunks to pass 80.
  const chunks = quick ? 5 : Math.ceil(79 / n);
  const total = 1 + chunks * n;
  const prompt = 'a white circle moving right quickly on forest';
  const condition = tensor(sceneFirstFrame(prompt, 1), [1, 3, 1, H, W]);
  const base = { condition, prompt, chunks, framesPerChunk: n, steps, seed: 3, maxCacheFrames: capacity };
  let cache: { temporal: number; spatial: number } = { temporal: 0, spatial: 0 };
  const onKvWrite = (c: Ca2KvCache) => (cache = c.bytes);
  extendSync(model, { ...base, chunks: 1, steps: 2, prefixPerturbT: 0 }).latent.dispose();
  const reps = quick ? 1 : 2;
  const timed = (mode: 'stream' | 'none') => {
    const runs = Array.from({ length: reps }, () => {
      const r = extendSync(model, { ...base, kvCache: mode, ...(mode === 'stream' ? { onKvWrite } : {}) });
      r.latent.dispose();
      return r.trace.chunks.map((c) => c.ms);
    });
    return Array.from({ length: chunks }, (_, j) => median(runs.map((r) => r[j]!)));
  };
  const stream = timed('stream');
  const none = timed('none');
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  const rows = Array.from({ length: chunks }, (_, j) => [
    String(j + 1),
    String(1 + (j + 1) * n),
    `${stream[j]!.toFixed(0)} ms`,
    `${none[j]!.toFixed(0)} ms`,
    `${(sum(stream.slice(0, j + 1)) / 1000).toFixed(2)} s / ${(sum(none.slice(0, j + 1)) / 1000).toFixed(2)} s`,
  ]);
  // Once the cache is full the work per chunk is fixed: the first and second halves of those chunks
  // should take the same time (medians, robust to what else the machine runs).
  const fullFrom = Math.ceil(capacity / n) + 1;
  const full = stream.slice(fullFrom);
  const half = Math.floor(full.length / 2);
  const [early, late] = [median(full.slice(0, half)), median(full.slice(half))];
  const guided = cfg.sampling.cfgScale > 1;
  const Bc = guided ? 2 : 1;
  const S = tokensPerFrame(cfg), C = cfg.hiddenSize, D = 4; // float32
  const temporalFormula = cfg.depth * 2 * Bc * S * capacity * C * D;
  const spatialFormula = cfg.depth * 2 * Bc * cfg.prefixFrames * S * C * D;
  const body = [
    `Command: \`npm run bench:ar\` — ${runtime.backends()[0]!.name}; the bundled tiny CausalSTDiT2 (${H}×${W} latents, ${S} tokens per frame, hidden ${C}, depth ${cfg.depth}), one video from a first frame, ${n} frames per chunk, ${steps} iDDPM steps per chunk${guided ? `, guidance ${cfg.sampling.cfgScale} (a batch of 2)` : ''}, prefix perturbation t = ${cfg.sampling.prefixPerturbT}; 'stream': temporal cache of ${capacity} frames and the prefix spatial cache of ${cfg.prefixFrames}; 'none': the last ${capacity} frames recomputed with the chunk at every step. Median of ${reps} runs per chunk.`,
    '',
    markdownTable(['chunk', 'frames', "'stream'", "'none' (window)", 'Σ stream / Σ none'], rows),
    '',
    `'stream' once the cache is full: median ${early.toFixed(0)} ms per chunk over chunks ${fullFrom + 1}–${fullFrom + half}, ${late.toFixed(0)} ms over chunks ${fullFrom + half + 1}–${chunks} (${((100 * (late - early)) / early).toFixed(1)}%); 'none' grows with its window, then stays at ${median(none.slice(fullFrom)).toFixed(0)} ms. ${total} frames: ${(sum(stream) / 1000).toFixed(2)} s with the caches, ${(sum(none) / 1000).toFixed(2)} s recomputing the window, ${(sum(none) / sum(stream)).toFixed(2)}× (the authors report 52.1 s against 130.1 s, 2.5×, for 80 frames of their 28-block model on a GPU). Token-linear prediction once the window is full: ${capacity}+${n} frames at each of ${steps} steps against ${n} frames per step and one ${n}-frame cache write per chunk, (${capacity}+${n})·${steps} / (${n}·${steps}+${n}) = ${(((capacity + n) * steps) / (n * steps + n)).toFixed(2)}×; measured over those chunks ${(median(none.slice(fullFrom)) / median(full)).toFixed(2)}×.`,
    `Caches held: temporal ${cache.temporal} B = depth ${cfg.depth} × K,V × batch ${Bc} × ${S} tokens × ${capacity} frames × ${C} × 4 B = ${temporalFormula} B; prefix spatial ${cache.spatial} B = ${cfg.depth} × 2 × ${Bc} × ${cfg.prefixFrames} frames × ${S} × ${C} × 4 B = ${spatialFormula} B; both fixed by their capacities from the first write on, whatever the video's length.`,
  ].join('\n');
  console.log(body);
  if (cache.temporal !== temporalFormula || cache.spatial !== spatialFormula) throw new Error('the caches hold other than their formula says');
  if (!quick) writeResultsSection("Ca2-VDM's own model: autoregressive generation with its KV caches", body);
  condition.dispose();
  model.dispose();
}
