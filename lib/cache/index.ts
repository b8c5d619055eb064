// Caching policies: specs (plain data, usable across threads and in JSON) and their creation.
import { createAdaCachePolicy, validateAdaCacheSpec } from './adacache.js';
import { createFasterCachePolicy, fasterCachePreset, validateFasterCacheSpec, type FasterCacheSpec } from './fastercache.js';
import { createFirstBlockCachePolicy, validateFirstBlockCacheSpec, type FirstBlockCacheSpec } from './fbcache.js';
import { createFixedPolicy } from './fixed.js';
import { compose, decisionGroups, perGroup, type DecisionGroups } from './groups.js';
import { MAGCACHE_OPEN_SORA_LISTED, createMagCachePolicy, validateMagCacheSpec, type MagCacheSpec } from './magcache.js';
import { createNonePolicy } from './none.js';
import { createPabPolicy, validatePabSpec, type PabSpec } from './pab.js';
import type { AdaCacheSpec, CachePolicy, CacheSpec, FixedSpec, PolicyModuleSpec } from './policy.js';
import { PRESET_NAMES, presetSpec, type PresetName } from './presets.js';
import { TEACACHE_OPEN_SORA_COEFFICIENTS, createTeaCachePolicy, validateTeaCacheSpec, type TeaCacheSpec } from './teacache.js';

export function none(): CacheSpec {
  return { kind: 'none' };
}

export function fixed(options: { interval: number }): FixedSpec {
  const spec: FixedSpec = { kind: 'fixed', interval: options.interval };
  createFixedPolicy(spec);
  return spec;
}

export function adaCache(options: Omit<AdaCacheSpec, 'kind' | 'distance' | 'cacheRes'> & Partial<Pick<AdaCacheSpec, 'distance' | 'cacheRes'>>): AdaCacheSpec {
  const spec: AdaCacheSpec = { kind: 'adacache', distance: 'l1', cacheRes: 't-attn', ...options };
  validateAdaCacheSpec(spec);
  return spec;
}

/** TeaCache with the authors' Open-Sora coefficients unless given. */
export function teaCache(options: Omit<TeaCacheSpec, 'kind' | 'coefficients'> & Partial<Pick<TeaCacheSpec, 'coefficients'>>): TeaCacheSpec {
  const spec: TeaCacheSpec = { kind: 'teacache', coefficients: [...TEACACHE_OPEN_SORA_COEFFICIENTS], ...options };
  validateTeaCacheSpec(spec);
  return spec;
}

export function firstBlockCache(options: Omit<FirstBlockCacheSpec, 'kind'>): FirstBlockCacheSpec {
  const spec: FirstBlockCacheSpec = { kind: 'fbcache', ...options };
  validateFirstBlockCacheSpec(spec);
  return spec;
}

/** MagCache with the authors' Open-Sora ratios, K = 3 and retention 0.2 unless given. */
export function magCache(options: Pick<MagCacheSpec, 'threshold'> & Partial<Omit<MagCacheSpec, 'kind' | 'threshold'>>): MagCacheSpec {
  const spec: MagCacheSpec = { kind: 'magcache', maxSkips: 3, retention: 0.2, ratios: MAGCACHE_OPEN_SORA_LISTED.map(Math.sqrt), ...options };
  validateMagCacheSpec(spec);
  return spec;
}

export function pab(options: Omit<PabSpec, 'kind'>): PabSpec {
  const spec: PabSpec = { kind: 'pab', ...options };
  validatePabSpec(spec);
  return spec;
}

/** FasterCache with the authors' Open-Sora constants for `steps` steps, parts replaced or dropped (null) as given. */
export function fasterCache(steps: number, options: { attention?: FasterCacheSpec['attention'] | null; cfg?: FasterCacheSpec['cfg'] | null } = {}): FasterCacheSpec {
  const base = fasterCachePreset(steps);
  const spec: FasterCacheSpec = { kind: 'fastercache' };
  const attention = options.attention === undefined ? base.attention : options.attention;
  const cfg = options.cfg === undefined ? base.cfg : options.cfg;
  if (attention) spec.attention = attention;
  if (cfg) spec.cfg = cfg;
  validateFasterCacheSpec(spec);
  return spec;
}

export function isPolicy(v: unknown): v is CachePolicy {
  return typeof v === 'object' && v !== null && typeof (v as CachePolicy).plan === 'function';
}

export function isPolicyModule(v: unknown): v is PolicyModuleSpec {
  return typeof v === 'object' && v !== null && (v as PolicyModuleSpec).kind === 'module';
}

/**
 * A preset name, a spec, a policy module (created on the worker thread) or a policy object (its
 * code runs on the calling thread, between steps); presets adapt to `steps` and the model's
 * depth. A preset name may end in '/branch' or '/sample' (each CFG branch, or each row, decides on
 * its own), and two may be joined by '+' (a step-level policy with a branch-level one).
 */
export type CacheOption = PresetName | CacheSpec | PolicyModuleSpec | CachePolicy;

const STEP_LEVEL = ['none', 'fixed', 'adacache', 'teacache', 'fbcache', 'magcache'];
const BRANCH_LEVEL = ['pab', 'fastercache'];

export function createPolicy(cache: CacheOption | undefined, steps: number, depth: number): CachePolicy {
  if (cache === undefined) return createNonePolicy();
  if (isPolicy(cache)) return cache;
  if (isPolicyModule(cache)) {
    throw new TypeError('a policy module is loaded on the worker thread of generate(), extend() and their step iterators; the synchronous forms take the policy object');
  }
  if (typeof cache === 'string') return fromPreset(cache, steps, depth);
  return fromSpec(cache, steps, depth, cache.kind);
}

function fromPreset(name: string, steps: number, depth: number): CachePolicy {
  const parts = name.split('+');
  if (parts.length === 2) return fromSpec({ kind: 'compose', step: parts[0]!, branch: parts[1]! }, steps, depth, name);
  if (parts.length > 2) throw new TypeError(`cache "${name}": at most one step-level and one branch-level policy can be composed`);
  const [base, decide] = name.split('/') as [string, string | undefined];
  const spec = presetSpec(base, steps, depth);
  if (!spec) throw new TypeError(`unknown cache preset "${name}"; presets: ${PRESET_NAMES.join(', ')} (optionally /branch or /sample, and joined by +)`);
  if (decide !== undefined) {
    if (!STEP_LEVEL.includes(spec.kind) || spec.kind === 'none') throw new TypeError(`cache "${name}": only step-level policies (fixed, adacache, teacache, fbcache, magcache) decide per group`);
    (spec as { decide?: string }).decide = decide;
  }
  return fromSpec(spec, steps, depth, name);
}

function fromSpec(spec: CacheSpec | string, steps: number, depth: number, name: string): CachePolicy {
  if (typeof spec === 'string') return fromPreset(spec, steps, depth);
  if (typeof spec !== 'object' || spec === null) throw new TypeError(`a cache spec must be an object with a kind, got ${String(spec)}`);
  const grouped = (create: () => CachePolicy, decide: DecisionGroups | undefined) => {
    if (decide === undefined || decide === 'batch') return create();
    decisionGroups(decide, 2, true); // validates the mode
    return perGroup(create, decide);
  };
  switch (spec.kind) {
    case 'none':
      return createNonePolicy();
    case 'fixed':
      return grouped(() => createFixedPolicy(spec, name === 'fixed' ? undefined : name), spec.decide);
    case 'adacache':
      for (const i of spec.cacheLoc) if (i >= depth) throw new RangeError(`adaCache: cacheLoc ${i} is outside the model's ${depth} blocks`);
      return grouped(() => createAdaCachePolicy(spec, name === 'adacache' ? (spec.moreg ? 'adacache+moreg' : 'adacache') : name), spec.decide);
    case 'teacache':
      return grouped(() => createTeaCachePolicy(spec, name), spec.decide);
    case 'fbcache':
      validateFirstBlockCacheSpec(spec, depth);
      return grouped(() => createFirstBlockCachePolicy(spec, name), spec.decide);
    case 'magcache':
      return grouped(() => createMagCachePolicy(spec, name), spec.decide);
    case 'pab':
      return createPabPolicy(spec, name);
    case 'fastercache':
      return createFasterCachePolicy(spec, name);
    case 'compose': {
      const kindOf = (s: CacheSpec | string) => (typeof s === 'string' ? presetSpec(s.split('/')[0]!, steps, depth)?.kind : s.kind);
      const [a, b] = [kindOf(spec.step), kindOf(spec.branch)];
      if (!a || !STEP_LEVEL.includes(a)) throw new TypeError(`compose: step must be a step-level policy (${STEP_LEVEL.join(', ')}), got ${String(a ?? spec.step)}`);
      if (!b || !BRANCH_LEVEL.includes(b)) throw new TypeError(`compose: branch must be a branch-level policy (${BRANCH_LEVEL.join(', ')}), got ${String(b ?? spec.branch)}`);
      const step = fromSpec(spec.step, steps, depth, typeof spec.step === 'string' ? spec.step : spec.step.kind);
      const branch = fromSpec(spec.branch, steps, depth, typeof spec.branch === 'string' ? spec.branch : spec.branch.kind);
      return compose(step, branch);
    }
    default:
      throw new TypeError(`unknown cache spec kind ${String((spec as { kind?: unknown }).kind)}`);
  }
}

export { PRESET_NAMES, adaCachePreset, presetSpec, type AdaCachePresetName, type PresetName, scaleCodebook, CODEBOOK_100, CODEBOOK_30_FAST, CODEBOOK_30_SLOW, MOREG_30 } from './presets.js';
export { codebookRate } from './adacache.js';
export { compose, perGroup, decisionGroups, EVERY_ROW, type DecisionGroups } from './groups.js';
export { TEACACHE_OPEN_SORA_COEFFICIENTS, polyval, type TeaCacheSpec } from './teacache.js';
export type { FirstBlockCacheSpec } from './fbcache.js';
export { MAGCACHE_OPEN_SORA_LISTED, nearestInterp, type MagCacheSpec } from './magcache.js';
export { broadcasts, type PabSpec, type BroadcastSetting } from './pab.js';
export { fasterCachePreset, type FasterCacheSpec } from './fastercache.js';
export type { AdaCacheSpec, CachePolicy, CacheSpec, ComposeSpec, Evaluation, FixedSpec, MoRegSpec, PolicyContext, PolicyFactory, PolicyModuleSpec, StepContext, StepDecision } from './policy.js';
export { ResidualCache, type BlockPlan, type Gate, type Observation, type Probe, type RowOutcome, type RowRange, type StepPlan } from './plan.js';
