// Row-wise ops against naive double-precision references, on every ISA, over row lengths that
// exercise whole vectors and tails (1, primes, odd C, the 72-wide STDiT3 head), strided views and
// grouped parameters with G = 1, batch, batch·frames and rows.
import { describe, expect, it } from 'vitest';

import { empty, ops, tensor, type Tensor } from '../../lib/index.js';
import { describeEachIsa, expectClose, uniform, type Tolerance } from './isa-cases.js';

// Float32 kernels against double references: a few float roundings per element.
const NORM_TOL: Tolerance = { atol: 1e-5, rtol: 1e-5 };
const ACT_TOL: Tolerance = { atol: 1e-5, rtol: 1e-6 };
const EXACTISH_TOL: Tolerance = { atol: 1e-6, rtol: 1e-6 };
const SOFTMAX_TOL: Tolerance = { atol: 1e-7, rtol: 1e-5 };
const ROPE_TOL: Tolerance = { atol: 1e-5, rtol: 1e-5 };

const WIDTHS = [1, 2, 3, 7, 16, 17, 31, 33, 72, 127, 130];
// x [B, F, S, C]: rows = B·F·S; the group counts a grouped parameter may have.
const B = 2;
const F = 3;
const S = 5;
const ROWS = B * F * S;
const GROUPS = [1, B, B * F, ROWS];

/** An [R, C] view with row stride C + pad inside a larger buffer; `values` are its elements. */
function stridedRows(R: number, C: number, pad: number, seed: number): { view: Tensor; base: Tensor; values: Float32Array } {
  const ld = C + pad;
  const base = tensor(uniform(R * ld + pad, seed), [R * ld + pad]);
  const view = base.view([R, C], { offset: pad, strides: [ld, 1] });
  return { view, base, values: view.toFloat32Array() };
}

interface NormRef {
  eps: number;
  rms?: boolean;
  weight?: Float32Array;
  bias?: Float32Array;
  shift?: Float32Array;
  scale?: Float32Array;
  groups?: number;
}

function normRef(x: ArrayLike<number>, R: number, C: number, o: NormRef): Float64Array {
  const out = new Float64Array(R * C);
  const per = R / (o.groups ?? 1);
  for (let r = 0; r < R; r++) {
    let mean = 0;
    if (!o.rms) {
      for (let c = 0; c < C; c++) mean += x[r * C + c]!;
      mean /= C;
    }
    let ss = 0;
    for (let c = 0; c < C; c++) ss += (x[r * C + c]! - mean) ** 2;
    const inv = 1 / Math.sqrt(ss / C + o.eps);
    const g = Math.floor(r / per);
    for (let c = 0; c < C; c++) {
      let y = (x[r * C + c]! - mean) * inv;
      if (o.weight) y *= o.weight[c]!;
      if (o.bias) y += o.bias[c]!;
      if (o.shift && o.scale) y = y * (1 + o.scale[g * C + c]!) + o.shift[g * C + c]!;
      out[r * C + c] = y;
    }
  }
  return out;
}

function gelu(x: number): number {
  return 0.5 * x * (1 + Math.tanh(Math.sqrt(2 / Math.PI) * (x + 0.044715 * x ** 3)));
}

function silu(x: number): number {
  return x / (1 + Math.exp(-x));
}

/** Element (r, c) of a grouped [G, C] parameter for x with R rows. */
function grouped(p: ArrayLike<number>, G: number, R: number, C: number, r: number, c: number): number {
  return p[Math.floor(r / (R / G)) * C + c]!;
}

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
      const expected = new Float64Array(ROWS * C);
      for (let r = 0; r < ROWS; r++) {
        const row = x.subarray(r * C, (r + 1) * C);
        const m = Math.max(...row);
        const e = Array.from(row, (v) => Math.exp(v - m));
        const s = e.reduce((a, b) => a + b, 0);
        e.forEach((v, c) => (expected[r * C + c] = v / s));
      }
      expectClose(ops.softmax(tensor(x, [ROWS, C])).toFloat32Array(), expected, SOFTMAX_TOL, `C=${C}`);
    }
  });
});

/** RoPE of rows at positions pos0 + r % T, with float32 angles as rotary_embedding_torch. */
function ropeRef(x: ArrayLike<number>, rows: number, T: number, D: number, freqs: Float32Array, pos0: number): Float64Array {
  const out = new Float64Array(rows * D);
  for (let r = 0; r < rows; r++) {
    const pos = pos0 + (r % T);
    for (let i = 0; i < D / 2; i++) {
      const angle = Math.fround(pos * freqs[i]!);
      const [c, s] = [Math.cos(angle), Math.sin(angle)];
      const [x0, x1] = [x[r * D + 2 * i]!, x[r * D + 2 * i + 1]!];
      out[r * D + 2 * i] = x0 * c - x1 * s;
      out[r * D + 2 * i + 1] = x1 * c + x0 * s;
    }
  }
  return out;
}

const freqsOf = (D: number): Float32Array => Float32Array.from({ length: D / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / D));

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
