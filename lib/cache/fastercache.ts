// FasterCache (arXiv 2410.19355) as the authors run Open-Sora 1.2 — Vchitect/FasterCache
// scripts/opensora/fastercache_sample_opensora.py (commit 02d05ef); the step counter is the model
// call from 1 (lines 154–156):
//   - attention reuse (fastercache_STDiT3Block_forward, lines 73–94): in every spatial and temporal
//     block, from step 5 the self-attention output (after its projection, before its gate) of
//     each computed step is kept with the one before it (step 5 fills both); at even steps after
//     step 7 it is not computed but extrapolated, o₁ + (o₁ − o₀)·w with w = (step − 7)/20 · 0.9,
//     and gated by this step's gate (lines 96–100);
//   - CFG-Cache (fastercache_model_forward, lines 158–193): after step 11, steps that are not
//     multiples of 5 run the conditional rows only; the other steps run both and, from step 10,
//     keep the unconditional − conditional output difference split by an FFT into the low
//     frequencies (a disc of radius min(H, W) // 5 around the centre of the shifted spectrum) and
//     the high ones (lines 131–147, 183–192); a conditional-only step first multiplies the kept
//     high part by 1.15 from step 20 on and the low part by 1.15 up to step 25, then predicts the
//     unconditional output as the conditional one plus both parts (lines 166–178).
// Equal outputs, different form: ifft(LF(c) + w_l·ΔL + HF(c) + w_h·ΔH) is c + w_l·lowpass(d) +
// w_h·(d − lowpass(d)) for d = u − c (the transform is linear and the disc symmetric), so the
// difference is kept as two real tensors rather than two complex spectra. The authors' cache
// slicing (attn_cache[1][:x.shape[0]]) makes the unconditional rows of a full step that reuses
// attention (steps 20 and 30) read the conditional rows' outputs kept on the conditional-only steps
// before it; here the absent unconditional rows' kept outputs follow their conditional rows, which
// gives the same values. For N ≠ 30 steps the step constants scale by N/30 (fasterCachePreset).
import type { StepPlan } from './plan.js';
import type { CachePolicy, Evaluation, StepContext } from './policy.js';

export interface FasterCacheSpec {
  kind: 'fastercache';
  /** self-attention reuse; omitted: attention always computes */
  attention?: {
    /** first step whose output is kept (authors: 5) */
    keepFrom: number;
    /** extrapolated at steps after this one (authors: 7) ... */
    after: number;
    /** ... that are multiples of this (authors: 2) */
    every: number;
    /** w = (step − after) · slope (authors: 0.9 / 20) */
    slope: number;
    /**
     * With CFG-Cache: whether the steps that run both branches after conditional-only ones began
     * extrapolate too (authors: yes; their unconditional rows then extrapolate the conditional
     * rows' outputs, see above). false computes attention on those steps.
     */
    onFullSteps?: boolean;
  };
  /** CFG-Cache; omitted: every step runs both branches */
  cfg?: {
    /** steps up to this one run both branches (authors: 11) ... */
    fullUntil: number;
    /** ... and after it the multiples of this (authors: 5) */
    fullEvery: number;
    /** full steps keep the difference from this step (authors: 10) */
    keepFrom: number;
    /** the high part grows by `boost` on conditional-only steps from this step (authors: 20) ... */
    highFrom: number;
    /** ... the low part up to this step (authors: 25) */
    lowUntil: number;
    /** authors: 1.15 */
    boost: number;
    /** the low disc's radius is min(H, W) // radiusDivisor (authors: 5) */
    radiusDivisor: number;
  };
}

export function validateFasterCacheSpec(spec: FasterCacheSpec): void {
  const ints = (o: Record<string, number>, keys: string[], what: string) => {
    for (const k of keys) if (!Number.isInteger(o[k]) || o[k]! < 0) throw new RangeError(`fastercache: ${what}.${k} must be an integer >= 0, got ${String(o[k])}`);
  };
  if (spec.attention) {
    ints(spec.attention as unknown as Record<string, number>, ['keepFrom', 'after'], 'attention');
    if (!Number.isInteger(spec.attention.every) || spec.attention.every < 1) throw new RangeError(`fastercache: attention.every must be a positive integer, got ${String(spec.attention.every)}`);
    if (!Number.isFinite(spec.attention.slope)) throw new RangeError('fastercache: attention.slope must be a finite number');
    if (spec.attention.onFullSteps !== undefined && typeof spec.attention.onFullSteps !== 'boolean') throw new TypeError('fastercache: attention.onFullSteps must be a boolean');
  }
  if (spec.cfg) {
    ints(spec.cfg as unknown as Record<string, number>, ['fullUntil', 'keepFrom', 'highFrom', 'lowUntil'], 'cfg');
    if (!Number.isInteger(spec.cfg.fullEvery) || spec.cfg.fullEvery < 1) throw new RangeError(`fastercache: cfg.fullEvery must be a positive integer, got ${String(spec.cfg.fullEvery)}`);
    if (!(spec.cfg.boost > 0) || !Number.isFinite(spec.cfg.boost)) throw new RangeError('fastercache: cfg.boost must be a positive number');
    if (!(spec.cfg.radiusDivisor > 0)) throw new RangeError('fastercache: cfg.radiusDivisor must be positive');
    if (spec.cfg.keepFrom > spec.cfg.fullUntil) throw new RangeError('fastercache: cfg.keepFrom must not come after cfg.fullUntil (a conditional-only step needs a kept difference)');
  }
}

/** The authors' Open-Sora constants (30 steps), their step numbers scaled by steps/30 for other counts. */
export function fasterCachePreset(steps: number): FasterCacheSpec {
  const at = (s: number) => Math.max(1, Math.round((s * steps) / 30));
  return {
    kind: 'fastercache',
    attention: { keepFrom: at(5), after: at(7), every: 2, slope: 0.9 / (20 * (steps / 30)) },
    cfg: { fullUntil: at(11), fullEvery: 5, keepFrom: at(10), highFrom: at(20), lowUntil: at(25), boost: 1.15, radiusDivisor: 5 },
  };
}

export function createFasterCachePolicy(spec: FasterCacheSpec, name = 'fastercache'): CachePolicy {
  validateFasterCacheSpec(spec);
  let rows = 0, total = 0;
  let low = 1, high = 1;
  const evaluations: Evaluation[] = [];
  const a = spec.attention, g = spec.cfg;
  const condOnly = (step: number) => !!g && step % g.fullEvery !== 0 && step > g.fullUntil;
  const extrapolates = (step: number) => !!a && step > a.after && step % a.every === 0 && (a.onFullSteps !== false || !g || condOnly(step) || step <= g.fullUntil);
  return {
    name,
    caches: false,
    evaluations,
    start(totalSteps: number, context?: StepContext) {
      if (!context?.cfg) throw new TypeError('fastercache: needs a batch of [conditional; unconditional] rows (start(steps, context))');
      rows = context.rows;
      total = totalSteps;
      low = high = 1;
    },
    plan(step: number): StepPlan {
      let extrapolateAny = false;
      for (let q = step + 1; q <= total && !extrapolateAny; q++) extrapolateAny = extrapolates(q);
      const attn = extrapolates(step) ? { extrapolate: (step - a!.after) * a!.slope } : undefined;
      const keep = !attn && !!a && step >= a.keepFrom && extrapolateAny;
      const blockPlan = { ...(attn ? { attn } : {}), ...(keep ? { keep: { attn: 'history' as const } } : {}) };
      const plan: StepPlan = { compute: true, probes: [], ...(attn || keep ? { blocks: () => blockPlan } : {}) };
      if (!g) return plan;
      const B = rows / 2;
      if (condOnly(step)) {
        if (step >= g.highFrom) high *= g.boost;
        if (step <= g.lowUntil) low *= g.boost;
        return {
          ...plan,
          present: Array.from({ length: rows }, (_, r) => r < B),
          follow: Array.from({ length: rows }, (_, r) => (r < B ? undefined : r - B)),
          guidance: { predict: { low, high } },
        };
      }
      if (step >= g.keepFrom) {
        low = high = 1;
        let predictsLater = false;
        for (let q = step + 1; q <= total && !predictsLater; q++) predictsLater = condOnly(q);
        if (predictsLater) return { ...plan, guidance: { keep: { radiusDivisor: g.radiusDivisor } } };
      }
      return plan;
    },
    observe: () => {},
  };
}
