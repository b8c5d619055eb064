// TeaCache (arXiv 2411.19108) as the authors decide for Open-Sora 1.2 — ali-vilab/TeaCache
// eval/teacache/experiments/opensora.py, teacache_forward (commit 7c10efc):
//   - the signal is the first spatial block's timestep-modulated input,
//     t2i_modulate(norm1(x), shift_msa, scale_msa) with the modulation of t_mlp (never the x_mask
//     mix) (lines 65–72), and its relative L1 change since the previous step,
//     mean|m − m_prev| / mean|m_prev| over the whole batch (line 79);
//   - the first and the last step compute and reset the accumulator (lines 73–75);
//   - otherwise the change, rescaled by np.poly1d(coefficients), is accumulated; the step reuses
//     the stack residual while the sum is below δ, else computes and resets it (lines 76–84);
//   - m_prev is replaced on every step, computed or not (line 85); a computed step keeps
//     x_out − x_in of the whole stack (line 133), which a reusing step adds (lines 89–91).
// The published coefficients (line 77) and δ = 0.1 / 0.2 (lines 215, 226: slow / fast) are the
// presets. Fitting the coefficients follows the authors' answer in ali-vilab/TeaCache issue #2:
// np.polyfit(x, y, 4) over every step of uncached runs, x the modulated input's relative L1
// change, y the model output's. With decide 'branch' or 'sample' each group of rows keeps its own
// accumulator and compares its own rows only.
import { EVERY_ROW, type DecisionGroups } from './groups.js';
import type { StepPlan } from './plan.js';
import type { CachePolicy, Evaluation } from './policy.js';

/** ali-vilab/TeaCache eval/teacache/experiments/opensora.py line 77, highest power first. */
export const TEACACHE_OPEN_SORA_COEFFICIENTS: readonly number[] = Object.freeze([2.17546007e2, -1.18329252e2, 2.68662585e1, -4.59364272e-2, 4.84426240e-2]);

export interface TeaCacheSpec {
  kind: 'teacache';
  /** δ: a step reuses while the accumulated rescaled change stays below it (authors: 0.1 slow, 0.2 fast) */
  threshold: number;
  /** the rescaling polynomial, highest power first (np.poly1d order) */
  coefficients: number[];
  /** who decides together (default 'batch', as the authors' code) */
  decide?: DecisionGroups;
}

/** Horner's rule, highest power first (np.poly1d). */
export function polyval(coefficients: readonly number[], x: number): number {
  let y = 0;
  for (const c of coefficients) y = y * x + c;
  return y;
}

export function validateTeaCacheSpec(spec: TeaCacheSpec): void {
  if (typeof spec.threshold !== 'number' || !Number.isFinite(spec.threshold) || spec.threshold < 0) {
    throw new RangeError(`teacache: threshold must be a finite number >= 0, got ${String(spec.threshold)}`);
  }
  if (!Array.isArray(spec.coefficients) || spec.coefficients.length === 0 || !spec.coefficients.every((c) => typeof c === 'number' && Number.isFinite(c))) {
    throw new TypeError('teacache: coefficients must be a non-empty list of finite numbers (highest power first)');
  }
}

export function createTeaCachePolicy(spec: TeaCacheSpec, name = 'teacache'): CachePolicy {
  validateTeaCacheSpec(spec);
  let total = 0;
  let accumulated = 0;
  const evaluations: Evaluation[] = [];
  return {
    name,
    caches: true,
    evaluations,
    start(totalSteps: number) {
      total = totalSteps;
      accumulated = 0;
      evaluations.length = 0;
    },
    plan(step: number): StepPlan {
      return {
        compute: true,
        probes: [],
        gate: {
          signal: 'modulated-input',
          groups: [EVERY_ROW],
          decide: ([change]) => {
            if (change === undefined) return [false]; // none of the rows runs: nothing measured, nothing to decide
            let compute: boolean;
            if (step === 1 || step === total || change === null) {
              compute = true;
              accumulated = 0;
            } else {
              accumulated += polyval(spec.coefficients, change);
              compute = !(accumulated < spec.threshold);
              evaluations.push({ step, block: 'input', distance: change, distanceReg: accumulated, threshold: spec.threshold, compute });
              if (compute) accumulated = 0;
            }
            return [compute];
          },
        },
      };
    },
    observe: () => {},
  };
}
