// Autoregressive extension (Ca2-VDM): a video grows chunk by chunk, each chunk denoised with
// earlier frames as clean conditioning (timestep 0) under causal temporal attention.
//   'none'   — the conditioning frames go through the model at every denoising step;
//   'window' — the last maxCacheFrames frames' K/V are computed once per chunk and read by every
//              step of that chunk (equal to 'none');
//   'stream' — one cache-writing pass per finished chunk appends its K/V to a bounded ring that
//              every later chunk reads until the frames are evicted; nothing cached is recomputed.
import { setImmediate as yieldToLoop } from 'node:timers/promises';

import { createPolicy, isPolicy, type CacheOption } from '../cache/index.js';
import type { Evaluation, StepDecision } from '../cache/policy.js';
import { cfgCaption, vocabularyOf, withPortableCache, type ConditioningOptions } from '../generate.js';
import { CausalSTDiT2 } from '../models/causal-stdit2/model.js';
import type { CaptionState, STDiT3 } from '../models/stdit3/model.js';
import { abortError, denoise, frames, type StepInfo } from '../sampling/denoise.js';
import { gaussianNoise } from '../sampling/noise.js';
import { samplingSchedule } from '../sampling/rflow.js';
import { empty, tensor, type Tensor } from '../tensor.js';
import { Scope } from '../util/scope.js';
import { runInWorker } from '../worker/host.js';
import { ca2ExtendStepsSync, type Ca2ExtendOptions } from './ca2-extend.js';
import { TemporalKvCache } from './kv-cache.js';

export type KvCacheMode = 'none' | 'window' | 'stream';

export interface ExtendOptions extends Omit<ConditioningOptions, 'numFrames'> {
  /** clean latent frames to extend, [b, C, k, H, W] */
  condition: Tensor;
  prompt?: string | string[];
  y?: Tensor;
  mask?: number[][];
  chunks: number;
  framesPerChunk: number;
  steps?: number;
  cfgScale?: number;
  /** chunk j's noise is gaussianNoise(seed + j) */
  seed?: number;
  /** per-chunk noise [b, C, framesPerChunk, H, W] */
  noise?: Tensor[];
  kvCache: KvCacheMode;
  /**
   * Conditioning frames. 'none' / 'window': the last maxCacheFrames frames of the video so far
   * (Infinity in 'none' = the whole video: growing context). 'stream': the ring's capacity.
   */
  maxCacheFrames: number;
  /** residual caching inside each chunk's denoising */
  cache?: CacheOption;
  onStep?: (info: StepInfo & { chunk: number }) => void;
  signal?: AbortSignal;
}

export interface ChunkTrace {
  chunk: number;
  /** frames attended as conditioning */
  contextFrames: number;
  /** frames that went through the model at each denoising step */
  modelFrames: number;
  ms: number;
  computedSteps: number[];
  /** per denoising step of the chunk: what each row did, the branches reused, the share of block work done */
  decisions: StepDecision[];
  computedFraction: number;
  evaluations: Evaluation[];
  /** peak bytes held by the caching policy's cache in this chunk */
  cacheBytes: number;
  /** time of this chunk's cache-writing pass(es) */
  cacheWriteMs: number;
  kvCacheFrames: number;
  kvCacheBytes: number;
}

export interface ExtendResult {
  /** [b, C, k + chunks·framesPerChunk, H, W] */
  latent: Tensor;
  trace: { mode: KvCacheMode; chunks: ChunkTrace[]; totalMs: number; kvCacheCapacityFrames: number; peakKvCacheBytes: number };
}

function validate(model: STDiT3, o: ExtendOptions): void {
  if (!model.config.causalTemporal) throw new TypeError('extend needs a causal model (config causal_temporal: true)');
  if (!['none', 'window', 'stream'].includes(o.kvCache)) throw new TypeError(`kvCache must be 'none', 'window' or 'stream', got ${String(o.kvCache)}`);
  for (const [k, v] of [['chunks', o.chunks], ['framesPerChunk', o.framesPerChunk]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${k} must be a positive integer, got ${v}`);
  }
  const mcf = o.maxCacheFrames;
  if (!(mcf === Infinity && o.kvCache === 'none') && (!Number.isInteger(mcf) || mcf < 1)) {
    throw new RangeError(`maxCacheFrames must be a positive integer${o.kvCache === 'none' ? ' or Infinity' : ''}, got ${mcf}`);
  }
  const c = o.condition;
  if (c.shape.length !== 5 || c.shape[1] !== model.config.inChannels || c.shape[2]! < 1) {
    throw new RangeError(`condition: expected [b, ${model.config.inChannels}, k >= 1, H, W], got [${c.shape}]`);
  }
  if (o.noise && (o.noise.length !== o.chunks || o.noise.some((n) => n.shape.some((d, i) => d !== [c.shape[0], c.shape[1], o.framesPerChunk, c.shape[3], c.shape[4]][i])))) {
    throw new RangeError(`noise: expected ${o.chunks} tensors of [${c.shape[0]}, ${c.shape[1]}, ${o.framesPerChunk}, ${c.shape[3]}, ${c.shape[4]}]`);
  }
}

function* stdit3Steps(model: STDiT3, o: ExtendOptions): Generator<StepInfo & { chunk: number }, ExtendResult, void> {
  validate(model, o);
  const started = performance.now();
  const cfg = model.config;
  const [b, C, k, H, W] = o.condition.shape as [number, number, number, number, number];
  const n = o.framesPerChunk;
  const total = k + o.chunks * n;
  const steps = o.steps ?? cfg.scheduler.numSamplingSteps;
  const cfgScale = o.cfgScale ?? cfg.scheduler.cfgScale;
  const fps = o.fps ?? 24, height = o.height ?? 8 * H, width = o.width ?? 8 * W;
  using scope = new Scope();
  let y = o.y, mask = o.mask;
  if (o.prompt !== undefined) {
    const enc = vocabularyOf(model).encode(Array.isArray(o.prompt) ? o.prompt : [o.prompt], model.device);
    y = scope.add(enc.y);
    mask = enc.mask;
  }
  if (!y) throw new TypeError('extend: a prompt (or y and mask) is required');
  mask ??= Array.from({ length: b }, () => new Array<number>(y!.shape[2]!).fill(1));
  const caption: CaptionState = scope.add(cfgCaption(model, y, mask));
  const video = scope.add(empty([b, C, total, H, W], { device: model.device }));
  scope.add(frames(video, 0, k)).copyFrom(o.condition);

  const [, ph, pw] = cfg.patchSize;
  const kv =
    o.kvCache === 'none'
      ? null
      : scope.add(
          new TemporalKvCache(
            { layers: cfg.depth, batch: 2 * b, tokens: Math.ceil(H / ph) * Math.ceil(W / pw), heads: cfg.numHeads, headDim: cfg.hiddenSize / cfg.numHeads, capacity: o.maxCacheFrames },
            model.device,
            model.dtype,
          ),
        );
  const chunks: ChunkTrace[] = [];
  let peakKv = 0;

  // A cache-writing pass: frames [t0, t1) of the video at timestep 0, reading [cache ; frames].
  const writeCache = (t0: number, t1: number) => {
    using s = new Scope();
    const x = s.add(empty([2 * b, C, t1 - t0, H, W], { device: model.device }));
    const src = s.add(frames(video, t0, t1));
    s.add(x.view([b, C, t1 - t0, H, W])).copyFrom(src);
    s.add(x.view([b, C, t1 - t0, H, W], { offset: b * C * (t1 - t0) * H * W })).copyFrom(src);
    const w = kv!.writeHooks(t1 - t0);
    try {
      model.run({ x, timestep: new Float32Array(2 * b), caption, fps, height, width }, { blocksOnly: true, temporalKv: w.hooks });
      w.commit();
    } finally {
      w.dispose();
    }
  };

  // Time spent writing the cache, counted in the chunk that needed it (the condition's in chunk 0).
  let cacheWriteMs = 0;
  if (o.kvCache === 'stream') {
    const t = performance.now();
    const keep = Math.min(k, o.maxCacheFrames);
    writeCache(k - keep, k);
    cacheWriteMs = performance.now() - t;
  }

  for (let j = 0; j < o.chunks; j++) {
    if (o.signal?.aborted) throw abortError(o.signal);
    const chunkStart = performance.now() - cacheWriteMs;
    const end = k + j * n; // frames generated so far
    const context =
      o.kvCache === 'stream' ? kv!.length : Math.min(end, o.maxCacheFrames === Infinity ? end : o.maxCacheFrames);
    if (o.kvCache === 'window') {
      const t = performance.now();
      kv!.clear();
      writeCache(end - context, end);
      cacheWriteMs += performance.now() - t;
    }
    const noiseData = o.noise ? o.noise[j]!.to(model.device, 'f32') : tensor(gaussianNoise((o.seed ?? 0) + j, b * C * n * H * W), [b, C, n, H, W], { device: model.device });
    scope.add(noiseData);
    const modelFrames = o.kvCache === 'none' ? context + n : n;
    const z = scope.add(empty([b, C, modelFrames, H, W], { device: model.device }));
    let frameMask: Uint8Array | undefined;
    if (o.kvCache === 'none') {
      scope.add(frames(z, 0, context)).copyFrom(scope.add(frames(video, end - context, end)));
      frameMask = Uint8Array.from({ length: context + n }, (_, t) => (t < context ? 0 : 1));
    }
    scope.add(frames(z, modelFrames - n, modelFrames)).copyFrom(noiseData);
    const { timesteps, dt } = samplingSchedule({
      steps,
      height,
      width,
      numFrames: 4 * (context + n),
      useTimestepTransform: cfg.scheduler.useTimestepTransform,
      numTimesteps: cfg.scheduler.numTimesteps,
    });
    const policy = createPolicy(o.cache ?? cfg.cache, steps, cfg.depth);
    const it = denoise(model, {
      z,
      caption,
      timesteps,
      dt,
      cfgScale,
      fps,
      height,
      width,
      policy,
      ...(frameMask ? { frameMask } : {}),
      ...(kv ? { temporalKv: kv.readHooks() } : {}),
      ...(o.signal ? { signal: o.signal } : {}),
    });
    let r = it.next();
    while (!r.done) {
      yield { ...r.value, chunk: j };
      r = it.next();
    }
    scope.add(frames(video, end, end + n)).copyFrom(scope.add(frames(z, modelFrames - n, modelFrames)));
    if (o.kvCache === 'stream') {
      const t = performance.now();
      writeCache(end, end + n);
      cacheWriteMs += performance.now() - t;
    }
    peakKv = Math.max(peakKv, kv?.bytes ?? 0);
    chunks.push({
      chunk: j,
      contextFrames: context,
      modelFrames,
      ms: performance.now() - chunkStart,
      computedSteps: r.value.computedSteps,
      decisions: r.value.decisions,
      computedFraction: r.value.computedFraction,
      evaluations: [...policy.evaluations],
      cacheBytes: r.value.cacheBytes,
      cacheWriteMs,
      kvCacheFrames: kv?.length ?? 0,
      kvCacheBytes: kv?.bytes ?? 0,
    });
    cacheWriteMs = 0;
  }
  return {
    latent: scope.keep(video),
    trace: { mode: o.kvCache, chunks, totalMs: performance.now() - started, kvCacheCapacityFrames: kv ? o.maxCacheFrames : 0, peakKvCacheBytes: peakKv },
  };
}

type Steps = Generator<StepInfo & { chunk: number }, ExtendResult, void>;
type AsyncSteps = AsyncGenerator<StepInfo & { chunk: number }, ExtendResult, void>;

/**
 * The extension as a step generator on the calling thread: each next() runs one denoising step (a
 * CausalSTDiT2 runs Ca2-VDM's own loop, ca2-extend.ts).
 */
export function extendStepsSync(model: STDiT3, options: ExtendOptions): Steps;
export function extendStepsSync(model: CausalSTDiT2, options: Ca2ExtendOptions): Steps;
export function extendStepsSync(model: STDiT3 | CausalSTDiT2, options: ExtendOptions | Ca2ExtendOptions): Steps {
  return stepsOf(model, options);
}

function stepsOf(model: STDiT3 | CausalSTDiT2, options: ExtendOptions | Ca2ExtendOptions): Steps {
  return model instanceof CausalSTDiT2 ? ca2ExtendStepsSync(model, options as Ca2ExtendOptions) : stdit3Steps(model, options as ExtendOptions);
}

export function extendSync(model: STDiT3, options: ExtendOptions): ExtendResult;
export function extendSync(model: CausalSTDiT2, options: Ca2ExtendOptions): ExtendResult;
export function extendSync(model: STDiT3 | CausalSTDiT2, options: ExtendOptions | Ca2ExtendOptions): ExtendResult {
  const it = stepsOf(model, options);
  for (;;) {
    const r = it.next();
    if (r.done) return r.value;
    options.onStep?.(r.value);
  }
}

/** The extension as an async iterator of steps, run on a worker thread (see generateSteps). */
export function extendSteps(model: STDiT3, options: ExtendOptions): AsyncSteps;
export function extendSteps(model: CausalSTDiT2, options: Ca2ExtendOptions): AsyncSteps;
export function extendSteps(model: STDiT3 | CausalSTDiT2, options: ExtendOptions | Ca2ExtendOptions): AsyncSteps {
  return asyncSteps(model, options);
}

async function* asyncSteps(model: STDiT3 | CausalSTDiT2, options: ExtendOptions | Ca2ExtendOptions): AsyncSteps {
  if (isPolicy(options.cache)) {
    const it = stepsOf(model, options);
    for (;;) {
      await yieldToLoop();
      const r = it.next();
      if (r.done) return r.value;
      yield r.value;
    }
  }
  const r = yield* runInWorker<StepInfo & { chunk: number }>(model, 'extend', withPortableCache(options), options.signal);
  return { latent: r.latent, trace: r.trace as ExtendResult['trace'] };
}

/** Extends a video off the calling thread; `onStep` reports each step, `signal` stops it. */
export function extend(model: STDiT3, options: ExtendOptions): Promise<ExtendResult>;
export function extend(model: CausalSTDiT2, options: Ca2ExtendOptions): Promise<ExtendResult>;
export async function extend(model: STDiT3 | CausalSTDiT2, options: ExtendOptions | Ca2ExtendOptions): Promise<ExtendResult> {
  const it = asyncSteps(model, options);
  for (;;) {
    const r = await it.next();
    if (r.done) return r.value;
    options.onStep?.(r.value);
  }
}
