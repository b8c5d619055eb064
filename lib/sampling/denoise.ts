// The rectified-flow sampling loop with classifier-free guidance as one batch of two, shared by
// text-to-video generation and autoregressive extension. It is a generator: each `next()` runs one
// denoising step, so callers can drive it synchronously, from an async loop, or step by step.
import type { CachePolicy } from '../cache/policy.js';
import { ResidualCache } from '../cache/plan.js';
import type { CaptionState, STDiT3, TemporalKvHooks } from '../models/stdit3/model.js';
import { ops } from '../ops/index.js';
import { empty, type Tensor } from '../tensor.js';
import { assertFinite } from '../util/finite.js';
import { Scope } from '../util/scope.js';

export interface StepInfo {
  /** 1-based step */
  step: number;
  steps: number;
  /** whether the blocks ran (false: residuals reused) */
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
}

export interface DenoiseSummary {
  computedSteps: number[];
  stepMs: number[];
  /** peak bytes of the residual cache (one summed residual plus the probe slots) */
  cacheBytes: number;
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
  const cache = o.policy.caches ? scope.add(new ResidualCache()) : undefined;
  const summary: DenoiseSummary = { computedSteps: [], stepMs: [], cacheBytes: 0 };
  o.policy.start(steps);
  if (o.checkFinite) assertFinite(o.z, 'the initial latent');
  for (let i = 0; i < steps; i++) {
    if (o.signal?.aborted) throw abortError(o.signal);
    const started = performance.now();
    const step = i + 1;
    const plan = o.policy.plan(step);
    zCond.copyFrom(o.z);
    zUncond.copyFrom(o.z);
    const { out, observations } = model.run(
      {
        x: zIn,
        timestep: new Float32Array(2 * B).fill(o.timesteps[i]!),
        caption: o.caption,
        fps: o.fps,
        height: o.height,
        width: o.width,
        ...(xMask ? { xMask } : {}),
      },
      { velocityOnly: true, plan, ...(cache ? { residualCache: cache } : {}), ...(o.temporalKv ? { temporalKv: o.temporalKv } : {}) },
    );
    if (plan.compute) {
      summary.computedSteps.push(step);
      o.policy.observe(step, observations);
    }
    {
      using s = new Scope();
      const v = s.add(out!);
      if (o.checkFinite) assertFinite(v, `the velocity of step ${step}`);
      const cond = s.add(v.view([B, C, T, H, W]));
      const uncond = s.add(v.view([B, C, T, H, W], { offset: half }));
      const diff = s.add(ops.axpby(1, cond, -1, uncond));
      const guided = ops.axpby(1, uncond, o.cfgScale, diff, { out: diff });
      ops.axpby(1, o.z, o.dt[i]!, guided, { out: o.z });
    }
    for (const c of clean) c.view.copyFrom(c.copy);
    if (o.checkFinite) assertFinite(o.z, `the latent after step ${step}`);
    summary.cacheBytes = Math.max(summary.cacheBytes, cache?.bytes ?? 0);
    const ms = performance.now() - started;
    summary.stepMs.push(ms);
    yield { step, steps, computed: plan.compute, timestep: o.timesteps[i]!, ms };
  }
  return summary;
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
