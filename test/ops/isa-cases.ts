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

/** x rounded to the nearest bf16 (ties to even; NaN stays NaN), as a float. */
export function bf16Round(x: number): number {
  const f = new Float32Array([x]);
  if (Number.isNaN(f[0])) return NaN;
  const u = new Uint32Array(f.buffer);
  u[0] = ((u[0]! + 0x7fff + ((u[0]! >>> 16) & 1)) >>> 16) << 16;
  return f[0]!;
}

/** Seeded values in [lo, hi) as stored in `dtype`: f32 as drawn, bf16 rounded. */
export function uniformAs(dtype: 'f32' | 'bf16', n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const v = uniform(n, seed, lo, hi);
  return dtype === 'bf16' ? v.map(bf16Round) : v;
}

export interface Tolerance {
  atol: number;
  rtol: number;
}

/**
 * The bound for a result written as `dtype`, given the bound `tol` of its fp32 value: a bf16 out is
 * that value rounded once to nearest even (8 significant bits), off it by at most 2⁻⁸ of it, so
 * |out − y| <= T(y) + 2⁻⁸·(|y| + T(y)) with T(y) = atol + rtol·|y|.
 */
export function tolFor(tol: Tolerance, dtype: string): Tolerance {
  if (dtype !== 'bf16') return tol;
  const u = 2 ** -8;
  return { atol: tol.atol * (1 + u), rtol: tol.rtol * (1 + u) + u };
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
