// Small generations with the bundled tiny model for the policy tests: 5 latent frames of 8×8
// (the smallest clip the Open-Sora timestep transform accepts), 30 steps, CFG 7.
import { generateSync, type GenerationResult } from '../../lib/generate.js';
import type { CacheOption } from '../../lib/cache/index.js';
import { loadModel, type STDiT3 } from '../../lib/models/stdit3/model.js';
import { gaussianNoise } from '../../lib/sampling/noise.js';
import { TINY_MODEL } from './golden.js';

export const SHAPE = { numFrames: 20, height: 64, width: 64 } as const;
export const STEPS = 30;

let shared: STDiT3 | undefined;
export function tinyModel(): STDiT3 {
  shared ??= loadModel(TINY_MODEL);
  return shared;
}

export function disposeTinyModel(): void {
  shared?.dispose();
  shared = undefined;
}

export interface Run {
  latent: Float32Array;
  trace: GenerationResult['trace'];
}

/** A generation of one video per prompt; video b's noise is gaussianNoise(seeds[b]) whatever the batch. */
export function generateSmall(cache: CacheOption, prompt: string | string[] = 'a red circle moving right quickly on night', seeds: number[] = [3, 4, 5, 6]): Run {
  const prompts = Array.isArray(prompt) ? prompt : [prompt];
  const n = 4 * (SHAPE.numFrames / 4) * (SHAPE.height / 8) * (SHAPE.width / 8);
  const noise = new Float32Array(prompts.length * n);
  prompts.forEach((_, b) => noise.set(gaussianNoise(seeds[b]!, n), b * n));
  const { latent, trace } = generateSync(tinyModel(), { prompt: prompts, noise, steps: STEPS, cache, ...SHAPE });
  const data = latent.toFloat32Array();
  latent.dispose();
  return { latent: data, trace };
}

/** Bytes of one tensor holding every CFG row's tokens: 2·videos × T·(H/2)·(W/2) tokens × hidden × 4. */
export function rowTensorBytes(videos = 1): number {
  const cfg = tinyModel().config;
  return 2 * videos * (SHAPE.numFrames / 4) * (SHAPE.height / 16) * (SHAPE.width / 16) * cfg.hiddenSize * 4;
}

/** Steps in which row r ran the block stack. */
export function computedBy(trace: Run['trace'], r: number): number[] {
  return trace.decisions.filter((d) => d.rows[r] === 'compute').map((d) => d.step);
}

export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}
