// Shared by the op tests that run once per compiled kernel variant: the ISAs this machine can run,
// a describe block pinned to one of them, seeded data and a tolerance check that names the worst
// element.
import { afterAll, beforeAll, describe, expect } from 'vitest';

import { ISAS, runtime, type Isa } from '../../lib/runtime.js';

/** The kernel variants this build and CPU can run, narrowest first. */
export function availableIsas(): Isa[] {
  const active = runtime.isa().active;
  const isas: Isa[] = [];
  for (const isa of ISAS) {
    try {
      runtime.setIsa(isa);
      isas.push(isa);
    } catch {
      // not compiled in, or not supported by this CPU
    }
  }
  runtime.setIsa(active);
  return isas;
}

/** describe() once per available ISA, with that ISA forced for its tests and restored after. */
export function describeEachIsa(name: string, body: (isa: Isa) => void): void {
  for (const isa of availableIsas()) {
    describe(`${name} [${isa}]`, () => {
      let previous: Isa;
      beforeAll(() => {
        previous = runtime.isa().active;
        runtime.setIsa(isa);
      });
      afterAll(() => runtime.setIsa(previous));
      body(isa);
    });
  }
}

/** Deterministic values in [lo, hi). */
export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    out[i] = lo + (hi - lo) * (((t ^ (t >>> 14)) >>> 0) / 4294967296);
  }
  return out;
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

/** Every |actual − expected| <= atol + rtol·|expected|; the failure names the first bad index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tol: Tolerance, what = ''): void {
  expect(actual.length, `${what}: length`).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const a = actual[i]!;
    const e = expected[i]!;
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (!(Math.abs(a - e) <= tol.atol + tol.rtol * Math.abs(e))) {
      expect.fail(`${what}: element ${i} is ${a}, expected ${e} (atol ${tol.atol}, rtol ${tol.rtol})`);
    }
  }
}
