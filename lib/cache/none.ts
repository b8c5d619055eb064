import type { CachePolicy } from './policy.js';

const COMPUTE = Object.freeze({ compute: true, probes: Object.freeze([]) });

/** Every step computes every block. */
export function createNonePolicy(): CachePolicy {
  return {
    name: 'none',
    caches: false,
    start: () => {},
    plan: () => COMPUTE,
    observe: () => {},
    evaluations: [],
  };
}
