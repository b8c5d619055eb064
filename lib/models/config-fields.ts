// Reading a checkpoint's config.json: typed fields with the authors' names, the AdaCache keys of
// the authors' cached model (do_cache, cache_res, ...), and the keys nobody reads, which are
// reported rather than dropped in silence.
import { validateAdaCacheSpec } from '../cache/adacache.js';
import type { AdaCacheSpec, CacheRes } from '../cache/policy.js';

export class ConfigError extends Error {
  override name = 'ConfigError';
}

export type Fields = Record<string, unknown>;

export function field<T>(obj: Fields, key: string, check: (v: unknown) => v is T, what: string, fallback?: T): T {
  const v = obj[key];
  if (v === undefined && fallback !== undefined) return fallback;
  if (!check(v)) throw new ConfigError(`config.json: "${key}" must be ${what}, got ${JSON.stringify(v)}`);
  return v;
}

export const isPosInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v > 0 && v <= 1 << 20;
export const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isInteger(v) && v >= 0 && v <= 1 << 20;
export const isPosNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v) && v > 0;
export const isNum = (v: unknown): v is number => typeof v === 'number' && Number.isFinite(v);
export const isBool = (v: unknown): v is boolean => typeof v === 'boolean';
export const isObject = (v: unknown): v is Fields => typeof v === 'object' && v !== null && !Array.isArray(v);
export const isIntList =
  (n: number) =>
  (v: unknown): v is number[] =>
    Array.isArray(v) && v.length === n && v.every(isPosInt);

/** The object a config.json holds, or a ConfigError. */
export function configObject(json: unknown): Fields {
  if (!isObject(json)) throw new ConfigError('config.json must hold an object');
  return json;
}

/** Keys of the authors' AdaCache-enabled blocks (the AdaCache release's STDiT3 keyword arguments). */
export const ADACACHE_KEYS = [
  'do_cache',
  'cache_res',
  'cache_loc',
  'codebook',
  'apply_moreg',
  'moreg',
  'moreg_strides',
  'moreg_steps',
  'moreg_hyp',
  'mograd_mul',
  'num_sampling_steps',
] as const;

/**
 * The caching the config asks for: with `do_cache: true`, AdaCache with its cache_res, cache_loc
 * and codebook ({threshold: rate} as the authors write it, or [threshold, rate] pairs), and MoReg
 * when `apply_moreg` (or `moreg`) is true, with the authors' defaults for what is not given.
 */
export function adaCacheFromConfig(c: Fields): AdaCacheSpec | undefined {
  if (c['do_cache'] === undefined || c['do_cache'] === false) return undefined;
  if (c['do_cache'] !== true) throw new ConfigError(`config.json: "do_cache" must be a boolean, got ${JSON.stringify(c['do_cache'])}`);
  const raw = c['codebook'] ?? { 0.03: 12, 0.05: 10, 0.07: 8, 0.09: 6, 0.11: 4, 1.0: 3 };
  let codebook: [number, number][];
  if (Array.isArray(raw)) codebook = raw as [number, number][];
  else if (isObject(raw)) codebook = Object.entries(raw).map(([k, v]) => [Number(k), v as number]);
  else throw new ConfigError(`config.json: "codebook" must map thresholds to rates, got ${JSON.stringify(raw)}`);
  codebook.sort((a, b) => a[0] - b[0]);
  const cacheLoc = c['cache_loc'] ?? [13];
  const moregOn = c['apply_moreg'] ?? c['moreg'] ?? false;
  if (!isBool(moregOn)) throw new ConfigError(`config.json: "apply_moreg" must be a boolean, got ${JSON.stringify(moregOn)}`);
  const spec: AdaCacheSpec = {
    kind: 'adacache',
    codebook,
    cacheRes: (c['cache_res'] ?? 't-attn') as CacheRes,
    cacheLoc: cacheLoc as number[],
    distance: 'l1',
    ...(moregOn
      ? {
          moreg: {
            strides: (c['moreg_strides'] ?? [1]) as number[],
            steps: (c['moreg_steps'] ?? [10, 90]) as [number, number],
            hyp: (c['moreg_hyp'] ?? [0.385, 8, 1, 2]) as number[],
            mogradMul: (c['mograd_mul'] ?? 10) as number,
          },
        }
      : {}),
  };
  try {
    validateAdaCacheSpec(spec);
  } catch (e) {
    throw new ConfigError(`config.json: the AdaCache keys do not make a valid setting: ${(e as Error).message}`);
  }
  return spec;
}

/** A sentence for each key of `c` that is neither read nor known to be without effect here. */
export function unknownKeys(c: Fields, known: ReadonlySet<string>): string[] {
  return Object.keys(c)
    .filter((k) => !known.has(k))
    .map((k) => `config.json: "${k}" is not a setting this library knows; it is ignored`);
}
