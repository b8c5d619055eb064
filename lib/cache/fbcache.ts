// First-Block Cache as ParaAttention (chengzeyi/ParaAttention src/para_attn/first_block_cache/
// utils.py, commit 4de137c) and diffusers (src/diffusers/hooks/first_block_cache.py,
// FirstBlockCacheConfig) decide:
//   - the first block runs on every step; its residual r = out − in is compared with the residual
//     the first block had on the last step that ran the rest of the stack:
//     mean|r_prev − r| / mean|r_prev| over the whole batch (utils.py are_two_tensors_similar,
//     lines 220–234; diffusers FBCHeadBlockHook._should_compute_remaining_blocks);
//   - below the threshold the rest of the stack adds the residual it had on that step (x_out minus
//     the first block's output), else the rest runs and both residuals are replaced (utils.py
//     CachedTransformerBlocks.forward, lines 351–385: set_first_hidden_states_residual only when
//     the rest runs);
//   - a threshold <= 0 and the warm-up steps always run (get_can_use_cache, lines 269–286).
// diffusers' default threshold is 0.05; on STDiT3 its hooks make spatial block 0 the first block
// (the first of the block lists in module order), which is the default head here. At a change equal
// to the threshold ParaAttention computes (reuse needs change < threshold) and diffusers reuses
// (compute needs change > threshold); ParaAttention's rule is followed, with its threshold <= 0
// never reusing.
import { EVERY_ROW, type DecisionGroups } from './groups.js';
import type { StepPlan } from './plan.js';
import type { CachePolicy, Evaluation } from './policy.js';

export interface FirstBlockCacheSpec {
  kind: 'fbcache';
  /** the rest of the stack is reused while the first block's residual changed by less than this */
  threshold: number;
  /** leading blocks that always run, in forward order s0, t0, s1, ... (default 1: spatial block 0) */
  head?: number;
  /** steps that always run before any reuse (default 0) */
  warmup?: number;
  /** who decides together (default 'batch', as the authors' code) */
  decide?: DecisionGroups;
}

export function validateFirstBlockCacheSpec(spec: FirstBlockCacheSpec, depth?: number): void {
  if (typeof spec.threshold !== 'number' || !Number.isFinite(spec.threshold)) throw new RangeError(`fbcache: threshold must be a finite number, got ${String(spec.threshold)}`);
  const head = spec.head ?? 1;
  if (!Number.isInteger(head) || head < 1 || (depth !== undefined && head >= 2 * depth)) {
    throw new RangeError(`fbcache: head must be an integer in [1, ${depth === undefined ? '2·depth' : 2 * depth}), got ${String(spec.head)}`);
  }
  const warmup = spec.warmup ?? 0;
  if (!Number.isInteger(warmup) || warmup < 0) throw new RangeError(`fbcache: warmup must be an integer >= 0, got ${String(spec.warmup)}`);
}

export function createFirstBlockCachePolicy(spec: FirstBlockCacheSpec, name = 'fbcache'): CachePolicy {
  validateFirstBlockCacheSpec(spec);
  const head = spec.head ?? 1;
  const warmup = spec.warmup ?? 0;
  const evaluations: Evaluation[] = [];
  return {
    name,
    caches: true,
    evaluations,
    start() {
      evaluations.length = 0;
    },
    plan(step: number): StepPlan {
      return {
        compute: true,
        probes: [],
        head,
        gate: {
          signal: 'head-residual',
          groups: [EVERY_ROW],
          decide: ([change]) => {
            if (change === undefined) return [false]; // none of the rows runs: nothing measured, nothing to decide
            if (change === null) return [true];
            const compute = !(spec.threshold > 0 && step > warmup && change < spec.threshold);
            evaluations.push({ step, block: 'head', distance: change, distanceReg: change, threshold: spec.threshold, compute });
            return [compute];
          },
        },
      };
    },
    observe: () => {},
  };
}
