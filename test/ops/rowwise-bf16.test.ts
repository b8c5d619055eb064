// Row-wise ops with bf16 operands, on every ISA: x and out f32 or bf16 each, every parameter f32
// or bf16 (mixed within one call too), strided bf16 rows and bf16 rows updated in place, against
// the double references of rowwise-refs.ts evaluated on the values the kernels are given (a bf16
// input as its bf16 value); then the dtypes each layer refuses, with their codes.
//
// Tolerances. The kernels widen bf16 exactly and compute in fp32 exactly as for f32 data, so the
// fp32 result y' is within the fp32 bound of rowwise.test.ts, |y' − y| <= T(y) = atol + rtol·|y|
// (per op: NORM_TOL, ACT_TOL, EXACTISH_TOL, SOFTMAX_TOL, ROPE_TOL). An f32 out is y'. A bf16 out is
// y' rounded once to nearest even (8 significant bits), off y' by at most 2⁻⁸·|y'|, so
// |out − y| <= T(y)·(1 + 2⁻⁸) + 2⁻⁸·|y| (tolFor in isa-cases.ts). A bf16 out that only converts
// (activation 'none') must equal the rounding done here bit for bit.
import { describe, expect, it } from 'vitest';

import { empty, ops, tensor, zeros, type DType, type Tensor } from '../../lib/index.js';
import { binding } from '../../lib/native/loader.js';
import { bf16Round, describeEachIsa, expectClose, tolFor, uniformAs, type Tolerance } from './isa-cases.js';
import {
  ACT_TOL,
  B,
  EXACTISH_TOL,
  F,
  freqsOf,
  gelu,
  grouped,
  GROUPS,
  NORM_TOL,
  normRef,
  ROPE_TOL,
  ropeRef,
  ROWS,
  S,
  silu,
  SOFTMAX_TOL,
  softmaxRef,
  stridedRows,
} from './rowwise-refs.js';

type Float = 'f32' | 'bf16';
const FLOATS: Float[] = ['f32', 'bf16'];
// (x, out) dtypes with a bf16 side; f32 → f32 is rowwise.test.ts.
const PAIRS: [Float, Float][] = [
  ['bf16', 'bf16'],
  ['bf16', 'f32'],
  ['f32', 'bf16'],
];
const WIDTHS = [1, 3, 17, 72, 130];

const make = (values: Float32Array, shape: number[], dtype: DType): Tensor => tensor(values, shape, { dtype });

function expectResult(got: Tensor, dtype: Float, expected: ArrayLike<number>, tol: Tolerance, what: string): void {
  expect(got.dtype, what).toBe(dtype);
  expectClose(got.toFloat32Array(), expected, tolFor(tol, dtype), what);
}

describeEachIsa('layerNorm and rmsNorm with bf16 operands', () => {
  it('match the reference for every (x, out) pair and parameter dtype', () => {
    for (const C of WIDTHS) {
      for (const [xd, od] of PAIRS) {
        for (const pd of FLOATS) {
          const what = `C=${C} x ${xd} out ${od} params ${pd}`;
          const x = uniformAs(xd, ROWS * C, C, 3, 7); // a large mean checks the centring
          const weight = uniformAs(pd, C, C + 1);
          const bias = uniformAs(pd, C, C + 2);
          const shift = uniformAs(pd, B * C, C + 3);
          const scale = uniformAs(pd, B * C, C + 4);
          const xt = make(x, [B, F * S, C], xd);
          expectResult(ops.layerNorm(xt, { dtype: od }), od, normRef(x, ROWS, C, { eps: 1e-6 }), NORM_TOL, `${what} plain`);
          const full = ops.layerNorm(xt, {
            eps: 1e-3,
            weight: make(weight, [C], pd),
            bias: make(bias, [C], pd),
            shift: make(shift, [B, C], pd),
            scale: make(scale, [B, C], pd),
            dtype: od,
          });
          const ref = normRef(x, ROWS, C, { eps: 1e-3, weight, bias, shift, scale, groups: B });
          expectResult(full, od, ref, NORM_TOL, `${what} affine + modulate`);
          const xr = uniformAs(xd, ROWS * C, C + 5, -3, 3);
          const rms = ops.rmsNorm(make(xr, [ROWS, C], xd), { weight: make(weight, [C], pd), dtype: od });
          expectResult(rms, od, normRef(xr, ROWS, C, { eps: 1e-6, rms: true, weight }), NORM_TOL, `${what} rms`);
        }
      }
    }
  });

  it('take each parameter in its own dtype, with every group count', () => {
    const C = 33;
    const x = uniformAs('bf16', ROWS * C, 5);
    const weight = uniformAs('bf16', C, 6);
    const bias = uniformAs('f32', C, 7);
    for (const G of GROUPS) {
      const shift = uniformAs('f32', G * C, G + 8);
      const scale = uniformAs('bf16', G * C, G + 9);
      const got = ops.layerNorm(make(x, [B, F, S, C], 'bf16'), {
        weight: make(weight, [C], 'bf16'),
        bias: make(bias, [C], 'f32'),
        shift: make(shift, [G, 1, C], 'f32'),
        scale: make(scale, [G, C], 'bf16'),
      });
      expectResult(got, 'bf16', normRef(x, ROWS, C, { eps: 1e-6, weight, bias, shift, scale, groups: G }), NORM_TOL, `G=${G}`);
    }
  });

  it('read strided bf16 rows, write a strided bf16 out, and work in place', () => {
    for (const C of [5, 72]) {
      const { view, values } = stridedRows(13, C, 3, C, 'bf16');
      const out = stridedRows(13, C, 5, 99, 'bf16').view;
      ops.layerNorm(view, { out });
      expectResult(out, 'bf16', normRef(values, 13, C, { eps: 1e-6 }), NORM_TOL, `C=${C} strided`);
      ops.layerNorm(view, { out: view });
      expectResult(view, 'bf16', normRef(values, 13, C, { eps: 1e-6 }), NORM_TOL, `C=${C} in place`);
    }
  });

  it('normalise q and k in place inside a packed bf16 qkv buffer and leave v alone', () => {
    const [Bq, N, H, D] = [2, 5, 3, 72];
    const data = uniformAs('bf16', Bq * N * 3 * H * D, D, -2, 2);
    const qkv = make(data, [Bq, N, 3, H, D], 'bf16');
    const weight = uniformAs('f32', D, D + 1);
    const strides = [N * 3 * H * D, 3 * H * D, D, 1];
    for (const offset of [0, H * D]) {
      const view = qkv.view([Bq, N, H, D], { offset, strides }); // q, then k
      ops.rmsNorm(view, { weight: make(weight, [D], 'f32'), out: view });
    }
    const rows = data.length / D;
    const normed = normRef(data, rows, D, { eps: 1e-6, rms: true, weight });
    const got = qkv.toFloat32Array();
    for (let r = 0; r < rows; r++) {
      const row = (a: ArrayLike<number>) => Array.from({ length: D }, (_, c) => a[r * D + c]!);
      if (Math.floor(r / H) % 3 === 2) expect(row(got), `v row ${r}`).toEqual(row(data));
      else expectClose(row(got), row(normed), tolFor(NORM_TOL, 'bf16'), `row ${r}`);
    }
  });
});

describeEachIsa('modulate with bf16 operands', () => {
  it('applies x·(1+scale)+shift for every dtype and group count, and in place on strided bf16 rows', () => {
    for (const C of [1, 16, 33, 72]) {
      for (const [xd, od] of PAIRS) {
        for (const pd of FLOATS) {
          const x = uniformAs(xd, ROWS * C, C);
          for (const G of GROUPS) {
            const shift = uniformAs(pd, G * C, G + 10);
            const scale = uniformAs(pd, G * C, G + 20);
            const expected = x.map((v, i) => {
              const [r, c] = [Math.floor(i / C), i % C];
              return v * (1 + grouped(scale, G, ROWS, C, r, c)) + grouped(shift, G, ROWS, C, r, c);
            });
            const got = ops.modulate(make(x, [B, F * S, C], xd), make(shift, [G, C], pd), make(scale, [G, C], pd), { dtype: od });
            expectResult(got, od, expected, EXACTISH_TOL, `C=${C} x ${xd} out ${od} params ${pd} G=${G}`);
          }
        }
      }
      const { view, values } = stridedRows(ROWS, C, 2, C + 3, 'bf16');
      const shift = uniformAs('bf16', C, 1);
      const scale = uniformAs('f32', C, 2);
      ops.modulate(view, make(shift, [1, C], 'bf16'), make(scale, [1, C], 'f32'), { out: view });
      const expected = values.map((v, i) => v * (1 + scale[i % C]!) + shift[i % C]!);
      expectResult(view, 'bf16', expected, EXACTISH_TOL, `C=${C} strided in place`);
    }
  });
});

describeEachIsa('activate with bf16 operands', () => {
  const special = [0, -0, 1e-6, -1e-6, 0.5, -0.5, 3, -3, 9, -9, 20, -20, 100, -100, 1e4, -1e4, 1e30, -1e30];
  const x32 = Float32Array.from([...uniformAs('f32', 389, 1, -10, 10), ...special]);
  const x16 = x32.map(bf16Round);

  it('gelu-tanh and silu match the reference for every (x, out) pair', () => {
    for (const [xd, od] of PAIRS) {
      const x = xd === 'bf16' ? x16 : x32;
      for (const [name, f] of [['gelu-tanh', gelu], ['silu', silu]] as const) {
        expectResult(ops.activate(make(x, [x.length], xd), name, { dtype: od }), od, x.map(f), ACT_TOL, `${name} x ${xd} out ${od}`);
      }
    }
  });

  it("'none' converts: bf16 to f32 exactly, f32 to bf16 rounded to nearest even (inf and NaN kept)", () => {
    const edges = Float32Array.from([...x32, Infinity, -Infinity, NaN, 3.4e38, -3.4e38, 1.00390625, 1.01171875, 1e-40]);
    const down = ops.activate(make(edges, [edges.length], 'f32'), 'none', { dtype: 'bf16' }).toFloat32Array();
    expect(down).toEqual(edges.map(bf16Round));
    const rounded = edges.map(bf16Round);
    expect(ops.activate(make(rounded, [rounded.length], 'bf16'), 'none', { dtype: 'f32' }).toFloat32Array()).toEqual(rounded);
  });

  it('runs on strided bf16 rows of every width, and in place', () => {
    for (const C of [1, 7, 16, 17, 33, 130]) {
      const { view, values } = stridedRows(7, C, 4, C, 'bf16');
      expectResult(ops.activate(view, 'gelu-tanh'), 'bf16', values.map(gelu), ACT_TOL, `C=${C}`);
      ops.activate(view, 'silu', { out: view });
      expectResult(view, 'bf16', values.map(silu), ACT_TOL, `C=${C} in place`);
    }
  });
});

describeEachIsa('axpby, add, mul with bf16 operands', () => {
  it('combine same-shape operands for every (x, out) pair, strided and in place', () => {
    for (const C of [1, 3, 16, 17, 72, 130]) {
      for (const [xd, od] of PAIRS) {
        const { view: x, values: xv } = stridedRows(ROWS, C, 1, C, xd);
        const yv = uniformAs(xd, ROWS * C, C + 1);
        const y = make(yv, [ROWS, C], xd);
        const what = `C=${C} x ${xd} out ${od}`;
        expectResult(ops.axpby(0.5, x, -2, y, { dtype: od }), od, xv.map((v, i) => 0.5 * v - 2 * yv[i]!), EXACTISH_TOL, `axpby ${what}`);
        expectResult(ops.add(x, y, { dtype: od }), od, xv.map((v, i) => v + yv[i]!), EXACTISH_TOL, `add ${what}`);
        expectResult(ops.mul(x, y, { dtype: od }), od, xv.map((v, i) => v * yv[i]!), EXACTISH_TOL, `mul ${what}`);
      }
      const { view: x, values: xv } = stridedRows(ROWS, C, 1, C, 'bf16');
      const yv = uniformAs('bf16', ROWS * C, C + 2);
      ops.add(x, make(yv, [ROWS, C], 'bf16'), { out: x });
      expectResult(x, 'bf16', xv.map((v, i) => v + yv[i]!), EXACTISH_TOL, `add in place C=${C}`);
    }
  });

  it('broadcast a grouped second operand of either dtype with every group count', () => {
    for (const C of [1, 17, 72]) {
      for (const [xd, od] of PAIRS) {
        const xv = uniformAs(xd, ROWS * C, C);
        const x = make(xv, [B, F, S, C], xd);
        for (const yd of FLOATS) {
          for (const G of GROUPS) {
            const yv = uniformAs(yd, G * C, G);
            const y = make(yv, [G, C], yd);
            const at = (i: number) => grouped(yv, G, ROWS, C, Math.floor(i / C), i % C);
            const what = `C=${C} x ${xd} y ${yd} out ${od} G=${G}`;
            expectResult(ops.axpby(2, x, 3, y, { dtype: od }), od, xv.map((v, i) => 2 * v + 3 * at(i)), EXACTISH_TOL, `axpby ${what}`);
            expectResult(ops.mul(x, y, { dtype: od }), od, xv.map((v, i) => v * at(i)), EXACTISH_TOL, `mul ${what}`);
          }
        }
      }
    }
  });
});

describeEachIsa('softmax with bf16 operands', () => {
  it('matches the reference for every (x, out) pair, with masked (-inf) entries, and in place', () => {
    for (const C of [1, 2, 7, 16, 17, 33, 72, 130]) {
      for (const [xd, od] of PAIRS) {
        const x = uniformAs(xd, ROWS * C, C, -30, 30);
        for (let r = 0; r < ROWS; r += 3) if (C > 1) x[r * C + (r % C)] = -Infinity;
        const xt = make(x, [ROWS, C], xd);
        expectResult(ops.softmax(xt, { dtype: od }), od, softmaxRef(x, ROWS, C), SOFTMAX_TOL, `C=${C} x ${xd} out ${od}`);
        if (xd === 'bf16') {
          ops.softmax(xt, { out: xt });
          expectResult(xt, 'bf16', softmaxRef(x, ROWS, C), SOFTMAX_TOL, `C=${C} in place`);
        }
      }
    }
  });
});

describeEachIsa('rope with bf16 operands', () => {
  it('rotates interleaved pairs for every (x, out) pair', () => {
    for (const D of [2, 18, 72, 128]) {
      for (const [T, pos0] of [
        [1, 0],
        [7, 3],
        [4, 1000],
      ] as const) {
        for (const [xd, od] of PAIRS) {
          const rows = 2 * 3 * T;
          const x = uniformAs(xd, rows * D, D * T + pos0);
          const freqs = freqsOf(D);
          const got = ops.rope(make(x, [2, 3, T, D], xd), tensor(freqs, [D / 2]), { pos0, dtype: od });
          expectResult(got, od, ropeRef(x, rows, T, D, freqs, pos0), ROPE_TOL, `D=${D} T=${T} pos0=${pos0} x ${xd} out ${od}`);
        }
      }
    }
  });

  it('rotates q in place as a [B, H, N, D] view of a packed bf16 [B, N, 3, H, D] buffer', () => {
    const [Bq, N, H, D] = [2, 6, 3, 72];
    const qkv = make(uniformAs('bf16', Bq * N * 3 * H * D, 5), [Bq, N, 3, H, D], 'bf16');
    const q = qkv.view([Bq, H, N, D], { strides: [N * 3 * H * D, D, 3 * H * D, 1] });
    const freqs = freqsOf(D);
    const expected = ropeRef(q.toFloat32Array(), Bq * H * N, N, D, freqs, 2);
    ops.rope(q, tensor(freqs, [D / 2]), { pos0: 2, out: q });
    expectResult(q, 'bf16', expected, ROPE_TOL, 'q view in place');
  });
});

describe('row-wise dtypes refused on the CPU', () => {
  const x = tensor(uniformAs('bf16', 4 * 8, 1), [4, 8], { dtype: 'bf16' });
  const f32 = zeros([4, 8]);
  const f16 = zeros([4, 8], { dtype: 'f16' });
  const i32 = zeros([4, 8], { dtype: 'i32' });

  it('in the TypeScript layer, as DC_ERR_DTYPE', () => {
    const cases: [string, () => unknown][] = [
      ['f16 x', () => ops.layerNorm(f16)],
      ['i32 x', () => ops.softmax(i32)],
      ['f16 out', () => ops.rmsNorm(x, { out: f16 })],
      ['f16 dtype', () => ops.activate(x, 'silu', { dtype: 'f16' })],
      ['dtype contradicting out', () => ops.softmax(x, { out: f32, dtype: 'bf16' })],
      ['f16 weight', () => ops.layerNorm(x, { weight: zeros([8], { dtype: 'f16' }) })],
      ['i32 shift', () => ops.modulate(x, zeros([1, 8], { dtype: 'i32' }), zeros([1, 8]))],
      ['same-shape y of another dtype', () => ops.add(x, f32)],
      ['grouped f16 y', () => ops.mul(x, zeros([2, 8], { dtype: 'f16' }))],
      ['bf16 freqs', () => ops.rope(x, zeros([4], { dtype: 'bf16' }))],
    ];
    for (const [what, fn] of cases) {
      expect(fn, what).toThrow(TypeError);
      expect(fn, what).toThrow(expect.objectContaining({ code: 'DC_ERR_DTYPE' }));
    }
  });

  it('in native code, as DC_ERR_DTYPE', () => {
    const b = binding();
    const out = empty([4, 8], { dtype: 'bf16' }).native;
    const cases: [string, () => unknown][] = [
      ['f16 x', () => b.layernorm(f16.native, out, {})],
      ['f16 out', () => b.softmax(x.native, f16.native)],
      ['f16 weight', () => b.rmsnorm(x.native, out, { weight: zeros([8], { dtype: 'f16' }).native })],
      ['i32 scale', () => b.layernorm(x.native, out, { shift: zeros([1, 8]).native, scale: zeros([1, 8], { dtype: 'i32' }).native })],
      ['f16 shift', () => b.modulate(x.native, zeros([1, 8], { dtype: 'f16' }).native, zeros([1, 8]).native, out)],
      ['same-shape y of another dtype', () => b.axpby(1, x.native, 1, f32.native, out)],
      ['grouped f16 y', () => b.mul(x.native, zeros([2, 8], { dtype: 'f16' }).native, out)],
      ['i32 out', () => b.activate(x.native, 1, i32.native)],
      ['bf16 freqs', () => b.rope(x.native, zeros([4], { dtype: 'bf16' }).native, 0, out)],
    ];
    for (const [what, fn] of cases) {
      expect(fn, what).toThrow(TypeError);
      expect(fn, what).toThrow(expect.objectContaining({ code: 'DC_ERR_DTYPE' }));
    }
  });
});
