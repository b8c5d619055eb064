// A step-level policy composed with a branch-level one through the same interface: the stack
// decisions are the step-level policy's (replayed on its recorded signals), the branch reuse inside
// computed steps the branch-level policy's; both hold their caches at once; inside extend() chunks
// every chunk records its decisions.
import { afterAll, describe, expect, it } from 'vitest';

import { extendSync } from '../../lib/causal/extend.js';
import { TEACACHE_OPEN_SORA_COEFFICIENTS, polyval } from '../../lib/cache/index.js';
import { loadModel } from '../../lib/models/stdit3/model.js';
import { gaussianNoise } from '../../lib/sampling/noise.js';
import { tensor } from '../../lib/tensor.js';
import { CAUSAL_MODEL } from '../helpers/golden.js';
import { STEPS, computedBy, disposeTinyModel, generateSmall, rowTensorBytes, tinyModel } from '../helpers/policy-runs.js';

afterAll(disposeTinyModel);

function teaCacheReplay(changes: Map<number, number>, delta: number): number[] {
  const computed: number[] = [];
  let acc = 0;
  for (let s = 1; s <= STEPS; s++) {
    if (s === 1 || s === STEPS) {
      acc = 0;
      computed.push(s);
    } else if ((acc += polyval(TEACACHE_OPEN_SORA_COEFFICIENTS, changes.get(s)!)) >= delta) {
      acc = 0;
      computed.push(s);
    }
  }
  return computed;
}

describe('composed policies', () => {
  it('TeaCache decides the stack, PAB the branches of the steps it computes', () => {
    const alone = generateSmall('pab-246').trace;
    const { trace } = generateSmall('teacache-fast+pab-246');
    expect(trace.policy).toBe('teacache-fast+pab-246');
    const changes = new Map(trace.evaluations.filter((e) => e.block === 'input').map((e) => [e.step, e.distance]));
    expect(computedBy(trace, 0)).toEqual(teaCacheReplay(changes, 0.2));
    for (const d of trace.decisions) {
      const pab = alone.decisions[d.step - 1]!;
      expect(d.attnReused).toEqual(pab.attnReused);
      expect(d.crossReused).toEqual(pab.crossReused);
      if (d.rows[0] === 'reuse') expect(d.computed).toBe(0);
    }
    const depth = tinyModel().config.depth;
    expect(trace.cacheBreakdown).toEqual({ stack: rowTensorBytes(), probes: 0, gates: rowTensorBytes(), branches: 4 * depth * rowTensorBytes(), guidance: 0 });
  });

  it('AdaCache decides the stack while CFG-Cache predicts the unconditional rows', () => {
    const { trace } = generateSmall('adacache-fast+fastercache-cfg');
    const condOnly = (s: number) => s > 11 && s % 5 !== 0;
    for (const d of trace.decisions) {
      if (condOnly(d.step)) expect(d.rows[1]).toBe('predicted');
      else expect(d.rows[1]).toBe(d.rows[0]);
    }
    expect(trace.evaluations.every((e) => e.newRate !== undefined)).toBe(true);
    expect(computedBy(trace, 0).length).toBeLessThan(STEPS);
  });

  it('per-branch TeaCache with CFG-Cache: the unconditional group keeps its accumulator through the steps it is predicted', () => {
    const { trace } = generateSmall('teacache-fast/branch+fastercache-cfg');
    const condOnly = (s: number) => s > 11 && s % 5 !== 0;
    const uncond = trace.evaluations.filter((e) => e.rows![0] === 1);
    expect(uncond.some((e) => condOnly(e.step))).toBe(false);
    // the published rule over the steps the unconditional row ran, its accumulator untouched in between
    const changes = new Map(uncond.map((e) => [e.step, e.distance]));
    let acc = 0;
    const expected: number[] = [];
    for (let s = 1; s <= STEPS; s++) {
      if (condOnly(s)) continue;
      if (s === 1 || s === STEPS) [acc] = [0, expected.push(s)];
      else if ((acc += polyval(TEACACHE_OPEN_SORA_COEFFICIENTS, changes.get(s)!)) >= 0.2) [acc] = [0, expected.push(s)];
    }
    expect(computedBy(trace, 1)).toEqual(expected);
    for (const d of trace.decisions) if (condOnly(d.step)) expect(d.rows[1]).toBe('predicted');
  });

  it('AdaCache holds the stack residual and one probe slot', () => {
    expect(generateSmall('adacache-fast').trace.cacheBreakdown).toEqual({ stack: rowTensorBytes(), probes: rowTensorBytes(), gates: 0, branches: 0, guidance: 0 });
  });

  it('rejects compositions that are not a step-level policy with a branch-level one', () => {
    expect(() => generateSmall('pab+teacache-fast')).toThrow(/step must be a step-level policy/);
    expect(() => generateSmall('teacache-fast+magcache-slow')).toThrow(/branch must be a branch-level policy/);
    expect(() => generateSmall('pab/sample')).toThrow(/only step-level policies/);
  });

  it("records every chunk's decisions inside extend()", () => {
    const model = loadModel(CAUSAL_MODEL);
    const condition = tensor(gaussianNoise(11, 4 * 2 * 8 * 8), [1, 4, 2, 8, 8]);
    const r = extendSync(model, {
      condition,
      prompt: 'a red circle moving right quickly on night',
      chunks: 2,
      framesPerChunk: 3,
      steps: 12,
      seed: 5,
      kvCache: 'stream',
      maxCacheFrames: 4,
      cache: 'teacache-fast/branch+pab-246',
    });
    expect(r.trace.chunks.length).toBe(2);
    for (const c of r.trace.chunks) {
      expect(c.decisions.length).toBe(12);
      expect(c.decisions.some((d) => d.rows.includes('reuse'))).toBe(true);
      expect(c.cacheBytes).toBeGreaterThan(0);
      expect(c.computedFraction).toBeLessThan(1);
    }
    r.latent.dispose();
    condition.dispose();
    model.dispose();
  });
});
