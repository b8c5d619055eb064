// The authors' published settings of every policy, and the rules that adapt them to other step
// counts and model depths.
import { fasterCachePreset, type FasterCacheSpec } from './fastercache.js';
import { MAGCACHE_OPEN_SORA_LISTED } from './magcache.js';
import type { AdaCacheSpec, CacheSpec, MoRegSpec } from './policy.js';
import { TEACACHE_OPEN_SORA_COEFFICIENTS } from './teacache.js';

export const CODEBOOK_30_FAST: [number, number][] = [[0.08, 6], [0.16, 5], [0.24, 4], [0.32, 3], [0.4, 2], [1.0, 1]];
export const CODEBOOK_30_SLOW: [number, number][] = [[0.08, 3], [0.16, 2], [0.24, 1], [0.32, 1], [0.4, 1], [1.0, 1]];
export const CODEBOOK_100: [number, number][] = [[0.03, 12], [0.05, 10], [0.07, 8], [0.09, 6], [0.11, 4], [1.0, 3]];

/** Official MoReg constants for 30 sampling steps. */
export const MOREG_30: MoRegSpec = { strides: [1], steps: [4, 26], hyp: [0.385, 8, 1, 2], mogradMul: 10 };

export type AdaCachePresetName = 'adacache-fast' | 'adacache-slow' | 'adacache-100' | 'adacache-fast-moreg' | 'adacache-slow-moreg';
const ADACACHE_PRESETS: readonly string[] = ['adacache-fast', 'adacache-slow', 'adacache-100', 'adacache-fast-moreg', 'adacache-slow-moreg'];

/**
 * The other policies' presets (Open-Sora 1.2 settings of their authors where published):
 * TeaCache δ 0.1 / 0.2; First-Block Cache, never published for Open-Sora, at diffusers' default
 * 0.05 and twice it; MagCache at the Open-Sora setting (E012K3R02) and the authors' faster Wan2.1
 * one (E024K6R02) on the Open-Sora ratios; PAB 246 / 357 / 579; FasterCache with both parts, and
 * each part alone.
 */
const OTHER_PRESETS = {
  'teacache-slow': () => ({ kind: 'teacache', threshold: 0.1, coefficients: [...TEACACHE_OPEN_SORA_COEFFICIENTS] }),
  'teacache-fast': () => ({ kind: 'teacache', threshold: 0.2, coefficients: [...TEACACHE_OPEN_SORA_COEFFICIENTS] }),
  'fbcache-slow': () => ({ kind: 'fbcache', threshold: 0.05 }),
  'fbcache-fast': () => ({ kind: 'fbcache', threshold: 0.1 }),
  'magcache-slow': () => ({ kind: 'magcache', threshold: 0.12, maxSkips: 3, retention: 0.2, ratios: MAGCACHE_OPEN_SORA_LISTED.map(Math.sqrt) }),
  'magcache-fast': () => ({ kind: 'magcache', threshold: 0.24, maxSkips: 6, retention: 0.2, ratios: MAGCACHE_OPEN_SORA_LISTED.map(Math.sqrt) }),
  pab: () => pabPreset(2, 4, 6),
  'pab-246': () => pabPreset(2, 4, 6),
  'pab-357': () => pabPreset(3, 5, 7),
  'pab-579': () => pabPreset(5, 7, 9),
  fastercache: (steps) => fasterCachePreset(steps),
  'fastercache-attn': (steps) => withoutPart(fasterCachePreset(steps), 'cfg'),
  'fastercache-cfg': (steps) => withoutPart(fasterCachePreset(steps), 'attention'),
} satisfies Record<string, (steps: number) => CacheSpec>;

type OtherPresetName = keyof typeof OTHER_PRESETS;
type BranchPresetName = Extract<OtherPresetName, `pab${string}` | `fastercache${string}`>;
type BasePresetName = 'none' | `fixed-${number}` | AdaCachePresetName | OtherPresetName;
type DecidedPresetName = BasePresetName | `${BasePresetName}/${'branch' | 'sample'}`;
/**
 * Every name the `cache` option takes: a preset, one that decides per CFG branch or per sample
 * ('/branch', '/sample'), or a step-level one joined with a branch-level one by '+'.
 */
export type PresetName = DecidedPresetName | `${DecidedPresetName}+${BranchPresetName}`;

function pabPreset(spatial: number, temporal: number, cross: number): CacheSpec {
  const range: [number, number] = [450, 930];
  return { kind: 'pab', spatial: { interval: spatial, range: [...range] }, temporal: { interval: temporal, range: [...range] }, cross: { interval: cross, range: [...range] } };
}

function withoutPart(spec: FasterCacheSpec, part: 'cfg' | 'attention'): FasterCacheSpec {
  const { [part]: _, ...rest } = spec;
  return rest;
}

export const PRESET_NAMES: readonly string[] = ['none', 'fixed-2', 'fixed-3', ...ADACACHE_PRESETS, ...Object.keys(OTHER_PRESETS)];

/** The spec of a preset for `steps` sampling steps and a model of `depth` blocks, or undefined for an unknown name. */
export function presetSpec(name: string, steps: number, depth: number): CacheSpec | undefined {
  if (name === 'none') return { kind: 'none' };
  const fixed = /^fixed-(\d+)$/.exec(name);
  if (fixed) return { kind: 'fixed', interval: Number(fixed[1]) };
  if (ADACACHE_PRESETS.includes(name)) return adaCachePreset(name as AdaCachePresetName, steps, depth);
  return (OTHER_PRESETS as Record<string, ((steps: number) => CacheSpec) | undefined>)[name]?.(steps);
}

/**
 * A codebook for `steps` sampling steps. The distance the codebook reads is a change per step,
 * which shrinks about as 1/steps, while a rate counts steps, which grow with them. So from the
 * nearest published codebook (30 steps, or 100 for 65 and more) thresholds are scaled by
 * base/steps and rates by steps/base (rounded, at least 1; the last threshold, never compared,
 * scales along so the thresholds keep increasing). At 30 and 100 steps the authors'
 * codebooks come back unchanged.
 */
export function scaleCodebook(codebook: [number, number][], base: number, steps: number): [number, number][] {
  if (steps === base) return codebook.map(([t, r]) => [t, r]);
  const k = steps / base;
  return codebook.map(([t, r]) => [t / k, Math.max(1, Math.round(r * k))]);
}

/** The MoReg window of 30 steps, (4, 26), as the same fractions of `steps`. */
export function scaleMoreg(m: MoRegSpec, base: number, steps: number): MoRegSpec {
  const at = (s: number) => Math.max(1, Math.min(steps, Math.round((s / base) * steps)));
  return { ...m, strides: [...m.strides], hyp: [...m.hyp], steps: steps === base ? [...m.steps] : [at(m.steps[0]), at(m.steps[1])] };
}

/** AdaCache spec of a preset for a model of `depth` blocks sampled in `steps` steps. */
export function adaCachePreset(name: AdaCachePresetName, steps: number, depth: number): AdaCacheSpec {
  const base = name === 'adacache-100' || (steps >= 65 && name !== 'adacache-slow' && name !== 'adacache-slow-moreg') ? 100 : 30;
  const source = base === 100 ? CODEBOOK_100 : name.startsWith('adacache-slow') ? CODEBOOK_30_SLOW : CODEBOOK_30_FAST;
  const moregBase = base === 100 ? { ...MOREG_30, steps: [10, 90] as [number, number] } : MOREG_30;
  return {
    kind: 'adacache',
    codebook: scaleCodebook(source, base, steps),
    cacheRes: 't-attn',
    cacheLoc: [Math.max(0, Math.floor(depth / 2) - 1)],
    distance: 'l1',
    ...(name.endsWith('-moreg') ? { moreg: scaleMoreg(moregBase, base, steps) } : {}),
  };
}
