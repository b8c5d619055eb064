// The interface every caching policy implements, and the serialisable specs that create them.
import type { Observation, StepPlan } from './plan.js';

/** One distance evaluation at a probe block, as logged in the trace. */
export interface Evaluation {
  step: number;
  /** 's<i>' / 't<i>': spatial / temporal block i */
  block: string;
  /** relative change divided by the rate in force (running mean over this step's probes) */
  distance: number;
  /** distance × MoReg factor */
  distanceReg: number;
  prevRate: number;
  newRate: number;
  /** MoReg: motion score, factor before |mograd|, mograd, factor */
  motion?: number;
  moregRaw?: number;
  mograd?: number;
  moreg?: number;
}

export interface CachePolicy {
  readonly name: string;
  /** Whether any step may reuse residuals (the model then keeps a residual cache). */
  readonly caches: boolean;
  /** Called once before a generation of `totalSteps` model calls. */
  start(totalSteps: number): void;
  /** The decision for model call `step` (1-based). */
  plan(step: number): StepPlan;
  /** The observations of a computed step, in block order (s0, t0, s1, t1, ...). */
  observe(step: number, observations: readonly Observation[]): void;
  readonly evaluations: readonly Evaluation[];
}

export interface MoRegSpec {
  /** frame strides of the motion score (official [1]) */
  strides: number[];
  /** inclusive 1-based step window (official (4, 26) of 30, (10, 90) of 100) */
  steps: [number, number];
  /** factor = ((m / hyp[0]) ^ hyp[1]) / hyp[2] (official [0.385, 8, 1]) */
  hyp: number[];
  /** official 10 */
  mogradMul: number;
}

export type CacheRes = 't-attn' | 's-attn' | 'ca-mlp';

export interface AdaCacheSpec {
  kind: 'adacache';
  /** [threshold, rate] pairs with increasing thresholds; the last threshold is never compared */
  codebook: [number, number][];
  cacheRes: CacheRes;
  /** block indices of the probes */
  cacheLoc: number[];
  distance: 'l1' | 'l2';
  moreg?: MoRegSpec;
}

export interface FixedSpec {
  kind: 'fixed';
  /** recompute every `interval` steps */
  interval: number;
}

export type CacheSpec = { kind: 'none' } | FixedSpec | AdaCacheSpec;
