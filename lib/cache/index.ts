// Caching policies: specs (plain data, usable across threads and in JSON) and their creation.
import { createAdaCachePolicy, validateAdaCacheSpec } from './adacache.js';
import { createFixedPolicy } from './fixed.js';
import { createNonePolicy } from './none.js';
import type { AdaCacheSpec, CachePolicy, CacheSpec, FixedSpec } from './policy.js';
import { PRESET_NAMES, adaCachePreset, type PresetName } from './presets.js';

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

function isPolicy(v: unknown): v is CachePolicy {
  return typeof v === 'object' && v !== null && typeof (v as CachePolicy).plan === 'function';
}

/** A preset name, a spec or a policy object; presets adapt to `steps` and the model's depth. */
export type CacheOption = string | CacheSpec | CachePolicy;

export function createPolicy(cache: CacheOption | undefined, steps: number, depth: number): CachePolicy {
  if (cache === undefined || cache === 'none') return createNonePolicy();
  if (isPolicy(cache)) return cache;
  if (typeof cache === 'string') {
    const fixedMatch = /^fixed-(\d+)$/.exec(cache);
    if (fixedMatch) return createFixedPolicy({ kind: 'fixed', interval: Number(fixedMatch[1]) });
    if (!PRESET_NAMES.includes(cache)) throw new TypeError(`unknown cache preset "${cache}"; presets: ${PRESET_NAMES.join(', ')}`);
    return createAdaCachePolicy(adaCachePreset(cache as PresetName, steps, depth), cache);
  }
  switch (cache.kind) {
    case 'none':
      return createNonePolicy();
    case 'fixed':
      return createFixedPolicy(cache);
    case 'adacache':
      for (const i of cache.cacheLoc) if (i >= depth) throw new RangeError(`adaCache: cacheLoc ${i} is outside the model's ${depth} blocks`);
      return createAdaCachePolicy(cache, cache.moreg ? 'adacache+moreg' : 'adacache');
    default:
      throw new TypeError(`unknown cache spec kind ${String((cache as { kind?: unknown }).kind)}`);
  }
}

export { PRESET_NAMES, adaCachePreset, scaleCodebook, CODEBOOK_100, CODEBOOK_30_FAST, CODEBOOK_30_SLOW, MOREG_30 } from './presets.js';
export { codebookRate } from './adacache.js';
export type { AdaCacheSpec, CachePolicy, CacheSpec, Evaluation, FixedSpec, MoRegSpec } from './policy.js';
export { ResidualCache, type Observation, type Probe, type StepPlan } from './plan.js';
