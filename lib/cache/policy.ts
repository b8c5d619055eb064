// The interface every caching policy implements, and the serialisable specs that create them.
import type { FasterCacheSpec } from './fastercache.js';
import type { FirstBlockCacheSpec } from './fbcache.js';
import type { DecisionGroups } from './groups.js';
import type { MagCacheSpec } from './magcache.js';
import type { PabSpec } from './pab.js';
import type { Observation, RowOutcome, RowRange, StepPlan } from './plan.js';
import type { TeaCacheSpec } from './teacache.js';

/** One evaluation of a policy's signal, as logged in the trace. */
export interface Evaluation {
  step: number;
  /** where the signal was measured: 's<i>' / 't<i>' (block i), 'input' (the first block's modulated input), 'head', 'stack' */
  block: string;
  /** AdaCache: relative change divided by the rate in force (running mean over this step's probes); others: the signal measured */
  distance: number;
  /** the value the decision compares: AdaCache's distance × MoReg factor, TeaCache's accumulated rescaled change, MagCache's accumulated error */
  distanceReg: number;
  /** AdaCache: the rate in force and the rate chosen */
  prevRate?: number;
  newRate?: number;
  /** the threshold compared against, and the decision (true: compute) */
  threshold?: number;
  compute?: boolean;
  /** the rows of the batch this evaluation decided for (per-sample or per-branch decisions) */
  rows?: RowRange;
  /** MoReg: motion score, factor before |mograd|, mograd, factor */
  motion?: number;
  moregRaw?: number;
  mograd?: number;
  moreg?: number;
}

/** What a policy knows of a generation before its first step. */
export interface StepContext {
  /** rows of the batch: with classifier-free guidance 2 × videos, the conditional rows first */
  rows: number;
  /** whether the rows are [conditional; unconditional] */
  cfg: boolean;
  /** the diffusion time of each model call */
  timesteps: Float32Array;
}

/** What one step did, as logged in the trace. */
export interface StepDecision {
  step: number;
  /** per row of the batch; 'predicted': an absent unconditional row the sampler predicted (CFG-Cache) */
  rows: (RowOutcome | 'predicted')[];
  /** blocks ('s<i>' / 't<i>') whose self-attention the computing rows reused, extrapolated, and whose cross-attention they reused */
  attnReused?: string[];
  attnExtrapolated?: string[];
  crossReused?: string[];
  /** share of a full step's block work done (multiply-adds) */
  computed: number;
}

export interface CachePolicy {
  readonly name: string;
  /** Whether any row may reuse the stack residual (the model then keeps it for the rows that compute). */
  readonly caches: boolean;
  /** Called once before a generation of `totalSteps` model calls. */
  start(totalSteps: number, context?: StepContext): void;
  /** The decision for model call `step` (1-based). */
  plan(step: number): StepPlan;
  /**
   * After a step in which some row computed: the observations of its probes in block order (s0,
   * t0, s1, t1, ...) and what each row did.
   */
  observe(step: number, observations: readonly Observation[], rows?: readonly RowOutcome[]): void;
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
  /** who decides together (default 'batch', as the authors' code) */
  decide?: DecisionGroups;
}

export interface FixedSpec {
  kind: 'fixed';
  /** recompute every `interval` steps */
  interval: number;
  decide?: DecisionGroups;
}

export type CacheSpec =
  | { kind: 'none' }
  | FixedSpec
  | AdaCacheSpec
  | TeaCacheSpec
  | FirstBlockCacheSpec
  | MagCacheSpec
  | PabSpec
  | FasterCacheSpec
  | ComposeSpec;

/** A step-level policy (which rows run the block stack) with a branch-level one (PAB, FasterCache). */
export interface ComposeSpec {
  kind: 'compose';
  step: CacheSpec | string;
  branch: CacheSpec | string;
}

/**
 * A custom policy kept in a module and created where the steps run: generate(), extend() and their
 * step iterators import it on their worker thread, so its code never stalls the caller's event
 * loop. `module` is a file path (absolute, or ./ or ../ relative to the working directory), a file:
 * URL or a package name; its export `export` (default: the default export) is a PolicyFactory.
 */
export interface PolicyModuleSpec {
  kind: 'module';
  module: string;
  export?: string;
  /** passed to the factory; must survive structured cloning (plain data) */
  options?: unknown;
}

export interface PolicyContext {
  /** sampling steps of the generation (of each chunk, for extend) */
  steps: number;
  /** the model's depth (spatial and temporal blocks each) */
  depth: number;
  options: unknown;
}

export type PolicyFactory = (context: PolicyContext) => CachePolicy;
