// Calibration of an AdaCache codebook and MoReg normaliser for a model and a set of prompts:
// record, in uncached generations, how much the probe residual changes at every step and how much
// it moves between frames; then choose the codebook that reaches a target speedup on them.
import type { STDiT3 } from '../models/stdit3/model.js';
import { generateSync } from '../generate.js';
import { createAdaCachePolicy } from './adacache.js';
import type { Observation, Probe, StepPlan } from './plan.js';
import type { AdaCacheSpec, CachePolicy, MoRegSpec } from './policy.js';
import { CODEBOOK_30_FAST, MOREG_30, scaleMoreg } from './presets.js';

export interface CalibrationRun {
  prompt: string;
  seed: number;
  /** per step (index 0 = step 1): relative change of the probe residual since the previous step */
  distance: (number | null)[];
  /** per step: motion score of the probe residual */
  motion: (number | null)[];
}

export interface CalibrationOptions {
  prompts: string[];
  /** one seed per prompt (default 0, 1, 2, ...) */
  seeds?: number[];
  steps: number;
  /** wanted ratio of total steps to computed steps, averaged over the prompts */
  targetSpeedup: number;
  cacheLoc?: number[];
  cacheRes?: 't-attn' | 's-attn';
  /** also calibrate MoReg (normaliser = median motion over the runs) */
  moreg?: boolean;
  onRun?: (done: number, total: number) => void;
}

export interface CalibrationResult {
  spec: AdaCacheSpec;
  runs: CalibrationRun[];
  /** computed steps the spec gives each run when replayed on the recorded changes */
  predictedComputedSteps: number[];
  predictedSpeedup: number;
  medianMotion: number;
}

/** A policy that computes every step and measures the probe each time (the recording pass). */
function recordingPolicy(probe: Probe, run: CalibrationRun): CachePolicy {
  const plan: StepPlan = { compute: true, probes: [probe] };
  return {
    name: 'calibration',
    caches: true,
    evaluations: [],
    start: () => {},
    plan: () => plan,
    observe: (_step: number, obs: readonly Observation[]) => {
      const o = obs[0];
      run.distance.push(o?.distance ?? null);
      run.motion.push(o?.motion ? o.motion.reduce((a, b) => a + b, 0) / o.motion.length : null);
    },
  };
}

/**
 * Replays AdaCache's decisions on a recorded run: a distance measured at step s after computing at
 * step p is approximated by the sum of the recorded per-step changes over (p, s].
 */
export function replay(spec: AdaCacheSpec, run: CalibrationRun, steps: number): number[] {
  const policy = createAdaCachePolicy(spec);
  policy.start(steps);
  const computed: number[] = [];
  let prev = 0;
  for (let step = 1; step <= steps; step++) {
    const plan = policy.plan(step);
    if (!plan.compute) continue;
    computed.push(step);
    let change: number | null = null;
    if (prev > 0) {
      change = 0;
      for (let q = prev + 1; q <= step; q++) change += run.distance[q - 1] ?? 0;
    }
    const m = run.motion[step - 1];
    policy.observe(
      step,
      plan.probes.map((probe) => ({ probe, distance: change, motion: m === null || m === undefined ? null : [m] })),
    );
    prev = step;
  }
  return computed;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2) : 0;
}

/** The spec whose codebook thresholds are the authors' 30-step ones scaled by `k` (the last is never compared). */
function specFor(k: number, base: Omit<AdaCacheSpec, 'codebook'>, steps: number): AdaCacheSpec {
  const rateScale = steps / 30;
  const codebook = CODEBOOK_30_FAST.map(([t, r]): [number, number] => [t * k, Math.max(1, Math.round(r * rateScale))]);
  return { ...base, codebook };
}

/** MoReg exponent of calibrated specs: gentler than the authors' 8, so that a video moving twice
 * as much as the median one weighs its distance 4× rather than 256×. */
export const CALIBRATED_MOREG_EXPONENT = 2;

export function calibrateFromRuns(runs: CalibrationRun[], o: Omit<CalibrationOptions, 'prompts' | 'seeds' | 'onRun'>, depth: number): CalibrationResult {
  const motions = runs.flatMap((r) => r.motion.filter((m): m is number => m !== null));
  const medianMotion = median(motions);
  const base: Omit<AdaCacheSpec, 'codebook'> = {
    kind: 'adacache',
    cacheRes: o.cacheRes ?? 't-attn',
    cacheLoc: o.cacheLoc ?? [Math.max(0, Math.floor(depth / 2) - 1)],
    distance: 'l1',
  };
  // MoReg normalised by the median motion of these prompts: a median video keeps factor 1, more
  // motion raises the distance (more computed steps), less motion lowers it.
  const moreg: MoRegSpec | undefined = o.moreg
    ? { ...scaleMoreg(MOREG_30, 30, o.steps), hyp: [medianMotion > 0 ? medianMotion : MOREG_30.hyp[0]!, CALIBRATED_MOREG_EXPONENT, 1] }
    : undefined;
  const fit = fitThresholds(moreg ? { ...base, moreg } : base, runs, o.steps, o.targetSpeedup);
  return { spec: fit.spec, runs, predictedComputedSteps: fit.counts, predictedSpeedup: fit.speedup, medianMotion };
}

/** The threshold scale whose replayed mean speedup is closest to `target` (bisection in log space: larger thresholds cache longer). */
function fitThresholds(base: Omit<AdaCacheSpec, 'codebook'>, runs: CalibrationRun[], steps: number, target: number) {
  const speedupOf = (k: number) => {
    const spec = specFor(k, base, steps);
    const counts = runs.map((r) => replay(spec, r, steps).length);
    return { spec, counts, speedup: steps / (counts.reduce((a, b) => a + b, 0) / counts.length) };
  };
  let lo = 1e-4, hi = 1e4;
  let best = speedupOf(1);
  for (let i = 0; i < 60; i++) {
    const mid = Math.sqrt(lo * hi);
    const r = speedupOf(mid);
    if (Math.abs(r.speedup - target) < Math.abs(best.speedup - target)) best = r;
    if (r.speedup < target) lo = mid;
    else hi = mid;
  }
  return best;
}

/** Records uncached runs of `prompts` and fits a codebook (and MoReg normaliser) to the target speedup. */
export function calibrate(model: STDiT3, o: CalibrationOptions): CalibrationResult {
  if (!(o.targetSpeedup >= 1)) throw new RangeError(`targetSpeedup must be >= 1, got ${o.targetSpeedup}`);
  if (o.prompts.length === 0) throw new RangeError('calibrate: at least one prompt is needed');
  const depth = model.config.depth;
  const cacheRes = o.cacheRes ?? 't-attn';
  const probe: Probe = {
    kind: cacheRes === 't-attn' ? 'temporal' : 'spatial',
    index: (o.cacheLoc ?? [Math.max(0, Math.floor(depth / 2) - 1)])[0]!,
    branch: 'attn',
    norm: 'l1',
    motionStrides: [1],
  };
  const runs: CalibrationRun[] = o.prompts.map((prompt, i) => {
    const run: CalibrationRun = { prompt, seed: o.seeds?.[i] ?? i, distance: [], motion: [] };
    const { latent } = generateSync(model, { prompt, seed: run.seed, steps: o.steps, cache: recordingPolicy(probe, run) });
    latent.dispose();
    o.onRun?.(i + 1, o.prompts.length);
    return run;
  });
  return calibrateFromRuns(runs, o, depth);
}
