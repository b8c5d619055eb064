// Residual metrics for caching policies.
import { binding } from '../native/loader.js';
import type { Tensor } from '../tensor.js';
import { expectFloat, expectInteger, expectRank, expectSameShape, expectTensor } from './check.js';
import { defineOp } from './define.js';
import type { RunMode } from '../native/binding.js';
import { argumentError, rangeError, shapeError } from '../util/errors.js';

export interface DistanceResult {
  /** num / den (0 when den is 0). */
  distance: number;
  /** ‖cache − fresh‖ */
  num: number;
  /** ‖cache‖ */
  den: number;
}

/**
 * Relative change ‖cache − fresh‖ₚ / ‖cache‖ₚ in one pass, summed in double; with `update`,
 * cache ← fresh in the same pass (the AdaCache slot refresh). On the CPU cache and fresh are f32
 * or bf16 each (a bf16 cache refreshed from f32 is rounded to nearest even).
 */
export const residualDistance = defineOp('residualDistance', 
  (cache: Tensor, fresh: Tensor, options: { norm?: 'l1' | 'l2'; update?: boolean } = {}) => {
    expectTensor(cache, 'cache');
    expectTensor(fresh, 'fresh');
    expectSameShape(cache, 'cache', fresh, 'fresh');
    expectFloat(cache, 'cache', cache);
    expectFloat(fresh, 'fresh', cache);
    const norm = options.norm ?? 'l1';
    if (norm !== 'l1' && norm !== 'l2') throw argumentError(`norm must be 'l1' or 'l2', got ${String(norm)}`);
    return {
      run: (mode: RunMode) =>
        binding().residualDistance(cache.native, fresh.native, norm === 'l1' ? 1 : 2, options.update === true, mode as never),
      done: (v: unknown): DistanceResult => {
        const { num, den } = v as { num: number; den: number };
        return { distance: den > 0 ? num / den : 0, num, den };
      },
    };
  },
);

/**
 * Motion score of r [B, T·S, C] (f32 or bf16 on the CPU) for each frame stride s:
 * Σ|r[f+s] − r[f]| / (Σ|r[f+s]| + Σ|r[f]|), summed in double.
 */
export const motionScore = defineOp('motionScore', (r: Tensor, frames: number, strides: readonly number[]) => {
  expectTensor(r, 'r');
  expectFloat(r, 'r', r);
  expectRank(r, 'r', 3, '[B, T·S, C]');
  const T = expectInteger(frames, 'frames');
  if (T < 1 || r.shape[1]! % T !== 0) throw shapeError(`frames: ${T} does not divide the ${r.shape[1]} tokens of r`);
  if (!Array.isArray(strides) || strides.length === 0) throw argumentError('strides must be a non-empty array');
  for (const [i, s] of strides.entries()) {
    const v = expectInteger(s, `strides[${i}]`);
    if (v < 1 || v >= T) throw rangeError(`strides[${i}] must be in [1, ${T}), got ${v}`);
  }
  return {
    run: (mode: RunMode) => binding().motionScore(r.native, T, [...strides], mode as never),
    done: (v: unknown): number[] => {
      const { num, den } = v as { num: number[]; den: number[] };
      return num.map((n, i) => (den[i]! > 0 ? n / den[i]! : 0));
    },
  };
});
