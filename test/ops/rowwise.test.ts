// Row-wise ops against naive double-precision references, on every ISA, over row lengths that
// exercise whole vectors and tails (1, primes, odd C, the 72-wide STDiT3 head), strided views and
// grouped parameters with G = 1, batch, batch·frames and rows.
import { describe, expect, it } from 'vitest';

import { empty, ops, tensor, type Tensor } from '../../lib/index.js';
import { describeEachIsa, expectClose, uniform } from './isa-cases.js';
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
  WIDTHS,
} from './rowwise-refs.js';

describeEachIsa('layerNorm', () => {
  it('matches the reference, plain and affine, on every width', () => {
    for (const C of WIDTHS) {
      const x = uniform(ROWS * C, C, 3, 7); // a large mean checks the centring
      const weight = uniform(C, C + 1);
      const bias = uniform(C, C + 2);
      const xt = tensor(x, [B, F * S, C]);
      expectClose(ops.layerNorm(xt).toFloat32Array(), normRef(x, ROWS, C, { eps: 1e-6 }), NORM_TOL, `C=${C} plain`);
      const affine = ops.layerNorm(xt, { eps: 1e-3, weight: tensor(weight, [C]), bias: tensor(bias, [C]) });
      expectClose(affine.toFloat32Array(), normRef(x, ROWS, C, { eps: 1e-3, weight, bias }), NORM_TOL, `C=${C} affine`);
      const weighted = ops.layerNorm(xt, { weight: tensor(weight, [C]) });
      expectClose(weighted.toFloat32Array(), normRef(x, ROWS, C, { eps: 1e-6, weight }), NORM_TOL, `C=${C} weight only`);
    }
  });

  it('keeps its precision when the mean dwarfs the spread, and with outlier channels', () => {
    for (const C of [7, 72, 1152]) {
      const offset = uniform(13 * C, C + 9, 999, 1001);
      expectClose(ops.layerNorm(tensor(offset, [13, C])).toFloat32Array(), normRef(offset, 13, C, { eps: 1e-6 }), NORM_TOL, `C=${C} offset`);
      const outliers = uniform(13 * C, C + 10);
      for (let r = 0; r < 13; r++) outliers[r * C + (r % C)] = r % 2 ? 300 : -300;
      expectClose(ops.layerNorm(tensor(outliers, [13, C])).toFloat32Array(), normRef(outliers, 13, C, { eps: 1e-6 }), NORM_TOL, `C=${C} outliers`);
    }
  });

  it('fuses t2i modulate with G = 1, batch, batch·frames and rows', () => {
    for (const C of [1, 17, 72, 130]) {
      const x = uniform(ROWS * C, 7 * C);
      for (const G of GROUPS) {
        const shift = uniform(G * C, G + 1);
        const scale = uniform(G * C, G + 2);
        const got = ops.layerNorm(tensor(x, [B, F, S, C]), {
          shift: tensor(shift, [G, 1, C]),
          scale: tensor(scale, [G, C]),
        });
        expectClose(got.toFloat32Array(), normRef(x, ROWS, C, { eps: 1e-6, shift, scale, groups: G }), NORM_TOL, `C=${C} G=${G}`);
      }
    }
  });

  it('reads strided rows, writes a strided out, and works in place', () => {
    for (const C of [5, 72]) {
      const { view, values } = stridedRows(13, C, 3, C);
      const out = stridedRows(13, C, 5, 99).view;
      ops.layerNorm(view, { out });
      expectClose(out.toFloat32Array(), normRef(values, 13, C, { eps: 1e-6 }), NORM_TOL, `C=${C} strided`);
      ops.layerNorm(view, { out: view });
      expectClose(view.toFloat32Array(), normRef(values, 13, C, { eps: 1e-6 }), NORM_TOL, `C=${C} in place`);
    }
  });
});

describeEachIsa('rmsNorm', () => {
  it('matches the reference on every width', () => {
    for (const C of WIDTHS) {
      const x = uniform(ROWS * C, C + 5, -3, 3);
      const weight = uniform(C, C + 6);
      const got = ops.rmsNorm(tensor(x, [ROWS, C]), { weight: tensor(weight, [C]) });
      expectClose(got.toFloat32Array(), normRef(x, ROWS, C, { eps: 1e-6, rms: true, weight }), NORM_TOL, `C=${C}`);
    }
  });

  it('normalises q and k in place inside a packed qkv buffer and leaves v alone', () => {
    for (const D of [8, 17, 72]) {
      const [Bq, N, H] = [2, 5, 3];
      const qkvData = uniform(Bq * N * 3 * H * D, D, -2, 2);
      const qkv = tensor(qkvData.slice(), [Bq, N, 3, H, D]);
      const weight = uniform(D, D + 1);
      const strides = [N * 3 * H * D, 3 * H * D, D, 1];
      const q = qkv.view([Bq, N, H, D], { strides });
      const k = qkv.view([Bq, N, H, D], { offset: H * D, strides });
      ops.rmsNorm(q, { weight: tensor(weight, [D]), out: q });
      ops.rmsNorm(k, { weight: tensor(weight, [D]), out: k });
      // Every D-wide row of the buffer is a q, k or v head: rows with (row / H) % 3 == 2 are v.
      const rows = qkvData.length / D;
      const expected = Float64Array.from(qkvData);
      const normed = normRef(qkvData, rows, D, { eps: 1e-6, rms: true, weight });
      for (let r = 0; r < rows; r++) {
        if (Math.floor(r / H) % 3 !== 2) expected.set(normed.subarray(r * D, (r + 1) * D), r * D);
      }
      expectClose(qkv.toFloat32Array(), expected, NORM_TOL, `D=${D}`);
    }
  });
});

describeEachIsa('modulate', () => {
  it('applies x·(1+scale)+shift with every group count, also on strided rows', () => {
    for (const C of [1, 3, 16, 33, 72]) {
      const x = uniform(ROWS * C, C);
      for (const G of GROUPS) {
        const shift = uniform(G * C, G + 10);
        const scale = uniform(G * C, G + 20);
        const expected = x.map((v, i) => {
          const r = Math.floor(i / C);
          const c = i % C;
          return v * (1 + grouped(scale, G, ROWS, C, r, c)) + grouped(shift, G, ROWS, C, r, c);
        });
        const got = ops.modulate(tensor(x, [B, F * S, C]), tensor(shift, [G, C]), tensor(scale, [G, C]));
        expectClose(got.toFloat32Array(), expected, EXACTISH_TOL, `C=${C} G=${G}`);
      }
      const { view, values } = stridedRows(ROWS, C, 2, C + 3);
      const shift = uniform(C, 1);
      const scale = uniform(C, 2);
      ops.modulate(view, tensor(shift, [1, C]), tensor(scale, [1, C]), { out: view });
      const expected = values.map((v, i) => v * (1 + scale[i % C]!) + shift[i % C]!);
      expectClose(view.toFloat32Array(), expected, EXACTISH_TOL, `C=${C} strided in place`);
    }
  });
});

describeEachIsa('activate', () => {
  // Wide range plus the points where a naive tanh or exp breaks down.
  const special = [0, -0, 1e-6, -1e-6, 0.5, -0.5, 3, -3, 5.5, -5.5, 9, -9, 20, -20, 50, -50, 100, -100, 1e4, -1e4, 1e30, -1e30];
  const x = Float32Array.from([...uniform(997, 1, -10, 10), ...special]);

  it('gelu-tanh matches the reference to 1e-5', () => {
    expectClose(ops.activate(tensor(x, [x.length]), 'gelu-tanh').toFloat32Array(), x.map(gelu), ACT_TOL, 'gelu');
  });

  it('silu matches the reference', () => {
    expectClose(ops.activate(tensor(x, [x.length]), 'silu').toFloat32Array(), x.map(silu), ACT_TOL, 'silu');
  });

  it("'none' copies, and activations run on strided rows for every width", () => {
    expect(ops.activate(tensor(x, [x.length]), 'none').toFloat32Array()).toEqual(x);
    for (const C of WIDTHS) {
      const { view, values } = stridedRows(7, C, 4, C);
      const out = ops.activate(view, 'gelu-tanh');
      expectClose(out.toFloat32Array(), values.map(gelu), ACT_TOL, `C=${C}`);
    }
  });
});

describeEachIsa('axpby, add, mul', () => {
  it('combine same-shape operands on every width, strided and in place', () => {
    for (const C of WIDTHS) {
      const { view: x, values: xv } = stridedRows(ROWS, C, 1, C);
      const yv = uniform(ROWS * C, C + 1);
      const y = tensor(yv, [ROWS, C]);
      expectClose(ops.axpby(0.5, x, -2, y).toFloat32Array(), xv.map((v, i) => 0.5 * v - 2 * yv[i]!), EXACTISH_TOL, `axpby C=${C}`);
      expectClose(ops.add(x, y).toFloat32Array(), xv.map((v, i) => v + yv[i]!), EXACTISH_TOL, `add C=${C}`);
      expectClose(ops.mul(x, y).toFloat32Array(), xv.map((v, i) => v * yv[i]!), EXACTISH_TOL, `mul C=${C}`);
      ops.add(x, y, { out: x });
      expectClose(x.toFloat32Array(), xv.map((v, i) => v + yv[i]!), EXACTISH_TOL, `add in place C=${C}`);
    }
  });

  it('broadcast a grouped second operand with every group count', () => {
    for (const C of [1, 17, 72]) {
      const xv = uniform(ROWS * C, C);
      const x = tensor(xv, [B, F, S, C]);
      for (const G of GROUPS) {
        const yv = uniform(G * C, G);
        const y = tensor(yv, [G, C]);
        const at = (i: number) => grouped(yv, G, ROWS, C, Math.floor(i / C), i % C);
        expectClose(ops.axpby(2, x, 3, y).toFloat32Array(), xv.map((v, i) => 2 * v + 3 * at(i)), EXACTISH_TOL, `axpby C=${C} G=${G}`);
        expectClose(ops.mul(x, y).toFloat32Array(), xv.map((v, i) => v * at(i)), EXACTISH_TOL, `mul C=${C} G=${G}`);
      }
    }
  });
});

describeEachIsa('softmax', () => {
  it('matches the reference on every width, with masked (-inf) entries', () => {
    for (const C of WIDTHS) {
      const x = uniform(ROWS * C, C, -30, 30);
      for (let r = 0; r < ROWS; r += 3) if (C > 1) x[r * C + (r % C)] = -Infinity;
      expectClose(ops.softmax(tensor(x, [ROWS, C])).toFloat32Array(), softmaxRef(x, ROWS, C), SOFTMAX_TOL, `C=${C}`);
    }
  });
});

describeEachIsa('rope', () => {
  it('rotates interleaved pairs at positions pos0 + t', () => {
    for (const D of [2, 8, 18, 34, 72, 128]) {
      for (const [T, pos0] of [
        [1, 0],
        [5, 0],
        [7, 3],
        [4, 1000],
      ] as const) {
        const rows = 2 * 3 * T;
        const x = uniform(rows * D, D * T + pos0);
        const freqs = freqsOf(D);
        const got = ops.rope(tensor(x, [2, 3, T, D]), tensor(freqs, [D / 2]), { pos0 });
        expectClose(got.toFloat32Array(), ropeRef(x, rows, T, D, freqs, pos0), ROPE_TOL, `D=${D} T=${T} pos0=${pos0}`);
      }
    }
  });

  it('rotates q in place as a [B, H, N, D] view of a packed [B, N, 3, H, D] qkv buffer', () => {
    const [Bq, N, H, D] = [2, 6, 3, 72];
    const data = uniform(Bq * N * 3 * H * D, 5);
    const qkv = tensor(data.slice(), [Bq, N, 3, H, D]);
    const q = qkv.view([Bq, H, N, D], { strides: [N * 3 * H * D, D, 3 * H * D, 1] });
    const before = q.toFloat32Array();
    const freqs = freqsOf(D);
    const expected = ropeRef(before, Bq * H * N, N, D, freqs, 2);
    const dense = ops.rope(q, tensor(freqs, [D / 2]), { pos0: 2 });
    expectClose(dense.toFloat32Array(), expected, ROPE_TOL, 'q view into a dense out');
    ops.rope(q, tensor(freqs, [D / 2]), { pos0: 2, out: q });
    expectClose(q.toFloat32Array(), expected, ROPE_TOL, 'q view in place');
  });
});

describeEachIsa('rope row orders', () => {
  it('matches for any pairing of x and out layouts, in place or not', () => {
    const [Bq, H, N, D] = [2, 3, 5, 18];
    const freqs = freqsOf(D);
    const data = uniform(N * Bq * H * D, 11);
    // x: [B, H, N, D] over [N, B, H, D] storage (batch and heads merge, positions outermost).
    const x = () => tensor(data.slice(), [N, Bq, H, D]).view([Bq, H, N, D], { strides: [H * D, D, Bq * H * D, 1] });
    const expected = ropeRef(x().toFloat32Array(), Bq * H * N, N, D, freqs, 4);
    const outs: [string, () => Tensor | undefined][] = [
      ['dense out', () => undefined],
      ['in place', () => undefined],
      // heads and positions merge, batch apart: no common row order with x
      ['padded out', () => empty([Bq, H + 1, N, D]).view([Bq, H, N, D], { strides: [(H + 1) * N * D, N * D, D, 1] })],
    ];
    for (const [what, make] of outs) {
      const xt = x();
      const out = what === 'in place' ? xt : make();
      const got = ops.rope(xt, tensor(freqs, [D / 2]), { pos0: 4, out });
      expectClose(got.toFloat32Array(), expected, ROPE_TOL, what);
    }
  });
});

describe('row-wise op errors', () => {
  const x = tensor(uniform(12 * 8, 1), [3, 4, 8]);

  it('rejects a group count that does not divide the rows', () => {
    expect(() => ops.layerNorm(x, { shift: empty([5, 8]), scale: empty([5, 8]) })).toThrow(RangeError);
    expect(() => ops.modulate(x, empty([7, 8]), empty([7, 8]))).toThrow(RangeError);
    expect(() => ops.add(x, empty([5, 8]))).toThrow(RangeError);
    expect(() => ops.layerNorm(x, { shift: empty([3, 8]) })).toThrow(TypeError);
  });

  it('rejects mismatched shapes', () => {
    expect(() => ops.axpby(1, x, 1, empty([3, 4, 9]))).toThrow(RangeError);
    expect(() => ops.mul(x, empty([3, 7]))).toThrow(RangeError);
    expect(() => ops.layerNorm(x, { weight: empty([7]) })).toThrow(RangeError);
    expect(() => ops.softmax(x, { out: empty([3, 4, 7]) })).toThrow(RangeError);
    expect(() => ops.rope(x, empty([3]))).toThrow(RangeError);
    expect(() => ops.rope(empty([2, 4, 7]), empty([3]))).toThrow(RangeError);
    expect(() => ops.rope(empty([8]), empty([4]))).toThrow(RangeError);
  });

  it('rejects disposed tensors', () => {
    const gone = tensor(uniform(8, 2), [1, 8]);
    gone.dispose();
    expect(() => ops.rmsNorm(gone)).toThrow(TypeError);
    expect(() => ops.add(x, gone)).toThrow(TypeError);
    expect(() => ops.layerNorm(x, { weight: gone })).toThrow(TypeError);
  });

  it('rejects wrong dtypes', () => {
    expect(() => ops.layerNorm(empty([2, 8], { dtype: 'i32' }))).toThrow(TypeError);
    expect(() => ops.rmsNorm(x, { weight: empty([8], { dtype: 'f16' }) })).toThrow(TypeError);
    expect(() => ops.mul(x, empty([3, 4, 8], { dtype: 'f16' }))).toThrow(TypeError);
    expect(() => ops.rope(empty([2, 4, 8]), empty([4], { dtype: 'bf16' }))).toThrow(TypeError);
    expect(() => ops.activate(x, 'relu' as never)).toThrow(TypeError);
  });
});
