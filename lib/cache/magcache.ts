// MagCache (arXiv 2506.09045) as the authors decide for Open-Sora 1.2 — Zehong-Ma/MagCache
// eval/magcache/experiments/opensora.py, magcache_forward (commit df81cb1), lines 294–354:
//   - the first ⌊N · retention⌋ steps compute (line 297; skip_time = 6 of 30, "30*0.2", line 422);
//   - from then on each step multiplies the accumulated magnitude ratio by the calibrated ratio
//     of this step to the previous one, counts a skipped step and adds 1 − ratio to the error
//     (lines 298–301; this variant adds 1 − ratio, not |1 − ratio| as the Wan2.1 one does);
//   - the step reuses the stack residual while the error is <= the threshold and at most K steps in
//     a row were skipped, else it computes and resets all three (lines 302–308);
//   - the stack residual x_out − x_in is kept on every step (lines 342–347).
// The published Open-Sora ratios are the listed values to the power 0.5 (line 433) with threshold
// 0.12 and K = 3 (lines 420–421). Ratios are calibrated as in MagCache4Wan2.1/magcache_generate.py
// magcache_calibration (lines 163–175): per step, the mean over tokens of ‖r_t‖₂ / ‖r_t−1‖₂ of
// the stack residual of one uncached run; for another step count they are resampled by
// nearest_interp (same file, lines 27–34). One deviation: step 1 always computes (with a retention
// that rounds to 0 steps the authors' code would read ratio[−1], the last one, at step 1).
import type { DecisionGroups } from './groups.js';
import type { StepPlan } from './plan.js';
import type { CachePolicy, Evaluation } from './policy.js';

/** eval/magcache/experiments/opensora.py line 433 before the power 0.5: steps 2..30 of 30. */
export const MAGCACHE_OPEN_SORA_LISTED: readonly number[] = Object.freeze([
  0.93359, 0.96484, 0.99609, 1.0, 0.99609, 0.99609, 0.99219, 1.0, 1.0, 0.99609, 0.99219, 1.0, 0.99219, 0.99609, 0.99219, 0.99609, 0.99609, 0.99609, 0.99219,
  0.99219, 0.99219, 0.98828, 0.98828, 0.98438, 0.98438, 0.97656, 0.97656, 0.96484, 0.96484,
]);

export interface MagCacheSpec {
  kind: 'magcache';
  /** accumulated error up to which steps are skipped (authors: 0.12) */
  threshold: number;
  /** K: at most this many steps in a row are skipped (authors: 3) */
  maxSkips: number;
  /** the share of the first steps that always compute (authors: 0.2) */
  retention: number;
  /** magnitude ratio of each step's stack residual to the previous step's, steps 2..N (resampled to other N) */
  ratios: number[];
  /** who decides together (default 'batch'); the ratios are the batch's, so every group decides alike */
  decide?: DecisionGroups;
}

export function validateMagCacheSpec(spec: MagCacheSpec): void {
  if (typeof spec.threshold !== 'number' || !Number.isFinite(spec.threshold)) throw new RangeError(`magcache: threshold must be a finite number, got ${String(spec.threshold)}`);
  if (!Number.isInteger(spec.maxSkips) || spec.maxSkips < 0) throw new RangeError(`magcache: maxSkips must be an integer >= 0, got ${String(spec.maxSkips)}`);
  if (typeof spec.retention !== 'number' || !(spec.retention >= 0 && spec.retention <= 1)) throw new RangeError(`magcache: retention must be in [0, 1], got ${String(spec.retention)}`);
  if (!Array.isArray(spec.ratios) || spec.ratios.length === 0 || !spec.ratios.every((r) => typeof r === 'number' && Number.isFinite(r) && r > 0)) {
    throw new TypeError('magcache: ratios must be a non-empty list of positive numbers (one per step after the first)');
  }
}

/** np.round: halves to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** The authors' nearest_interp: src resampled to `length` values by the nearest index. */
export function nearestInterp(src: readonly number[], length: number): number[] {
  if (length === 1) return [src[src.length - 1]!];
  const scale = (src.length - 1) / (length - 1);
  return Array.from({ length }, (_, i) => src[roundHalfEven(i * scale)]!);
}

export function createMagCachePolicy(spec: MagCacheSpec, name = 'magcache'): CachePolicy {
  validateMagCacheSpec(spec);
  let ratios: number[] = [];
  let skipFrom = 0;
  let sim = 1, err = 0, skipped = 0;
  const evaluations: Evaluation[] = [];
  return {
    name,
    caches: true,
    evaluations,
    start(totalSteps: number) {
      ratios = spec.ratios.length === totalSteps - 1 ? [...spec.ratios] : nearestInterp(spec.ratios, Math.max(1, totalSteps - 1));
      skipFrom = Math.floor(totalSteps * spec.retention);
      sim = 1;
      err = 0;
      skipped = 0;
      evaluations.length = 0;
    },
    plan(step: number): StepPlan {
      const t = step - 1; // the authors' 0-based step
      let compute = true;
      if (t >= skipFrom && t >= 1) {
        const ratio = ratios[t - 1]!;
        sim *= ratio;
        skipped += 1;
        err += 1 - sim;
        compute = !(err <= spec.threshold && skipped <= spec.maxSkips);
        evaluations.push({ step, block: 'stack', distance: ratio, distanceReg: err, threshold: spec.threshold, compute });
        if (compute) {
          sim = 1;
          skipped = 0;
          err = 0;
        }
      }
      return { compute, probes: [] };
    },
    observe: () => {},
  };
}
