// Text-to-video generation: caption → CFG batch → rectified-flow sampling with a caching policy.
import { resolve } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { pathToFileURL } from 'node:url';

import { createPolicy, isPolicy, isPolicyModule, type CacheOption } from './cache/index.js';
import type { Evaluation, StepDecision } from './cache/policy.js';
import type { CaptionState, STDiT3 } from './models/stdit3/model.js';
import { denoise, type DenoiseSummary, type StepInfo } from './sampling/denoise.js';
import { gaussianNoise } from './sampling/noise.js';
import { samplingSchedule } from './sampling/rflow.js';
import { empty, tensor, type Tensor } from './tensor.js';
import { Vocabulary } from './text/vocabulary.js';
import { Scope } from './util/scope.js';
import { runInWorker } from './worker/host.js';

export interface ConditioningOptions {
  /** nominal frames per second (default 24) */
  fps?: number;
  /** nominal pixel height and width (default 8 × latent size) */
  height?: number;
  width?: number;
  /** nominal frame count (default 4 × latent frames) */
  numFrames?: number;
}

export interface GenerateOptions extends ConditioningOptions {
  /** caption words in the model's vocabulary (one prompt per video) */
  prompt?: string | string[];
  /** or caption embeddings [b, 1, L, caption_channels] with mask [b][L] */
  y?: Tensor;
  mask?: number[][];
  /** initial noise [b, C, T, H, W], or a seed for the portable PRNG (sampling/noise.ts) */
  noise?: Tensor | Float32Array;
  seed?: number;
  /** default: the config's scheduler (30 steps, CFG 7) */
  steps?: number;
  cfgScale?: number;
  /** a preset ('adacache-fast', 'fixed-2', ...), a spec or a policy; default: the config's do_cache setting, else 'none' */
  cache?: CacheOption;
  onStep?: (info: StepInfo) => void;
  signal?: AbortSignal;
  /** Check the latent and every velocity for NaN/Inf (NonFiniteError names the tensor). */
  checkFinite?: boolean;
}

export interface GenerationTrace {
  policy: string;
  steps: number;
  /** 1-based steps in which some row ran the blocks */
  computedSteps: number[];
  /** per step: what each row of the CFG batch did, the branches reused, the share of block work done */
  decisions: StepDecision[];
  /** share of the uncached generation's block work (multiply-adds) done */
  computedFraction: number;
  evaluations: Evaluation[];
  stepMs: number[];
  totalMs: number;
  /** peak bytes held by the policy's cache (stack residual, probe and gate slots, kept branches, CFG difference) */
  cacheBytes: number;
  /** what held cacheBytes at the peak */
  cacheBreakdown: DenoiseSummary['cacheBreakdown'];
  /** bytes the per-block formulation would hold: two residuals for each of the 2·depth blocks */
  perBlockCacheBytes: number;
}

export interface GenerationResult {
  /** [b, C, T, H, W] */
  latent: Tensor;
  trace: GenerationTrace;
}

const vocabularies = new Map<string, Vocabulary>();

/** The caption encoder of a model loaded from a folder with vocab.json. */
export function vocabularyOf(model: { readonly dir: string | undefined }): Vocabulary {
  if (!model.dir) throw new Error('this model was not loaded from a folder: pass y and mask instead of a prompt');
  let v = vocabularies.get(model.dir);
  if (!v) {
    v = Vocabulary.load(model.dir);
    vocabularies.set(model.dir, v);
  }
  return v;
}

/** Caption embeddings of `prompts` and of the null caption, as one CFG batch [cond; uncond]. */
export function cfgCaption(model: STDiT3, y: Tensor, mask: number[][]): CaptionState {
  const [b, , L, Cc] = y.shape as [number, number, number, number];
  using scope = new Scope();
  const yIn = scope.add(empty([2 * b, 1, L, Cc], { device: model.device }));
  scope.add(yIn.view([b, 1, L, Cc])).copyFrom(y);
  const yNull = model.weights.yNull;
  for (let i = 0; i < b; i++) {
    scope.add(yIn.view([1, 1, L, Cc], { offset: (b + i) * L * Cc })).copyFrom(scope.add(yNull.view([1, 1, L, Cc])));
  }
  return model.encodeCaption(yIn, [...mask, ...mask]);
}

export interface ResolvedGeneration {
  z: Tensor;
  caption: CaptionState;
  y: Tensor;
  mask: number[][];
  steps: number;
  cfgScale: number;
  fps: number;
  height: number;
  width: number;
  numFrames: number;
}

/** Resolves defaults and validates the options of a generation. */
export function resolveGeneration(model: STDiT3, o: GenerateOptions): ResolvedGeneration {
  const cfg = model.config;
  let y = o.y;
  let mask = o.mask;
  if (o.prompt !== undefined) {
    if (y) throw new TypeError('give either prompt or y, not both');
    const prompts = Array.isArray(o.prompt) ? o.prompt : [o.prompt];
    const enc = vocabularyOf(model).encode(prompts, model.device);
    y = enc.y;
    mask = enc.mask;
  }
  if (!y) throw new TypeError('generate: a prompt (or y and mask) is required');
  const b = y.shape[0]!;
  mask ??= Array.from({ length: b }, () => new Array<number>(y!.shape[2]!).fill(1));
  const [T0, H0, W0] = cfg.latentBuckets[0]!;
  let shape: [number, number, number, number, number];
  if (o.noise !== undefined && !(o.noise instanceof Float32Array)) {
    if (o.noise.shape.length !== 5 || o.noise.shape[0] !== b || o.noise.shape[1] !== cfg.inChannels) {
      throw new RangeError(`noise: expected [${b}, ${cfg.inChannels}, T, H, W], got [${o.noise.shape}]`);
    }
    shape = o.noise.shape as typeof shape;
  } else {
    const dim = (v: number | undefined, per: number, fallback: number, name: string) => {
      if (v === undefined) return fallback;
      if (!Number.isInteger(v) || v <= 0 || v % per !== 0) throw new RangeError(`${name} must be a positive multiple of ${per}, got ${v}`);
      return v / per;
    };
    shape = [b, cfg.inChannels, dim(o.numFrames, 4, T0, 'numFrames'), dim(o.height, 8, H0, 'height'), dim(o.width, 8, W0, 'width')];
  }
  const [, , T, H, W] = shape;
  const n = shape.reduce((a, c) => a * c, 1);
  let z: Tensor;
  if (o.noise instanceof Float32Array) {
    if (o.noise.length !== n) throw new RangeError(`noise: expected ${n} values for [${shape}], got ${o.noise.length}`);
    z = tensor(o.noise, shape, { device: model.device, copy: true });
  } else if (o.noise) {
    z = o.noise.to(model.device, 'f32');
  } else {
    const seed = o.seed ?? 0;
    z = tensor(gaussianNoise(seed, n), shape, { device: model.device, copy: true });
  }
  const steps = o.steps ?? cfg.scheduler.numSamplingSteps;
  const cfgScale = o.cfgScale ?? cfg.scheduler.cfgScale;
  if (!Number.isFinite(cfgScale)) throw new TypeError('cfgScale must be a finite number');
  return {
    z,
    caption: cfgCaption(model, y, mask),
    y,
    mask,
    steps,
    cfgScale,
    fps: o.fps ?? 24,
    height: o.height ?? 8 * H,
    width: o.width ?? 8 * W,
    numFrames: o.numFrames ?? 4 * T,
  };
}

/** The generation as a step generator on the calling thread: each next() runs one denoising step. */
export function* generateStepsSync(model: STDiT3, o: GenerateOptions): Generator<StepInfo, GenerationResult, void> {
  const started = performance.now();
  const r = resolveGeneration(model, o);
  const policy = createPolicy(o.cache ?? model.config.cache, r.steps, model.config.depth);
  const { timesteps, dt } = samplingSchedule({
    steps: r.steps,
    height: r.height,
    width: r.width,
    numFrames: r.numFrames,
    useTimestepTransform: model.config.scheduler.useTimestepTransform,
    numTimesteps: model.config.scheduler.numTimesteps,
  });
  let summary: DenoiseSummary | undefined;
  try {
    summary = yield* denoise(model, {
      z: r.z,
      caption: r.caption,
      timesteps,
      dt,
      cfgScale: r.cfgScale,
      fps: r.fps,
      height: r.height,
      width: r.width,
      policy,
      ...(o.signal ? { signal: o.signal } : {}),
      ...(o.checkFinite ? { checkFinite: true } : {}),
    });
  } finally {
    r.caption.dispose();
    // An error or an early return (abort) frees the latent too.
    if (!summary) r.z.dispose();
  }
  const [B, , T, H, W] = r.z.shape as number[];
  const [pt, ph, pw] = model.config.patchSize;
  const activation = 2 * B! * Math.ceil(T! / pt) * Math.ceil(H! / ph) * Math.ceil(W! / pw) * model.config.hiddenSize * 4;
  return {
    latent: r.z,
    trace: {
      policy: policy.name,
      steps: r.steps,
      computedSteps: summary.computedSteps,
      decisions: summary.decisions,
      computedFraction: summary.computedFraction,
      evaluations: [...policy.evaluations],
      stepMs: summary.stepMs,
      totalMs: performance.now() - started,
      cacheBytes: summary.cacheBytes,
      cacheBreakdown: summary.cacheBreakdown,
      perBlockCacheBytes: policy.caches ? 2 * 2 * model.config.depth * activation : 0,
    },
  };
}

/** Runs a generation on the calling thread. */
export function generateSync(model: STDiT3, options: GenerateOptions): GenerationResult {
  const it = generateStepsSync(model, options);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
    options.onStep?.(r.value);
  }
}

/**
 * The generation as an async iterator of steps, run on a worker thread: the caller's event loop
 * never waits on a step, a policy module ({ kind: 'module' }) included. A CachePolicy object (code,
 * which cannot cross threads) runs with the steps on the calling thread instead, one step per turn
 * of the event loop: each step then holds the loop for as long as it runs.
 */
export async function* generateSteps(model: STDiT3, options: GenerateOptions): AsyncGenerator<StepInfo, GenerationResult, void> {
  if (isPolicy(options.cache)) {
    const it = generateStepsSync(model, options);
    for (;;) {
      await yieldToLoop();
      const r = it.next();
      if (r.done) return r.value;
      yield r.value;
    }
  }
  const r = yield* runInWorker(model, 'generate', withPortableCache(options), options.signal);
  return { latent: r.latent, trace: r.trace as GenerationTrace };
}

/** Runs a generation off the calling thread; `onStep` reports each step, `signal` stops it. */
export async function generate(model: STDiT3, options: GenerateOptions): Promise<GenerationResult> {
  const it = generateSteps(model, options);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
    options.onStep?.(r.value);
  }
}

/**
 * The options as the worker receives them: a policy module named by a path becomes a file: URL,
 * since the worker imports it from its own location.
 */
export function withPortableCache(options: { cache?: CacheOption }): Record<string, unknown> {
  const cache = options.cache;
  if (!isPolicyModule(cache)) return { ...options };
  const pathLike = /^(\.{1,2}[\\/]|[\\/]|[a-zA-Z]:[\\/])/.test(cache.module);
  return { ...options, cache: { ...cache, module: pathLike ? pathToFileURL(resolve(cache.module)).href : cache.module } };
}
