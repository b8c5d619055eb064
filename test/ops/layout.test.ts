// Layout ops against index-by-index references: patchify/unpatchify (padding, cropping, strided
// videos, extra token channels), strided copies with dtype conversion, and fills. These kernels are
// exact (pure data movement), so results must match bit for bit.
import { describe, expect, it } from 'vitest';

import { empty, ops, tensor, zeros, type DType, type Patch, type Tensor } from '../../lib/index.js';
import { binding } from '../../lib/native/loader.js';
import { bf16Round, describeEachIsa, uniform, uniformAs } from './isa-cases.js';

type Shape5 = [number, number, number, number, number];

const ceil = (a: number, b: number) => Math.ceil(a / b);

function patchifyRef(x: Float32Array, [B, C, T, H, W]: Shape5, [pt, ph, pw]: Patch): Float32Array {
  const [Tp, Hp, Wp] = [ceil(T, pt), ceil(H, ph), ceil(W, pw)];
  const cols = C * pt * ph * pw;
  const out = new Float32Array(B * Tp * Hp * Wp * cols);
  for (let b = 0; b < B; b++)
    for (let tp = 0; tp < Tp; tp++)
      for (let hp = 0; hp < Hp; hp++)
        for (let wp = 0; wp < Wp; wp++) {
          const row = ((b * Tp + tp) * Hp + hp) * Wp + wp;
          for (let c = 0; c < C; c++)
            for (let it = 0; it < pt; it++)
              for (let ih = 0; ih < ph; ih++)
                for (let iw = 0; iw < pw; iw++) {
                  const [t, h, w] = [tp * pt + it, hp * ph + ih, wp * pw + iw];
                  const col = ((c * pt + it) * ph + ih) * pw + iw;
                  out[row * cols + col] = t < T && h < H && w < W ? x[(((b * C + c) * T + t) * H + h) * W + w]! : 0;
                }
        }
  return out;
}

function unpatchifyRef(tok: Float32Array, Ct: number, [B, C, T, H, W]: Shape5, [pt, ph, pw]: Patch): Float32Array {
  const [Tp, Hp, Wp] = [ceil(T, pt), ceil(H, ph), ceil(W, pw)];
  const cols = Ct * pt * ph * pw;
  const out = new Float32Array(B * C * T * H * W);
  for (let b = 0; b < B; b++)
    for (let c = 0; c < C; c++)
      for (let t = 0; t < T; t++)
        for (let h = 0; h < H; h++)
          for (let w = 0; w < W; w++) {
            const row = ((b * Tp + Math.floor(t / pt)) * Hp + Math.floor(h / ph)) * Wp + Math.floor(w / pw);
            const col = (((t % pt) * ph + (h % ph)) * pw + (w % pw)) * Ct + c;
            out[(((b * C + c) * T + t) * H + h) * W + w] = tok[row * cols + col]!;
          }
  return out;
}

const CASES: [Shape5, Patch][] = [
  [[1, 1, 1, 1, 1], [1, 1, 1]],
  [[2, 4, 3, 8, 10], [1, 2, 2]], // divisible, the STDiT3 patch
  [[2, 4, 5, 7, 9], [1, 2, 2]], // odd H and W: padded
  [[1, 3, 5, 6, 7], [2, 3, 2]], // padded in every dim
  [[2, 2, 4, 5, 5], [4, 1, 3]],
  [[1, 1, 2, 3, 1], [1, 2, 2]], // W smaller than the patch
];

/** [B, C, T, H, W] as a strided view: stored [B, T, C, H, W + 3] (channels inside frames, padded rows). */
function stridedVideo(values: Float32Array, [B, C, T, H, W]: Shape5, dtype: DType = 'f32'): Tensor {
  const ld = W + 3;
  const storage = zeros([B * T * C * H * ld], { dtype });
  const view = storage.view([B, C, T, H, W], { strides: [T * C * H * ld, H * ld, C * H * ld, ld, 1] });
  view.write(values);
  return view;
}

describeEachIsa('patchify / unpatchify', () => {
  it('patchify matches the reference, padding included, from dense and strided videos', () => {
    for (const [shape, patch] of CASES) {
      const x = uniform(shape.reduce((a, b) => a * b), shape[3] * 31 + shape[4]);
      const expected = patchifyRef(x, shape, patch);
      expect(ops.patchify(tensor(x, shape), patch).toFloat32Array(), `dense ${shape} ${patch}`).toEqual(expected);
      expect(ops.patchify(stridedVideo(x, shape), patch).toFloat32Array(), `strided ${shape} ${patch}`).toEqual(expected);
    }
  });

  it('unpatchify matches the reference, keeping the first C of more token channels and cropping', () => {
    for (const [shape, patch] of CASES) {
      const [B, C, T, H, W] = shape;
      for (const Ct of [C, 2 * C + 1]) {
        const P = patch[0] * patch[1] * patch[2];
        const N = ceil(T, patch[0]) * ceil(H, patch[1]) * ceil(W, patch[2]);
        const tok = uniform(B * N * P * Ct, Ct + N);
        const expected = unpatchifyRef(tok, Ct, shape, patch);
        const dense = ops.unpatchify(tensor(tok, [B, N, P * Ct]), patch, shape);
        expect(dense.toFloat32Array(), `dense ${shape} ${patch} Ct=${Ct}`).toEqual(expected);
        const out = stridedVideo(new Float32Array(B * C * T * H * W), shape);
        ops.unpatchify(tensor(tok, [B, N, P * Ct]), patch, shape, { out });
        expect(out.toFloat32Array(), `strided ${shape} ${patch} Ct=${Ct}`).toEqual(expected);
      }
    }
  });

  it('round-trips a one-channel video (both column orders agree when C = 1)', () => {
    const shape: Shape5 = [2, 1, 5, 9, 11];
    const x = uniform(shape.reduce((a, b) => a * b), 3);
    const back = ops.unpatchify(ops.patchify(tensor(x, shape), [2, 2, 2]), [2, 2, 2], shape);
    expect(back.toFloat32Array()).toEqual(x);
  });
});

describeEachIsa('patchify / unpatchify with bf16 operands', () => {
  // Pure data movement: bf16 to bf16 and bf16 to f32 are exact, f32 to bf16 is one rounding to
  // nearest even, so every result is compared bit for bit.
  const PAIRS: ['f32' | 'bf16', 'f32' | 'bf16'][] = [
    ['bf16', 'bf16'],
    ['bf16', 'f32'],
    ['f32', 'bf16'],
  ];

  it('patchify moves and converts every element, padding included, from dense and strided videos', () => {
    for (const [shape, patch] of CASES) {
      for (const [xd, od] of PAIRS) {
        const x = uniformAs(xd, shape.reduce((a, b) => a * b), shape[3] * 31 + shape[4]);
        const ref = patchifyRef(x, shape, patch);
        const expected = od === 'bf16' ? ref.map(bf16Round) : ref;
        const what = `${shape} ${patch} x ${xd} out ${od}`;
        const dense = ops.patchify(tensor(x, shape, { dtype: xd }), patch, { dtype: od });
        expect(dense.dtype).toBe(od);
        expect(dense.toFloat32Array(), `dense ${what}`).toEqual(expected);
        expect(ops.patchify(stridedVideo(x, shape, xd), patch, { dtype: od }).toFloat32Array(), `strided ${what}`).toEqual(expected);
      }
    }
  });

  it('unpatchify moves and converts the first C channels into dense and strided videos', () => {
    for (const [shape, patch] of CASES) {
      const [B, C, T, H, W] = shape;
      const Ct = 2 * C + 1;
      const P = patch[0] * patch[1] * patch[2];
      const N = ceil(T, patch[0]) * ceil(H, patch[1]) * ceil(W, patch[2]);
      for (const [xd, od] of PAIRS) {
        const tok = uniformAs(xd, B * N * P * Ct, Ct + N);
        const ref = unpatchifyRef(tok, Ct, shape, patch);
        const expected = od === 'bf16' ? ref.map(bf16Round) : ref;
        const what = `${shape} ${patch} x ${xd} out ${od}`;
        const tokens = tensor(tok, [B, N, P * Ct], { dtype: xd });
        expect(ops.unpatchify(tokens, patch, shape, { dtype: od }).toFloat32Array(), `dense ${what}`).toEqual(expected);
        const out = stridedVideo(new Float32Array(B * C * T * H * W), shape, od);
        ops.unpatchify(tokens, patch, shape, { out });
        expect(out.toFloat32Array(), `strided ${what}`).toEqual(expected);
      }
    }
  });
});

describe('strided copies', () => {
  it('copies between strided views of one dtype, with dense and strided inner runs', () => {
    const src = tensor(uniform(6 * 7 * 9, 1), [6, 7, 9]);
    const values = src.toFloat32Array();
    // A transposed view (inner stride 9) into a padded destination.
    const t = src.view([9, 7, 6], { strides: [1, 9, 63] });
    const expected = new Float32Array(9 * 7 * 6);
    for (let i = 0; i < 9; i++) for (let j = 0; j < 7; j++) for (let k = 0; k < 6; k++) expected[(i * 7 + j) * 6 + k] = values[k * 63 + j * 9 + i]!;
    expect(t.clone().toFloat32Array()).toEqual(expected);
    const padded = zeros([9, 7, 8]);
    const window = padded.view([9, 7, 6], { offset: 1, strides: [56, 8, 1] });
    window.copyFrom(t);
    expect(window.toFloat32Array()).toEqual(expected);
    const all = padded.toFloat32Array();
    for (let r = 0; r < 63; r++) expect([all[r * 8], all[r * 8 + 7]]).toEqual([0, 0]);
  });

  it('splits long runs across pieces without losing elements', () => {
    const n = 200_003;
    const base = tensor(uniform(3 * n, 2), [3, n]);
    const view = base.view([3, n - 3], { offset: 2, strides: [n, 1] });
    const expected = new Float32Array(3 * (n - 3));
    const b = base.toFloat32Array();
    for (let r = 0; r < 3; r++) expected.set(b.subarray(r * n + 2, r * n + n - 1), r * (n - 3));
    const firstDifference = (a: Float32Array, e: Float32Array) => (a.length !== e.length ? -2 : a.findIndex((v, i) => v !== e[i]));
    expect(firstDifference(view.clone().toFloat32Array(), expected)).toBe(-1);
    expect(firstDifference(base.clone().toFloat32Array(), b)).toBe(-1);
  });

  it('converts between dtypes through strided views', () => {
    const ints = Float32Array.from({ length: 5 * 6 }, (_, i) => (i % 7) - 3);
    const src = tensor(ints, [5, 6]).view([2, 6], { offset: 6, strides: [12, 1] }); // rows 1 and 3
    const rows13 = [...ints.subarray(6, 12), ...ints.subarray(18, 24)];
    for (const dtype of ['bf16', 'f16', 'i32', 'i64'] as const) {
      const buf = zeros([3, 2, 6], { dtype });
      buf.view([2, 6], { strides: [24, 1] }).copyFrom(src); // rows 0 and 4 of buf's six
      const got = buf.toFloat32Array();
      expect([...got.subarray(0, 6), ...got.subarray(24, 30)], dtype).toEqual(rows13);
      expect(got.subarray(6, 24).every((v) => v === 0)).toBe(true);
    }
    const mask = empty([5, 6], { dtype: 'u8' });
    mask.copyFrom(tensor(ints, [5, 6]));
    expect([...mask.toFloat32Array()]).toEqual([...ints].map((v) => (v !== 0 ? 1 : 0)));
    const halves = tensor(uniform(64, 4), [8, 8]).to('cpu', 'bf16').view([8, 4], { strides: [8, 2] });
    expect(halves.to('cpu', 'f32').toFloat32Array()).toEqual(halves.toFloat32Array());
  });
});

describe('fill', () => {
  it('fills strided views of every dtype and leaves the rest alone', () => {
    for (const dtype of ['f32', 'bf16', 'f16', 'i32', 'i64', 'u8'] as const) {
      const base = zeros([4, 5, 6], { dtype });
      const view = base.view([4, 3, 2], { offset: 1, strides: [30, 12, 2] });
      binding().fill(view.native, 3);
      const got = base.toFloat32Array();
      const expected = new Float32Array(4 * 5 * 6);
      for (let i = 0; i < 4; i++) for (let j = 0; j < 3; j++) for (let k = 0; k < 2; k++) expected[1 + i * 30 + j * 12 + k * 2] = dtype === 'u8' ? 1 : 3;
      expect(got, dtype).toEqual(expected);
    }
    const big = empty([300_001]);
    binding().fill(big.native, -1.5);
    expect(big.toFloat32Array().every((v) => v === -1.5)).toBe(true);
  });
});

describe('layout op errors', () => {
  it('rejects bad shapes, patches, dtypes and disposed tensors', () => {
    const x = zeros([1, 2, 2, 4, 4]);
    expect(() => ops.patchify(zeros([2, 4, 4]), [1, 2, 2])).toThrow(RangeError);
    expect(() => ops.patchify(x, [1, 0, 2])).toThrow(RangeError);
    expect(() => ops.patchify(x, [1, 2] as never)).toThrow(TypeError);
    expect(() => ops.patchify(x, [1, 2, 2], { out: zeros([1, 4, 9]) })).toThrow(RangeError);
    expect(() => ops.unpatchify(zeros([1, 4, 7]), [1, 2, 2], [1, 2, 2, 4, 4])).toThrow(RangeError);
    expect(() => ops.unpatchify(zeros([1, 5, 8]), [1, 2, 2], [1, 2, 2, 4, 4])).toThrow(RangeError);
    expect(() => ops.patchify(zeros([1, 2, 2, 4, 4], { dtype: 'i32' }), [1, 2, 2])).toThrow(TypeError);
    for (const [what, fn] of [
      ['f16 x', () => ops.patchify(zeros([1, 2, 2, 4, 4], { dtype: 'f16' }), [1, 2, 2])],
      ['f16 out', () => ops.unpatchify(zeros([1, 4, 8]), [1, 2, 2], [1, 2, 1, 4, 4], { dtype: 'f16' })],
      ['native i32 out', () => binding().patchify(x.native, [1, 2, 2], zeros([1, 4, 8], { dtype: 'i32' }).native)],
      ['native f16 x', () => binding().unpatchify(zeros([1, 4, 8], { dtype: 'f16' }).native, [1, 2, 2], zeros([1, 2, 1, 4, 4]).native)],
    ] as const) {
      expect(fn, what).toThrow(TypeError);
      expect(fn, what).toThrow(expect.objectContaining({ code: 'DC_ERR_DTYPE' }));
    }
    const gone = zeros([1, 2, 2, 4, 4]);
    gone.dispose();
    expect(() => ops.patchify(gone, [1, 2, 2])).toThrow(TypeError);
    expect(() => zeros([2, 3]).copyFrom(zeros([3, 2]))).toThrow(RangeError);
  });
});
