// The iDDPM sampler Ca2-VDM samples with (opensora/schedulers/iddpm: IDDPM, SpacedDiffusion,
// GaussianDiffusion.p_sample): linear betas over 1000 diffusion steps, respaced to the sampling
// steps, the model predicting the noise and a learned-range variance. The schedule is computed as
// the authors' code does, in float64 for the base process and float32 (torch.FloatTensor of the
// respaced betas) from there on; the per-element step arithmetic is float32 too.
import { rangeError } from '../util/errors.js';

const f32 = Math.fround;

/**
 * Timesteps kept from `numTimesteps` (space_timesteps): sections given as comma-separated counts
 * ("100", "10,15,20") or "ddimN" (a fixed integer stride), each section strided evenly.
 */
export function spaceTimesteps(numTimesteps: number, sectionCounts: string): number[] {
  if (sectionCounts === '') return Array.from({ length: numTimesteps }, (_, i) => i);
  if (sectionCounts.startsWith('ddim')) {
    const desired = Number(sectionCounts.slice(4));
    for (let i = 1; i < numTimesteps; i++) {
      if (Math.ceil(numTimesteps / i) === desired) return Array.from({ length: desired }, (_, j) => j * i);
    }
    throw rangeError(`cannot create exactly ${desired} steps from ${numTimesteps} with an integer stride`);
  }
  const counts = sectionCounts.split(',').map(Number);
  if (counts.some((c) => !Number.isInteger(c) || c < 0)) throw rangeError(`timestep respacing "${sectionCounts}": expected counts such as "100" or "10,20"`);
  const sizePer = Math.floor(numTimesteps / counts.length);
  const extra = numTimesteps % counts.length;
  const steps = new Set<number>();
  let start = 0;
  counts.forEach((count, i) => {
    const size = sizePer + (i < extra ? 1 : 0);
    if (size < count) throw rangeError(`cannot divide a section of ${size} steps into ${count}`);
    const stride = count <= 1 ? 1 : (size - 1) / (count - 1);
    let cur = 0;
    for (let j = 0; j < count; j++) {
      steps.add(start + roundHalfEven(cur));
      cur += stride;
    }
    start += size;
  });
  return [...steps].sort((a, b) => a - b);
}

function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** torch.linspace in float64: from both ends towards the middle. */
function linspace(start: number, end: number, n: number): Float64Array {
  const step = (end - start) / (n - 1);
  const half = Math.floor(n / 2);
  return Float64Array.from({ length: n }, (_, i) => (i < half ? start + step * i : end - step * (n - 1 - i)));
}

export interface IddpmSchedule {
  /** respaced step i → the original diffusion timestep the model is conditioned on */
  timestepMap: Int32Array;
  /** the original number of diffusion steps */
  diffusionSteps: number;
  betas: Float32Array;
  logBetas: Float32Array;
  sqrtAlphasCumprod: Float32Array;
  sqrtOneMinusAlphasCumprod: Float32Array;
  sqrtRecipAlphasCumprod: Float32Array;
  sqrtRecipm1AlphasCumprod: Float32Array;
  posteriorLogVarianceClipped: Float32Array;
  posteriorMeanCoef1: Float32Array;
  posteriorMeanCoef2: Float32Array;
}

/** The respaced schedule (`respacing` as space_timesteps reads it; '' = every step). */
export function iddpmSchedule(respacing: string, diffusionSteps = 1000): IddpmSchedule {
  if (!Number.isInteger(diffusionSteps) || diffusionSteps < 2) throw rangeError(`diffusion steps must be an integer >= 2, got ${diffusionSteps}`);
  const scale = 1000 / diffusionSteps;
  const base = linspace(scale * 0.0001, scale * 0.02, diffusionSteps);
  const kept = new Set(spaceTimesteps(diffusionSteps, respacing));
  const map: number[] = [];
  const betas: number[] = [];
  let cum = 1;
  let last = 1;
  for (let i = 0; i < diffusionSteps; i++) {
    cum *= 1 - base[i]!;
    if (kept.has(i)) {
      betas.push(f32(1 - cum / last));
      last = cum;
      map.push(i);
    }
  }
  const n = betas.length;
  const ac = new Float32Array(n);
  let acc = 1;
  for (let i = 0; i < n; i++) {
    acc *= f32(1 - betas[i]!); // torch's float32 cumprod accumulates in double
    ac[i] = acc;
  }
  const arr = (fn: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f32(fn(i)));
  const prev = (i: number) => (i === 0 ? 1 : ac[i - 1]!);
  const posteriorVariance = arr((i) => f32(betas[i]! * f32(1 - prev(i))) / f32(1 - ac[i]!));
  return {
    timestepMap: Int32Array.from(map),
    diffusionSteps,
    betas: Float32Array.from(betas),
    logBetas: arr((i) => Math.log(betas[i]!)),
    sqrtAlphasCumprod: arr((i) => Math.sqrt(ac[i]!)),
    sqrtOneMinusAlphasCumprod: arr((i) => Math.sqrt(f32(1 - ac[i]!))),
    sqrtRecipAlphasCumprod: arr((i) => Math.sqrt(f32(1 / ac[i]!))),
    sqrtRecipm1AlphasCumprod: arr((i) => Math.sqrt(f32(f32(1 / ac[i]!) - 1))),
    posteriorLogVarianceClipped: arr((i) => Math.log(n > 1 && i === 0 ? posteriorVariance[1]! : posteriorVariance[i]!)),
    posteriorMeanCoef1: arr((i) => f32(betas[i]! * f32(Math.sqrt(prev(i)))) / f32(1 - ac[i]!)),
    posteriorMeanCoef2: arr((i) => f32(f32(1 - prev(i)) * f32(Math.sqrt(f32(1 - betas[i]!)))) / f32(1 - ac[i]!)),
  };
}

/** The number of sampling steps. */
export function scheduleSteps(s: IddpmSchedule): number {
  return s.timestepMap.length;
}

/** q_sample: sqrt(ᾱ_t)·x0 + sqrt(1 − ᾱ_t)·noise at respaced step t, into `out` (default a new array). */
export function qSample(s: IddpmSchedule, x0: Float32Array, t: number, noise: Float32Array, out = new Float32Array(x0.length)): Float32Array {
  const a = s.sqrtAlphasCumprod[t]!, b = s.sqrtOneMinusAlphasCumprod[t]!;
  for (let i = 0; i < x0.length; i++) out[i] = f32(f32(a * x0[i]!) + f32(b * noise[i]!));
  return out;
}

/**
 * p_sample at respaced step t from the model's noise `eps` and σ interpolation `v` (in [−1, 1]
 * between the posterior and β variances), with `noise` (unused at t = 0): x is updated in place.
 */
export function pSample(s: IddpmSchedule, x: Float32Array, t: number, eps: Float32Array, v: Float32Array, noise: Float32Array): void {
  const minLog = s.posteriorLogVarianceClipped[t]!, maxLog = s.logBetas[t]!;
  const r = s.sqrtRecipAlphasCumprod[t]!, rm1 = s.sqrtRecipm1AlphasCumprod[t]!;
  const c1 = s.posteriorMeanCoef1[t]!, c2 = s.posteriorMeanCoef2[t]!;
  for (let i = 0; i < x.length; i++) {
    const xi = x[i]!;
    const x0 = f32(f32(r * xi) - f32(rm1 * eps[i]!));
    const mean = f32(f32(c1 * x0) + f32(c2 * xi));
    if (t === 0) {
      x[i] = mean;
      continue;
    }
    const frac = f32(f32(v[i]! + 1) / 2);
    const logVar = f32(f32(frac * maxLog) + f32(f32(1 - frac) * minLog));
    x[i] = f32(mean + f32(f32(Math.exp(f32(0.5 * logVar))) * noise[i]!));
  }
}

/** The respaced step that prefix_perturb_t (an original timestep) becomes, as the authors' loop computes it. */
export function respacedPerturbStep(s: IddpmSchedule, perturbT: number): number {
  const n = s.timestepMap.length;
  const t = n < s.diffusionSteps ? Math.trunc((perturbT * n) / s.diffusionSteps) : perturbT;
  if (t < 1 || t >= n) throw rangeError(`prefix perturbation at timestep ${perturbT} falls on step ${t} of ${n}: use more sampling steps or prefixPerturbT 0`);
  return t;
}
