// Autoregressive generation with Ca2-VDM's own model, as the authors run it
// (opensora/utils/video_gen.py):
//   'stream' (autoregressive_sample_kv_cache) — the given first frames are noised to the prefix
//      perturbation timestep and written to both KV caches (at timestep 0); each chunk is denoised
//      from noise by iDDPM against the caches only, then noised the same way and written;
//   'none' (autoregressive_sample) — every denoising step runs the last `maxCacheFrames` frames
//      (noised once per chunk) followed by the chunk, with per-frame timesteps and the mask
//      channel: the window recomputed, the baseline the caches are measured against.
// Guidance runs as one batch [null caption; caption] and only when cfgScale > 1. Random draws
// come in the authors' order: the first frames' perturbation, then per chunk every step's noise
// and the chunk's perturbation ('none': the window's perturbation, then the steps').
import { createPolicy, type CacheOption } from '../cache/index.js';
import { ResidualCache, rowFlags } from '../cache/plan.js';
import type { StepDecision } from '../cache/policy.js';
import type { CaptionState } from '../models/layers/conditioning.js';
import type { CausalSTDiT2, KvPass } from '../models/causal-stdit2/model.js';
import { abortError, type StepInfo } from '../sampling/denoise.js';
import { iddpmSchedule, pSample, qSample, respacedPerturbStep, type IddpmSchedule } from '../sampling/iddpm.js';
import { GaussianStream, gaussianNoise } from '../sampling/noise.js';
import { empty, tensor, type Tensor } from '../tensor.js';
import { argumentError, rangeError, shapeError } from '../util/errors.js';
import { assertFinite } from '../util/finite.js';
import { Scope } from '../util/scope.js';
import { vocabularyOf } from '../generate.js';
import { Ca2KvCache } from './ca2-cache.js';
import type { ChunkTrace, ExtendResult } from './extend.js';

const f32 = Math.fround;

export interface Ca2ExtendOptions {
  /** clean first frames [b, C, k, H, W] (an image's latent: k = 1) */
  condition: Tensor;
  /** captions in the model's vocabulary (models with captions) */
  prompt?: string | string[];
  /** or caption embeddings [b, 1, L, caption_channels] with mask [b][L] */
  y?: Tensor;
  mask?: number[][];
  chunks: number;
  /** default: the config's auto_regre_chunk_len */
  framesPerChunk?: number;
  /** iDDPM sampling steps (respaced); default the config's scheduler */
  steps?: number;
  /** guidance scale, applied only above 1; default the config's */
  cfgScale?: number;
  /** the (un-respaced) timestep conditioning frames are noised to; <= 0 leaves them clean; default the config's */
  prefixPerturbT?: number;
  /** 'stream' (default): the KV caches; 'none': the conditioning window through the model at every step */
  kvCache?: 'stream' | 'none';
  /** frames the temporal KV cache holds ('none': the window); default the config's kv_cache_max_seqlen */
  maxCacheFrames?: number;
  /** the initial noise of chunk j is gaussianNoise(seed + j); the other draws come from GaussianStream(seed ^ 0x5bd1e995) */
  seed?: number;
  /** per chunk, the initial noise [b, C, framesPerChunk, H, W] */
  noise?: Tensor[];
  /** per chunk, each step's sampler noise [steps, b, C, frames, H, W] (frames: the chunk, or window + chunk in 'none') */
  stepNoise?: Tensor[];
  /** the perturbation noise of each write in order ('stream': the first frames, then each chunk but the last; 'none': each chunk's window) */
  prefixNoise?: Tensor[];
  /** called after each write to the KV caches ('stream'; inspection, e.g. Ca2KvCache.snapshot; not carried to a worker thread) */
  onKvWrite?: (cache: Ca2KvCache) => void;
  /** residual caching inside each chunk's denoising (default: the config's do_cache setting, else none) */
  cache?: CacheOption;
  onStep?: (info: StepInfo & { chunk: number }) => void;
  signal?: AbortSignal;
  checkFinite?: boolean;
}

interface Resolved {
  b: number;
  C: number;
  k: number;
  H: number;
  W: number;
  n: number;
  schedule: IddpmSchedule;
  cfgScale: number;
  guided: boolean;
  perturbStep: number;
  capacity: number;
  mode: 'stream' | 'none';
}

function resolve(model: CausalSTDiT2, o: Ca2ExtendOptions): Resolved {
  const cfg = model.config;
  const c = o.condition;
  if (!c || typeof c !== 'object' || !('shape' in c) || c.shape.length !== 5 || c.shape[1] !== cfg.inChannels || c.shape[2]! < 1) {
    throw shapeError(`condition: expected [b, ${cfg.inChannels}, k >= 1, H, W], got ${c && 'shape' in c ? `[${c.shape}]` : String(c)}`);
  }
  const [b, C, k, H, W] = c.shape as [number, number, number, number, number];
  const positive = (v: number | undefined, name: string, fallback: number) => {
    const x = v ?? fallback;
    if (!Number.isInteger(x) || x < 1) throw rangeError(`${name} must be a positive integer, got ${x}`);
    return x;
  };
  const chunks = positive(o.chunks, 'chunks', 0);
  const n = positive(o.framesPerChunk, 'framesPerChunk', cfg.sampling.chunkFrames);
  const capacity = positive(o.maxCacheFrames, 'maxCacheFrames', cfg.sampling.cacheFrames);
  const mode = o.kvCache ?? 'stream';
  if (mode !== 'stream' && mode !== 'none') throw argumentError(`kvCache must be 'stream' or 'none' for a CausalSTDiT2, got ${String(mode)}`);
  if (mode === 'stream' && n > capacity) throw rangeError(`framesPerChunk ${n} exceeds the KV cache's ${capacity} frames`);
  if (mode === 'stream' && k > capacity) throw rangeError(`the ${k} first frames exceed the KV cache's ${capacity} frames`);
  const schedule = iddpmSchedule(o.steps !== undefined ? String(positive(o.steps, 'steps', 0)) : cfg.sampling.respacing, cfg.sampling.diffusionSteps);
  const cfgScale = o.cfgScale ?? cfg.sampling.cfgScale;
  if (!Number.isFinite(cfgScale)) throw argumentError('cfgScale must be a finite number');
  const perturbT = o.prefixPerturbT ?? cfg.sampling.prefixPerturbT;
  if (!cfg.predSigma) throw argumentError('this model has no σ channels (pred_sigma false); the iDDPM sampler needs them');
  const steps = schedule.timestepMap.length;
  const checkList = (list: Tensor[] | undefined, name: string, count: number, shape: (i: number) => number[]) => {
    if (list === undefined) return;
    if (!Array.isArray(list) || list.length !== count) throw shapeError(`${name}: expected ${count} tensors`);
    list.forEach((t, i) => {
      const want = shape(i);
      if (t.shape.length !== want.length || t.shape.some((d, j) => d !== want[j])) throw shapeError(`${name}[${i}]: expected [${want}], got [${t.shape}]`);
    });
  };
  const windowOf = (j: number) => Math.min(k + j * n, capacity);
  checkList(o.noise, 'noise', chunks, () => [b, C, n, H, W]);
  checkList(o.stepNoise, 'stepNoise', chunks, (j) => [steps, b, C, mode === 'none' ? windowOf(j) + n : n, H, W]);
  checkList(o.prefixNoise, 'prefixNoise', chunks, (j) => [b, C, mode === 'stream' ? (j === 0 ? k : n) : windowOf(j), H, W]);
  return {
    b, C, k, H, W, n,
    schedule,
    cfgScale,
    guided: cfgScale > 1,
    perturbStep: perturbT > 0 ? respacedPerturbStep(schedule, perturbT) : -1,
    capacity,
    mode,
  };
}

/** Caption K/V for the batch the model runs: [null; caption] with guidance, the caption without. */
function captionState(model: CausalSTDiT2, o: Ca2ExtendOptions, b: number, guided: boolean, scope: Scope): CaptionState | undefined {
  if (model.config.captionChannels === 0) {
    if (o.prompt !== undefined || o.y) throw argumentError('this model has no captions (caption_channels 0): give no prompt');
    return undefined;
  }
  let y = o.y, mask = o.mask;
  if (o.prompt !== undefined) {
    if (y) throw argumentError('give either prompt or y, not both');
    const enc = vocabularyOf(model).encode(Array.isArray(o.prompt) ? o.prompt : [o.prompt], model.device);
    y = scope.add(enc.y);
    mask = enc.mask;
  }
  if (!y) throw argumentError('this model reads captions: give a prompt (or y and mask)');
  if (y.shape[0] !== b) throw shapeError(`y: ${y.shape[0]} captions for ${b} videos`);
  const L = y.shape[2]!, Cc = y.shape[3]!;
  mask ??= Array.from({ length: b }, () => new Array<number>(L).fill(1));
  if (!guided) return scope.add(model.encodeCaption(y, mask));
  const yIn = scope.add(empty([2 * b, 1, L, Cc], { device: model.device }));
  const yNull = model.weights.yNull!;
  for (let i = 0; i < b; i++) scope.add(yIn.view([1, 1, L, Cc], { offset: i * L * Cc })).copyFrom(scope.add(yNull.view([1, 1, L, Cc])));
  scope.add(yIn.view([b, 1, L, Cc], { offset: b * L * Cc })).copyFrom(y);
  return scope.add(model.encodeCaption(yIn, [...mask, ...mask]));
}

/** Frames [t0, t1) of a host [b, C, T, H, W] array. */
function hostFrames(a: Float32Array, shape: readonly number[], t0: number, t1: number): Float32Array {
  const [B, C, T, H, W] = shape as [number, number, number, number, number];
  const plane = H * W, n = t1 - t0;
  const out = new Float32Array(B * C * n * plane);
  for (let bc = 0; bc < B * C; bc++) out.set(a.subarray((bc * T + t0) * plane, (bc * T + t1) * plane), bc * n * plane);
  return out;
}

/** Writes `src` [b, C, n, H, W] into frames [t0, t0 + n) of a host [b, C, T, H, W] array. */
function setFrames(dst: Float32Array, T: number, src: Float32Array, b: number, C: number, t0: number, n: number, plane: number): void {
  for (let bc = 0; bc < b * C; bc++) dst.set(src.subarray(bc * n * plane, (bc + 1) * n * plane), (bc * T + t0) * plane);
}

export function* ca2ExtendStepsSync(model: CausalSTDiT2, o: Ca2ExtendOptions): Generator<StepInfo & { chunk: number }, ExtendResult, void> {
  const started = performance.now();
  const r = resolve(model, o);
  const { b, C, k, H, W, n, schedule, guided, mode } = r;
  const cfg = model.config;
  const steps = schedule.timestepMap.length;
  const plane = H * W;
  const total = k + o.chunks * n;
  const Bc = guided ? 2 * b : b;
  using scope = new Scope();
  const caption = captionState(model, o, b, guided, scope);
  const stream = new GaussianStream(((o.seed ?? 0) ^ 0x5bd1e995) >>> 0);
  let prefixDraw = 0;
  const prefixNoise = (len: number) => (o.prefixNoise ? o.prefixNoise[prefixDraw++]!.toFloat32Array() : stream.next(len));
  const perturb = (clean: Float32Array) => (r.perturbStep > 0 ? qSample(schedule, clean, r.perturbStep, prefixNoise(clean.length)) : clean);

  const video = new Float32Array(b * C * total * plane);
  setFrames(video, total, o.condition.toFloat32Array(), b, C, 0, k, plane);
  const kv = mode === 'stream' ? scope.add(new Ca2KvCache(model, Bc, r.capacity)) : null;

  /** A model batch from b videos of `frames` frames: twice over with guidance. */
  const batchOf = (x: Float32Array, frames: number): Tensor => {
    const t = empty([Bc, C, frames, H, W], { device: model.device });
    if (!guided) t.write(x);
    else {
      const both = new Float32Array(2 * x.length);
      both.set(x);
      both.set(x, x.length);
      t.write(both);
    }
    return t;
  };
  const write = (clean: Float32Array, frames: number) => {
    using s = new Scope();
    const x = s.add(batchOf(perturb(clean), frames));
    kv!.write(x, caption);
    o.onKvWrite?.(kv!);
  };

  let cacheWriteMs = 0;
  if (kv) {
    const t = performance.now();
    write(hostFrames(video, [b, C, total, H, W], 0, k), k);
    cacheWriteMs = performance.now() - t;
  }
  const chunks: ChunkTrace[] = [];
  let peakKv = 0;
  for (let j = 0; j < o.chunks; j++) {
    if (o.signal?.aborted) throw abortError(o.signal);
    const chunkStart = performance.now() - cacheWriteMs;
    const end = k + j * n;
    const context = kv ? kv.length : Math.min(end, r.capacity);
    const frames = kv ? n : context + n;
    // The model's latent: [window (noised once per chunk, restored every step); chunk].
    const z = new Float32Array(b * C * frames * plane);
    const windowFrames = kv ? null : perturb(hostFrames(video, [b, C, total, H, W], end - context, end));
    if (windowFrames) setFrames(z, frames, windowFrames, b, C, 0, context, plane);
    const init = o.noise ? o.noise[j]!.toFloat32Array() : gaussianNoise((o.seed ?? 0) + j, b * C * n * plane);
    setFrames(z, frames, init, b, C, frames - n, n, plane);
    const stepNoise = o.stepNoise?.[j]?.toFloat32Array();
    const policy = createPolicy(o.cache ?? cfg.cache, steps, cfg.depth);
    const residuals = policy.caches ? scope.add(new ResidualCache()) : undefined;
    const computedSteps: number[] = [];
    const decisions: StepDecision[] = [];
    let cacheBytes = 0;
    // The batch is [null caption; caption] as the authors order it, not the library's [cond; uncond].
    policy.start(steps, { rows: Bc, cfg: false, timesteps: Float32Array.from({ length: steps }, (_, i) => schedule.timestepMap[steps - 1 - i]!) });
    for (let i = 0; i < steps; i++) {
      if (o.signal?.aborted) throw abortError(o.signal);
      const stepStarted = performance.now();
      const t = steps - 1 - i;
      const step = i + 1;
      const plan = policy.plan(step);
      if (windowFrames) setFrames(z, frames, windowFrames, b, C, 0, context, plane);
      using s = new Scope();
      const x = s.add(batchOf(z, frames));
      const timestep = schedule.timestepMap[t]!;
      const pass: KvPass | undefined = kv?.readPass();
      const { out, observations } = model.run(
        {
          x,
          timestep: kv ? new Float32Array(Bc).fill(timestep) : Array.from({ length: Bc }, () => Array.from({ length: frames }, (_, f) => (f < context ? 0 : timestep))),
          ...(caption ? { caption } : {}),
          ...(kv ? {} : { mask_channel: Float32Array.from({ length: Bc * frames }, (_, f) => (f % frames < context ? 1 : 0)), x_temporal_start: end - context }),
        },
        { plan, ...(residuals ? { residualCache: residuals } : {}), ...(pass ? { kv: pass } : {}) },
      );
      const computed = rowFlags(plan.compute, Bc, true)[0]!;
      if (computed) {
        computedSteps.push(step);
        policy.observe(step, observations, new Array(Bc).fill('compute'));
      }
      decisions.push({ step, rows: new Array(Bc).fill(computed ? 'compute' : 'reuse'), computed: computed ? 1 : 0 });
      cacheBytes = Math.max(cacheBytes, residuals?.bytes ?? 0);
      const o2 = s.add(out!);
      if (o.checkFinite) assertFinite(o2, `the model output of chunk ${j}, step ${step}`);
      const { eps, v } = guidedOutput(o2.toFloat32Array(), b, C, frames * plane, guided ? r.cfgScale : 0);
      const noise = stepNoise ? stepNoise.subarray(i * z.length, (i + 1) * z.length) : stream.next(z.length);
      pSample(schedule, z, t, eps, v, noise);
      yield { step, steps, computed, timestep, ms: performance.now() - stepStarted, chunk: j };
    }
    const samples = hostFrames(z, [b, C, frames, H, W], frames - n, frames);
    setFrames(video, total, samples, b, C, end, n, plane);
    // The authors also write the last chunk; nothing reads it, so it is left out.
    if (kv && j < o.chunks - 1) {
      const t = performance.now();
      write(samples, n);
      cacheWriteMs += performance.now() - t;
    }
    const bytes = kv ? kv.bytes.temporal + kv.bytes.spatial : 0;
    peakKv = Math.max(peakKv, bytes);
    chunks.push({
      chunk: j,
      contextFrames: context,
      modelFrames: frames,
      ms: performance.now() - chunkStart,
      computedSteps,
      decisions,
      computedFraction: computedSteps.length / steps,
      evaluations: [...policy.evaluations],
      cacheBytes,
      cacheWriteMs,
      kvCacheFrames: kv?.length ?? 0,
      kvCacheBytes: bytes,
    });
    cacheWriteMs = 0;
  }
  const latent = tensor(video, [b, C, total, H, W], { device: model.device, copy: true });
  return {
    latent,
    trace: { mode, chunks, totalMs: performance.now() - started, kvCacheCapacityFrames: kv ? r.capacity : 0, peakKvCacheBytes: peakKv },
  };
}

/** The noise prediction (guided: uncond + s·(cond − uncond), uncond first) and the σ channels (of the caption half). */
function guidedOutput(out: Float32Array, b: number, C: number, per: number, scale: number): { eps: Float32Array; v: Float32Array } {
  const block = C * per; // one sample's channels [0, C) of [2C, T, H, W]
  const eps = new Float32Array(b * block), v = new Float32Array(b * block);
  for (let i = 0; i < b; i++) {
    const cond = scale > 0 ? (b + i) * 2 * block : i * 2 * block;
    v.set(out.subarray(cond + block, cond + 2 * block), i * block);
    if (scale <= 0) {
      eps.set(out.subarray(cond, cond + block), i * block);
      continue;
    }
    const uncond = i * 2 * block;
    for (let e = 0; e < block; e++) {
      const u = out[uncond + e]!;
      eps[i * block + e] = f32(u + f32(scale * f32(out[cond + e]! - u)));
    }
  }
  return { eps, v };
}
