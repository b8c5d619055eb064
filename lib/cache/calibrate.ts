// Calibration of the policies with thresholds for a model and a set of prompts: record, in
// uncached generations, every signal they decide on at every step; then fit each policy's
// threshold (and AdaCache's codebook and MoReg normaliser, TeaCache's rescaling polynomial,
// MagCache's magnitude ratios) so that its decisions replayed on the recorded signals reach a
// target speedup.
import type { STDiT3 } from '../models/stdit3/model.js';
import { resolveGeneration } from '../generate.js';
import { denoise } from '../sampling/denoise.js';
import { samplingSchedule } from '../sampling/rflow.js';
import type { Tensor } from '../tensor.js';
import { createAdaCachePolicy } from './adacache.js';
import { createFirstBlockCachePolicy, type FirstBlockCacheSpec } from './fbcache.js';
import { EVERY_ROW } from './groups.js';
import { createMagCachePolicy, type MagCacheSpec } from './magcache.js';
import type { Observation, Probe, StepPlan } from './plan.js';
import type { AdaCacheSpec, CachePolicy, CacheSpec, MoRegSpec } from './policy.js';
import { polyfit } from './polyfit.js';
import { CODEBOOK_30_FAST, MOREG_30, scaleMoreg } from './presets.js';
import { createTeaCachePolicy, type TeaCacheSpec } from './teacache.js';

/** The policies `calibrate` fits. */
export type CalibratedPolicy = 'adacache' | 'teacache' | 'fbcache' | 'magcache';
export const CALIBRATED_POLICIES: readonly CalibratedPolicy[] = ['adacache', 'teacache', 'fbcache', 'magcache'];

/** One uncached run's signals, per step (index 0 = step 1, null where nothing came before). */
export interface CalibrationRun {
  prompt: string;
  seed: number;
  /** AdaCache: relative L1 change of the probe residual since the previous step */
  distance: (number | null)[];
  /** AdaCache: motion score of the probe residual */
  motion: (number | null)[];
  /** TeaCache: relative L1 change of the first block's modulated input */
  input?: (number | null)[];
  /** TeaCache: relative L1 change of the model output (the velocity of every CFG row) */
  output?: (number | null)[];
  /** First-Block Cache: relative L1 change of the first block's residual */
  head?: (number | null)[];
  /** MagCache: mean over tokens of ‖r_t‖₂ / ‖r_t−1‖₂ of the stack residual */
  magnitude?: (number | null)[];
}

export interface CalibrationOptions {
  /** default 'adacache' */
  policy?: CalibratedPolicy;
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

export interface CalibrationResult<S extends CacheSpec = CacheSpec> {
  spec: S;
  runs: CalibrationRun[];
  /** computed steps the spec gives each run when replayed on the recorded signals */
  predictedComputedSteps: number[];
  predictedSpeedup: number;
  medianMotion: number;
}

const relL1 = (prev: Float32Array, now: Float32Array) => {
  let num = 0, den = 0;
  for (let i = 0; i < now.length; i++) {
    num += Math.abs(now[i]! - prev[i]!);
    den += Math.abs(prev[i]!);
  }
  return den > 0 ? num / den : 0;
};

/** Per-token L2 norms of rows [tokens, C]. */
function tokenNorms(r: Float32Array, C: number): Float64Array {
  const out = new Float64Array(r.length / C);
  for (let t = 0; t < out.length; t++) {
    let s = 0;
    for (let c = 0; c < C; c++) s += r[t * C + c]! ** 2;
    out[t] = Math.sqrt(s);
  }
  return out;
}

/**
 * One uncached generation recording every signal: the AdaCache probe (with motion), the first
 * spatial block's residual, the modulated input (a gate that always computes), and from the
 * sampler the velocity and the stack residual.
 */
function recordRun(model: STDiT3, prompt: string, seed: number, steps: number, adaProbe: Probe): CalibrationRun {
  const run: Required<CalibrationRun> = { prompt, seed, distance: [], motion: [], input: [], output: [], head: [], magnitude: [] };
  const headProbe: Probe = { kind: 'spatial', index: 0, branch: 'block', norm: 'l1' };
  const policy: CachePolicy = {
    name: 'calibration',
    caches: true,
    evaluations: [],
    start: () => {},
    plan: (): StepPlan => ({
      compute: true,
      probes: [headProbe, adaProbe],
      gate: { signal: 'modulated-input', groups: [EVERY_ROW], decide: ([c]) => (run.input.push(c ?? null), [true]) },
    }),
    observe: (_step: number, obs: readonly Observation[]) => {
      const ada = obs.find((o) => o.probe === adaProbe);
      run.distance.push(ada?.distance ?? null);
      run.motion.push(ada?.motion ? ada.motion.reduce((a, b) => a + b, 0) / ada.motion.length : null);
      run.head.push(obs.find((o) => o.probe === headProbe)?.distance ?? null);
    },
  };
  const r = resolveGeneration(model, { prompt, seed, steps });
  const { timesteps, dt } = samplingSchedule({
    steps,
    height: r.height,
    width: r.width,
    numFrames: r.numFrames,
    useTimestepTransform: model.config.scheduler.useTimestepTransform,
    numTimesteps: model.config.scheduler.numTimesteps,
  });
  let prevOut: Float32Array | null = null;
  let prevNorms: Float64Array | null = null;
  const inspect = (_step: number, v: Tensor, cache: { sum: Tensor | null }) => {
    const out = v.toFloat32Array();
    run.output.push(prevOut ? relL1(prevOut, out) : null);
    prevOut = out;
    const norms = tokenNorms(cache.sum!.toFloat32Array(), model.config.hiddenSize);
    run.magnitude.push(prevNorms ? norms.reduce((s, n, i) => s + n / prevNorms![i]!, 0) / norms.length : null);
    prevNorms = norms;
  };
  try {
    const it = denoise(model, { z: r.z, caption: r.caption, timesteps, dt, cfgScale: r.cfgScale, fps: r.fps, height: r.height, width: r.width, policy, inspect });
    while (!it.next().done);
  } finally {
    r.caption.dispose();
    r.z.dispose();
    r.y.dispose();
  }
  return run;
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

export function calibrateFromRuns(runs: CalibrationRun[], o: Omit<CalibrationOptions, 'prompts' | 'seeds' | 'onRun' | 'policy'>, depth: number): CalibrationResult<AdaCacheSpec> {
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

/** Records one uncached run per prompt with every signal the calibrated policies decide on. */
export function recordRuns(model: STDiT3, o: Omit<CalibrationOptions, 'targetSpeedup' | 'policy'>): CalibrationRun[] {
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
  return o.prompts.map((prompt, i) => {
    const run = recordRun(model, prompt, o.seeds?.[i] ?? i, o.steps, probe);
    o.onRun?.(i + 1, o.prompts.length);
    return run;
  });
}

/** Records uncached runs of `prompts` and fits the policy (default AdaCache) to the target speedup. */
export function calibrate(model: STDiT3, o: CalibrationOptions): CalibrationResult {
  if (!(o.targetSpeedup >= 1)) throw new RangeError(`targetSpeedup must be >= 1, got ${o.targetSpeedup}`);
  const policy = o.policy ?? 'adacache';
  if (!CALIBRATED_POLICIES.includes(policy)) throw new TypeError(`calibrate: policy must be one of ${CALIBRATED_POLICIES.join(', ')}, got ${String(policy)}`);
  return fitPolicy(policy, recordRuns(model, o), o, model.config.depth);
}

/** Fits `policy` to recorded runs. */
export function fitPolicy(policy: CalibratedPolicy, runs: CalibrationRun[], o: Omit<CalibrationOptions, 'prompts' | 'seeds' | 'onRun' | 'policy'>, depth: number): CalibrationResult {
  switch (policy) {
    case 'adacache':
      return calibrateFromRuns(runs, o, depth);
    case 'teacache':
      return fitTeaCache(runs, o.steps, o.targetSpeedup);
    case 'fbcache':
      return fitFirstBlockCache(runs, o.steps, o.targetSpeedup);
    case 'magcache':
      return fitMagCache(runs, o.steps, o.targetSpeedup);
    default:
      throw new TypeError(`calibrate: policy must be one of ${CALIBRATED_POLICIES.join(', ')}, got ${String(policy)}`);
  }
}

const signal = (run: CalibrationRun, key: 'input' | 'output' | 'head' | 'magnitude') => {
  const v = run[key];
  if (!v) throw new TypeError(`calibration run of "${run.prompt}" has no ${key} signal: record it with recordRuns()`);
  return v;
};

/** Computed steps of `policy` driven through its plans and gates, `change(step, lastComputed)` giving a gate's signal. */
function drive(policy: CachePolicy, steps: number, change: (step: number, last: number) => number | null): number[] {
  policy.start(steps, { rows: 2, cfg: true, timesteps: new Float32Array(steps) });
  const computed: number[] = [];
  for (let step = 1; step <= steps; step++) {
    const plan = policy.plan(step);
    let compute = plan.compute === true;
    if (plan.gate) compute = plan.gate.decide([change(step, computed[computed.length - 1] ?? 0)])[0]!;
    if (compute) computed.push(step);
  }
  return computed;
}

/** The threshold in [1e-6, 1e3] whose mean speedup, each run replayed on its own signals, is closest to `target` (bisection in log space: larger thresholds skip more). */
function fitOnRuns<S extends CacheSpec>(runs: CalibrationRun[], steps: number, target: number, specFor: (t: number) => S, replayRun: (spec: S, run: CalibrationRun) => number[]): CalibrationResult<S> {
  let lo = 1e-6, hi = 1e3;
  const at = (t: number) => {
    const spec = specFor(t);
    const counts = runs.map((r) => replayRun(spec, r).length);
    return { spec, counts, speedup: steps / (counts.reduce((a, b) => a + b, 0) / counts.length) };
  };
  let best = at(Math.sqrt(lo * hi));
  for (let i = 0; i < 60; i++) {
    const mid = Math.sqrt(lo * hi);
    const r = at(mid);
    if (Math.abs(r.speedup - target) < Math.abs(best.speedup - target)) best = r;
    if (r.speedup < target) lo = mid;
    else hi = mid;
  }
  return { spec: best.spec, runs, predictedComputedSteps: best.counts, predictedSpeedup: best.speedup, medianMotion: median(runs.flatMap((r) => r.motion.filter((m): m is number => m !== null))) };
}

/** Computed steps of a threshold policy's spec replayed on a run's recorded signals. */
export function replaySpec(spec: AdaCacheSpec | TeaCacheSpec | FirstBlockCacheSpec | MagCacheSpec, run: CalibrationRun, steps: number): number[] {
  switch (spec.kind) {
    case 'adacache':
      return replay(spec, run, steps);
    case 'teacache':
      return drive(createTeaCachePolicy(spec), steps, (step) => signal(run, 'input')[step - 1] ?? null);
    case 'fbcache':
      return drive(createFirstBlockCachePolicy(spec), steps, (step, last) => {
        if (last === 0) return null;
        let sum = 0;
        for (let q = last + 1; q <= step; q++) sum += signal(run, 'head')[q - 1] ?? 0;
        return sum;
      });
    case 'magcache':
      return drive(createMagCachePolicy(spec), steps, () => null);
  }
}

/**
 * TeaCache: the rescaling polynomial np.polyfit(x, y, 4) over every step after the first of every
 * run (x the modulated input's change, y the output's), then δ for the target speedup.
 */
export function fitTeaCache(runs: CalibrationRun[], steps: number, target: number): CalibrationResult<TeaCacheSpec> {
  const x: number[] = [], y: number[] = [];
  for (const r of runs) {
    const input = signal(r, 'input'), output = signal(r, 'output');
    input.forEach((v, i) => {
      if (v !== null && output[i] !== null && output[i] !== undefined) {
        x.push(v);
        y.push(output[i]!);
      }
    });
  }
  const coefficients = polyfit(x, y, 4);
  return fitOnRuns(runs, steps, target, (threshold): TeaCacheSpec => ({ kind: 'teacache', threshold, coefficients }), (spec, run) => replaySpec(spec, run, steps));
}

/**
 * First-Block Cache: the threshold for the target speedup. The change since the last computed
 * step is taken as the sum of the recorded per-step changes since it (as AdaCache's replay does).
 */
export function fitFirstBlockCache(runs: CalibrationRun[], steps: number, target: number): CalibrationResult<FirstBlockCacheSpec> {
  return fitOnRuns(runs, steps, target, (threshold): FirstBlockCacheSpec => ({ kind: 'fbcache', threshold }), (spec, run) => replaySpec(spec, run, steps));
}

/**
 * MagCache: the magnitude ratios of the first run (the authors calibrate on one prompt) and the
 * error threshold for the target speedup, at the authors' K = 3 and retention 0.2.
 */
export function fitMagCache(runs: CalibrationRun[], steps: number, target: number): CalibrationResult<MagCacheSpec> {
  const ratios = signal(runs[0]!, 'magnitude').slice(1).map((v) => v ?? 1);
  return fitOnRuns(runs, steps, target, (threshold): MagCacheSpec => ({ kind: 'magcache', threshold, maxSkips: 3, retention: 0.2, ratios }), (spec, run) => replaySpec(spec, run, steps));
}
