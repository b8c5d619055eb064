import type { CachePolicy, FixedSpec } from './policy.js';

/**
 * Static caching (FORA-style): steps 1, 1 + k, 1 + 2k, ... compute every block and the steps in
 * between reuse the residuals of the last computed step.
 */
export function createFixedPolicy(spec: FixedSpec, name?: string): CachePolicy {
  const k = spec.interval;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`fixed: interval must be a positive integer, got ${k}`);
  return {
    name: name ?? `fixed(${k})`,
    caches: k > 1,
    start: () => {},
    plan: (step) => ({ compute: (step - 1) % k === 0, probes: [] }),
    observe: () => {},
    evaluations: [],
  };
}
