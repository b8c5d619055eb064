// The rectified-flow sampling loop with classifier-free guidance as one batch of two, shared by
// text-to-video generation and autoregressive extension. It is a generator: each `next()` runs one
// denoising step, so callers can drive it synchronously, from an async loop, or step by step.
import { lowPass, lowPassRadius } from '../cache/frequency.js';
import type { CachePolicy, StepDecision } from '../cache/policy.js';
import { ResidualCache, type RowOutcome, type StepPlan } from '../cache/plan.js';
import { blockCosts } from '../models/stdit3/cost.js';
import type { CaptionState, STDiT3, TemporalKvHooks } from '../models/stdit3/model.js';
import { ops } from '../ops/index.js';
import { empty, tensor, type Tensor } from '../tensor.js';
import { assertFinite } from '../util/finite.js';
import { Scope } from '../util/scope.js';

export interface StepInfo {
  /** 1-based step */
  step: number;
  steps: number;
  /** whether the blocks ran for some row (false: every row reused its residuals) */
  computed: boolean;
  timestep: number;
  ms: number;
}

export interface DenoiseOptions {
  /** [B, C, T, H, W]: the initial latent, updated in place */
  z: Tensor;
  /** caption K/V for the CFG batch [cond; uncond] (2B) */
  caption: CaptionState;
  timesteps: Float32Array;
  dt: Float32Array;
  cfgScale: number;
  /** nominal conditioning */
  fps: number;
  height: number;
  width: number;
  /** [T]: 1 = frame to generate, 0 = clean conditioning frame kept as it is in z */
  frameMask?: Uint8Array;
  policy: CachePolicy;
  temporalKv?: TemporalKvHooks;
  signal?: AbortSignal;
  /** Check the latent and every velocity for NaN/Inf, naming the first that goes bad. */
  checkFinite?: boolean;
  /** Sees each step's velocity [2B, C, T, H, W] (before guidance) and the cache (calibration records from it). */
  inspect?: (step: number, velocity: Tensor, cache: ResidualCache) => void;
}

export interface DenoiseSummary {
  /** steps in which some row ran the blocks */
  computedSteps: number[];
  decisions: StepDecision[];
  stepMs: number[];
  /** peak bytes held by the policy's cache, and what held them at that peak */
  cacheBytes: number;
  cacheBreakdown: ResidualCache['breakdown'];
  /** share of the uncached generation's block work done */
  computedFraction: number;
}

export function abortError(signal: AbortSignal): Error {
  const reason = signal.reason;
  if (reason instanceof Error) return reason;
  const e = new Error('the operation was aborted');
  e.name = 'AbortError';
  return e;
}

export function* denoise(model: STDiT3, o: DenoiseOptions): Generator<StepInfo, DenoiseSummary, void> {
  const [B, C, T, H, W] = o.z.shape as [number, number, number, number, number];
  const steps = o.timesteps.length;
  using scope = new Scope();
  const zIn = scope.add(empty([2 * B, C, T, H, W], { dtype: o.z.dtype, device: o.z.device }));
  const half = B * C * T * H * W;
  const zCond = scope.add(zIn.view([B, C, T, H, W]));
  const zUncond = scope.add(zIn.view([B, C, T, H, W], { offset: half }));
  const cleanRuns = o.frameMask ? frameRuns(o.frameMask) : [];
  const clean = cleanRuns.map(([t0, t1]) => {
    const view = scope.add(frames(o.z, t0, t1));
    return { view, copy: scope.add(view.clone()) };
  });
  const xMask = o.frameMask ? Array.from({ length: 2 * B }, () => Array.from(o.frameMask!)) : undefined;
  const cache = scope.add(new ResidualCache());
  const work = stepWork(model, T, H, W, o.caption.length);
  const summary: DenoiseSummary = { computedSteps: [], decisions: [], stepMs: [], cacheBytes: 0, cacheBreakdown: cache.breakdown, computedFraction: 0 };
  o.policy.start(steps, { rows: 2 * B, cfg: true, timesteps: o.timesteps });
  if (o.checkFinite) assertFinite(o.z, 'the initial latent');
  let done = 0;
  for (let i = 0; i < steps; i++) {
    if (o.signal?.aborted) throw abortError(o.signal);
    const started = performance.now();
    const step = i + 1;
    const plan = o.policy.plan(step);
    zCond.copyFrom(o.z);
    zUncond.copyFrom(o.z);
    const { out, observations, rows } = model.run(
      {
        x: zIn,
        timestep: new Float32Array(2 * B).fill(o.timesteps[i]!),
        caption: o.caption,
        fps: o.fps,
        height: o.height,
        width: o.width,
        ...(xMask ? { x_mask: xMask } : {}),
      },
      { velocityOnly: true, plan, residualCache: cache, keepStack: o.policy.caches, ...(o.temporalKv ? { temporalKv: o.temporalKv } : {}) },
    );
    const computed = rows.includes('compute');
    if (computed) {
      summary.computedSteps.push(step);
      o.policy.observe(step, observations, rows);
    }
    {
      using s = new Scope();
      const v = s.add(out!);
      const predicted = guide(v, plan, rows, cache, B, [C, T, H, W]);
      o.inspect?.(step, v, cache);
      if (o.checkFinite) assertFinite(v, `the velocity of step ${step}`);
      const cond = s.add(v.view([B, C, T, H, W]));
      const uncond = s.add(v.view([B, C, T, H, W], { offset: half }));
      const diff = s.add(ops.axpby(1, cond, -1, uncond));
      const guided = ops.axpby(1, uncond, o.cfgScale, diff, { out: diff });
      ops.axpby(1, o.z, o.dt[i]!, guided, { out: o.z });
      const decision = decide(step, plan, rows, predicted, model.config.depth, work);
      done += decision.computed;
      summary.decisions.push(decision);
    }
    for (const c of clean) c.view.copyFrom(c.copy);
    if (o.checkFinite) assertFinite(o.z, `the latent after step ${step}`);
    if (cache.bytes > summary.cacheBytes) {
      summary.cacheBytes = cache.bytes;
      summary.cacheBreakdown = cache.breakdown;
    }
    const ms = performance.now() - started;
    summary.stepMs.push(ms);
    summary.computedFraction = done / steps;
    yield { step, steps, computed, timestep: o.timesteps[i]!, ms };
  }
  return summary;
}

/** Multiply-adds of each block's branches for one row, spatial block i at 2i and temporal at 2i + 1. */
function stepWork(model: STDiT3, T: number, H: number, W: number, L: number) {
  const [pt, ph, pw] = model.config.patchSize;
  const costs = blockCosts(model.config, Math.ceil(T / pt), Math.ceil(H / ph) * Math.ceil(W / pw), L);
  return Array.from({ length: 2 * model.config.depth }, (_, p) => (p % 2 === 0 ? costs.spatial : costs.temporal));
}

/**
 * CFG-Cache: keeps the unconditional − conditional velocity split into low and high frequencies,
 * or predicts the absent unconditional rows from it. Returns the rows it predicted.
 */
function guide(v: Tensor, plan: StepPlan, rows: readonly string[], cache: ResidualCache, B: number, dims: [number, number, number, number]): boolean[] {
  const predicted = new Array<boolean>(2 * B).fill(false);
  const g = plan.guidance;
  if (!g) return predicted;
  const [C, T, H, W] = dims;
  const n = C * T * H * W;
  if ('keep' in g) {
    if (rows.includes('absent')) throw new Error('CFG-Cache keeps the guidance difference only on steps where every row runs');
    const all = v.toFloat32Array();
    const d = new Float32Array(B * n);
    for (let i = 0; i < B * n; i++) d[i] = all[B * n + i]! - all[i]!;
    const low = lowPass(d, B * C * T, H, W, lowPassRadius(H, W, g.keep.radiusDivisor));
    const high = d.map((x, i) => x - low[i]!);
    for (const [key, data] of [['low', low], ['high', high]] as const) {
      cache.guidance.get(key)?.dispose();
      cache.guidance.set(key, tensor(data, [B, C, T, H, W], { device: v.device, dtype: v.dtype }));
    }
    return predicted;
  }
  const low = cache.guidance.get('low'), high = cache.guidance.get('high');
  if (!low || !high) throw new Error('CFG-Cache predicts an unconditional row before a full step kept the guidance difference');
  for (let b = 0; b < B; b++) {
    if (rows[B + b] !== 'absent') continue;
    if (rows[b] === 'absent') throw new Error(`CFG-Cache cannot predict the unconditional row of video ${b} without its conditional row`);
    using scope = new Scope();
    const at = (t: Tensor, row: number, per: number) => scope.add(t.view([C, T, H, W], { offset: row * per }));
    const delta = scope.add(ops.axpby(g.predict.low, at(low, b, n), g.predict.high, at(high, b, n)));
    ops.add(at(v, b, n), delta, { out: at(v, B + b, n) });
    predicted[B + b] = true;
  }
  return predicted;
}

/** The trace record of a step: what each row did, which branches were reused, the work done. */
function decide(step: number, plan: StepPlan, rows: readonly RowOutcome[], predicted: readonly boolean[], depth: number, work: ReturnType<typeof stepWork>): StepDecision {
  const attnReused: string[] = [], attnExtrapolated: string[] = [], crossReused: string[] = [];
  const head = plan.head ?? 0;
  let full = 0, done = 0;
  for (let p = 0; p < 2 * depth; p++) {
    const kind = p % 2 === 0 ? ('spatial' as const) : ('temporal' as const);
    const name = `${kind[0]}${p >> 1}`;
    const bp = plan.blocks?.(kind, p >> 1);
    if (bp?.attn === 'reuse') attnReused.push(name);
    else if (bp?.attn) attnExtrapolated.push(name);
    if (bp?.cross === 'reuse') crossReused.push(name);
    const c = work[p]!;
    const branchWork = (bp?.attn ? 0 : c.attn) + (bp?.cross ? 0 : c.cross) + c.mlp;
    for (const r of rows) {
      full += c.attn + c.cross + c.mlp;
      if (r === 'compute' || (r === 'reuse' && p < head)) done += branchWork;
    }
  }
  return {
    step,
    rows: rows.map((r, i) => (predicted[i] ? 'predicted' : r)),
    ...(attnReused.length ? { attnReused } : {}),
    ...(attnExtrapolated.length ? { attnExtrapolated } : {}),
    ...(crossReused.length ? { crossReused } : {}),
    computed: full > 0 ? done / full : 0,
  };
}

/** Frames [t0, t1) of a [B, C, T, H, W] tensor as a view. */
export function frames(z: Tensor, t0: number, t1: number): Tensor {
  const [B, C, , H, W] = z.shape as [number, number, number, number, number];
  return z.view([B, C, t1 - t0, H, W], { offset: t0 * H * W, strides: z.strides });
}

/** Maximal runs [t0, t1) of conditioning frames (mask 0). */
function frameRuns(mask: Uint8Array): [number, number][] {
  const runs: [number, number][] = [];
  for (let t = 0; t < mask.length; ) {
    if (mask[t]) {
      t++;
      continue;
    }
    const s = t;
    while (t < mask.length && !mask[t]) t++;
    runs.push([s, t]);
  }
  return runs;
}
