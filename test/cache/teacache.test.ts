// TeaCache: its decisions replayed on the signals a generation recorded, by the published rule
// written out here (ali-vilab/TeaCache eval/teacache/experiments/opensora.py lines 73–85); δ = 0
// equals the uncached run bit for bit; the cache holds the stack residual and the previous
// modulated input, one row tensor each; per-row groups decide on their own rows only.
import { afterAll, describe, expect, it } from 'vitest';

import { TEACACHE_OPEN_SORA_COEFFICIENTS, type TeaCacheSpec } from '../../lib/cache/index.js';
import type { Evaluation } from '../../lib/cache/policy.js';
import { STEPS, computedBy, disposeTinyModel, generateSmall, maxAbsDiff, rowTensorBytes } from '../helpers/policy-runs.js';

afterAll(disposeTinyModel);

/** The authors' loop: steps 1 and N compute; else acc += poly(change); reuse while acc < δ. */
function publishedTeaCache(changes: Map<number, number>, steps: number, delta: number, coefficients: readonly number[]): number[] {
  const poly = (x: number) => coefficients.reduce((acc, c, i) => acc + c * x ** (coefficients.length - 1 - i), 0);
  const computed: number[] = [];
  let acc = 0;
  for (let s = 1; s <= steps; s++) {
    if (s === 1 || s === steps) {
      acc = 0;
      computed.push(s);
      continue;
    }
    acc += poly(changes.get(s)!);
    if (acc < delta) continue;
    acc = 0;
    computed.push(s);
  }
  return computed;
}

const changesOf = (evaluations: readonly Evaluation[], rows?: readonly [number, number]) =>
  new Map(evaluations.filter((e) => !rows || (e.rows![0] === rows[0] && e.rows![1] === rows[1])).map((e) => [e.step, e.distance]));

describe('TeaCache', () => {
  it('decides as the published rule on the recorded changes (slow and fast)', () => {
    for (const [preset, delta] of [['teacache-slow', 0.1], ['teacache-fast', 0.2]] as const) {
      const { trace } = generateSmall(preset);
      expect(trace.evaluations.length).toBe(STEPS - 2); // every step but the first and the last
      const expected = publishedTeaCache(changesOf(trace.evaluations), STEPS, delta, TEACACHE_OPEN_SORA_COEFFICIENTS);
      expect(trace.computedSteps).toEqual(expected);
      expect(computedBy(trace, 0)).toEqual(expected);
      expect(computedBy(trace, 1)).toEqual(expected);
      console.log(`${preset}: computed ${expected.length}/${STEPS}: ${expected.join(' ')}`);
      expect(expected.length).toBeLessThan(STEPS);
    }
  });

  it('equals the uncached run with δ = 0, and holds the stack residual and the previous modulated input', () => {
    const none = generateSmall('none');
    const spec: TeaCacheSpec = { kind: 'teacache', threshold: 0, coefficients: [...TEACACHE_OPEN_SORA_COEFFICIENTS] };
    const zero = generateSmall(spec);
    expect(zero.trace.computedSteps.length).toBe(STEPS);
    expect(maxAbsDiff(zero.latent, none.latent)).toBe(0);
    const fast = generateSmall('teacache-fast');
    expect(fast.trace.cacheBreakdown).toEqual({ stack: rowTensorBytes(), probes: 0, gates: rowTensorBytes(), branches: 0, guidance: 0 });
    expect(fast.trace.cacheBytes).toBe(2 * rowTensorBytes());
    expect(none.trace.cacheBytes).toBe(0);
  });

  it('decides per CFG branch and per video on their own rows', () => {
    const prompts = ['a red circle moving right quickly on night', 'a white square resting on desert'];
    const { trace, latent } = generateSmall('teacache-fast/sample', prompts);
    expect(trace.policy).toBe('teacache-fast/sample');
    expect(generateSmall({ kind: 'teacache', threshold: 0.2, coefficients: [...TEACACHE_OPEN_SORA_COEFFICIENTS], decide: 'sample' }).trace.policy).toBe('teacache/sample');
    for (let r = 0; r < 4; r++) {
      const own = changesOf(trace.evaluations, [r, r + 1]);
      expect(computedBy(trace, r)).toEqual(publishedTeaCache(own, STEPS, 0.2, TEACACHE_OPEN_SORA_COEFFICIENTS));
    }
    // sample 0 never decides for sample 1: each video is what it is when generated alone
    for (const [b, prompt] of prompts.entries()) {
      const alone = generateSmall('teacache-fast/sample', prompt, [[3, 4][b]!]);
      const n = alone.latent.length;
      expect(maxAbsDiff(latent.subarray(b * n, (b + 1) * n), alone.latent)).toBe(0);
      expect(computedBy(alone.trace, 0)).toEqual(computedBy(trace, b));
      expect(computedBy(alone.trace, 1)).toEqual(computedBy(trace, 2 + b));
    }
    const branch = generateSmall('teacache-fast/branch', prompts).trace;
    expect(computedBy(branch, 0)).toEqual(computedBy(branch, 1));
    expect(computedBy(branch, 2)).toEqual(computedBy(branch, 3));
  });
});
