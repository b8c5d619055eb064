// Fused attention against the golden vectors and against a naive double-precision reference, on
// every kernel variant this CPU can run.
//
// Tolerances: golden vectors use the manifest's (atol 1e-5, rtol 1e-5). The double reference is
// met within atol 2e-5 + rtol 1e-5: outputs are convex combinations of values in [-1, 1], and the
// float32 scores carry an absolute error of about 1e-6 per unit of score (largest observed
// difference 5e-6, on the peaky-scores case). With bf16 q/k/v the reference takes the bf16
// values, which the kernels widen exactly, so the same bound holds; a bf16 out adds its rounding,
// at most 2⁻⁸ of the value (8 significant bits, nearest). On AMX, bf16 attention over at least
// 32 queries and 64 visible keys multiplies on tiles: rotated q and k are rounded to bf16 (the reference rounds them
// too) and the softmax weights p are rounded to bf16 before they meet v, while their sum is
// taken unrounded: |Σ (p̂ − p) v| / Σ p ≤ 2⁻⁸ · max |v| = 2⁻⁸ more absolute error.
import { afterAll, describe, expect, it } from 'vitest';

import { ops, runtime, tensor, type DType, type Tensor } from '../../lib/index.js';
import type { Isa } from '../../lib/runtime.js';
import { compare, goldenCase, openGolden } from '../helpers/golden.js';
import { availableIsas, bf16Round as bf16 } from './isa-cases.js';

const TOL = { atol: 2e-5, rtol: 1e-5 };
const TOL_BF16_OUT = { atol: 2e-5, rtol: 1e-5 + 2 ** -8 };
const AMX_MIN_QUERIES = 32;
const AMX_MIN_KEYS = 64;

/** The visible keys of the busiest batch item. */
function visibleKeys(c: Case): number {
  const keys = (c.prefix?.len ?? 0) + c.Nk;
  if (!c.mask) return keys;
  let most = 0;
  for (let b = 0; b < c.B; b++) {
    let n = 0;
    for (let j = 0; j < keys; j++) if (c.mask.visible(b, j)) n++;
    most = Math.max(most, n);
  }
  return most;
}
const initialIsa = runtime.isa().active;
const runnableIsas = availableIsas();

afterAll(() => runtime.setIsa(initialIsa));

function withIsa(isa: Isa, fn: () => void): void {
  runtime.setIsa(isa);
  try {
    fn();
  } finally {
    runtime.setIsa(initialIsa);
  }
}

/** Deterministic values in [-amp, amp]. */
function random(n: number, seed: number, amp = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * amp;
  }
  return out;
}

type MaskDtype = 'u8' | 'i32' | 'i64' | 'f32';

interface Case {
  name: string;
  B: number;
  H: number;
  Nq: number;
  Nk: number;
  D: number;
  scale?: number;
  causal?: boolean;
  /** visible(b, j) over the P + Nk keys */
  mask?: { dtype: MaskDtype; visible: (b: number, j: number) => boolean };
  prefix?: { cap: number; start: number; len: number };
  rope?: { qPos0: number; kPos0: number };
  /** q/k/v (and out) as [B, N, H, D] slices of interleaved buffers instead of dense [B, H, N, D] */
  packed?: boolean;
  /** score amplitude: larger values make the softmax peaky */
  amp?: number;
}

/** Writes logical [B, H, N, D] values into a [B, N, groups, H, D] buffer at group `slot`. */
function interleave(values: Float32Array, B: number, H: number, N: number, D: number, groups: number, slot: number, storage: Float32Array): void {
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let n = 0; n < N; n++)
        for (let d = 0; d < D; d++) storage[(((b * N + n) * groups + slot) * H + h) * D + d] = values[((b * H + h) * N + n) * D + d]!;
}

/** The [B, H, N, D] view of group `slot` of a [B, N, groups, H, D] buffer. */
function groupView(buf: Tensor, B: number, H: number, N: number, D: number, groups: number, slot: number): Tensor {
  return buf.view([B, H, N, D], { offset: slot * H * D, strides: [N * groups * H * D, D, groups * H * D, 1] });
}



function maskTensor(c: Case, keys: number): Tensor {
  const { dtype, visible } = c.mask!;
  const n = c.B * keys;
  const on = (i: number) => visible(Math.floor(i / keys), i % keys);
  switch (dtype) {
    case 'u8':
      return tensor(Uint8Array.from({ length: n }, (_, i) => (on(i) ? 1 : 0)), [c.B, keys]);
    case 'i32':
      return tensor(Int32Array.from({ length: n }, (_, i) => (on(i) ? -3 : 0)), [c.B, keys]);
    case 'i64':
      return tensor(BigInt64Array.from({ length: n }, (_, i) => (on(i) ? 1n << 40n : 0n)), [c.B, keys]);
    case 'f32':
      return tensor(Float32Array.from({ length: n }, (_, i) => (on(i) ? 0.5 : 0)), [c.B, keys]);
  }
}

function ropeFreqs(D: number): Float32Array {
  return Float32Array.from({ length: D / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / D));
}

/** Interleaved rotary embedding of one row, angles as float32 like the kernel. */
function rotate(x: Float64Array, freqs: Float32Array, pos: number): Float64Array {
  const out = new Float64Array(x.length);
  for (let i = 0; i < freqs.length; i++) {
    const angle = Math.fround(pos * freqs[i]!);
    const c = Math.cos(angle);
    const s = Math.sin(angle);
    out[2 * i] = x[2 * i]! * c - x[2 * i + 1]! * s;
    out[2 * i + 1] = x[2 * i + 1]! * c + x[2 * i]! * s;
  }
  return out;
}

interface Inputs {
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** live prefix entries in order, [B, H, P, D] */
  pk: Float32Array;
  pv: Float32Array;
}

/**
 * softmax(scale · q kᵀ + masks) v in double precision over [prefix ; current] keys; with
 * `roundRotated`, rotated q and k rows are rounded to bf16 first (the AMX kernel's operands).
 */
function reference(c: Case, x: Inputs, roundRotated = false): Float32Array {
  const { B, H, Nq, Nk, D } = c;
  const P = c.prefix?.len ?? 0;
  const keys = P + Nk;
  const scale = c.scale ?? 1 / Math.sqrt(D);
  const freqs = c.rope ? ropeFreqs(D) : undefined;
  const out = new Float32Array(B * H * Nq * D);
  const row = (src: Float32Array, n: number, N: number, b: number, h: number) =>
    Float64Array.from(src.subarray(((b * H + h) * N + n) * D, ((b * H + h) * N + n + 1) * D));
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const kr: Float64Array[] = [];
      const vr: Float64Array[] = [];
      for (let j = 0; j < keys; j++) {
        const k = j < P ? row(x.pk, j, P, b, h) : row(x.k, j - P, Nk, b, h);
        const rotated = freqs ? rotate(k, freqs, c.rope!.kPos0 + j) : k;
        kr.push(freqs && roundRotated ? rotated.map(bf16) : rotated);
        vr.push(j < P ? row(x.pv, j, P, b, h) : row(x.v, j - P, Nk, b, h));
      }
      for (let i = 0; i < Nq; i++) {
        let q: Float64Array = row(x.q, i, Nq, b, h);
        if (freqs) q = rotate(q, freqs, c.rope!.qPos0 + i);
        if (freqs && roundRotated) q = q.map(bf16);
        const s = new Float64Array(keys).fill(-Infinity);
        for (let j = 0; j < keys; j++) {
          if (c.causal && j > i + keys - Nq) continue;
          if (c.mask && !c.mask.visible(b, j)) continue;
          let dot = 0;
          for (let d = 0; d < D; d++) dot += q[d]! * kr[j]![d]!;
          s[j] = dot * scale;
        }
        const m = Math.max(...s);
        if (m === -Infinity) continue;
        let sum = 0;
        for (let j = 0; j < keys; j++) sum += (s[j] = Math.exp(s[j]! - m));
        const o = out.subarray(((b * H + h) * Nq + i) * D);
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j < keys; j++) acc += s[j]! * vr[j]![d]!;
          o[d] = acc / sum;
        }
      }
    }
  return out;
}

function inputsFor(c: Case, seed: number): Inputs {
  const { B, H, Nq, Nk, D } = c;
  const P = c.prefix?.len ?? 0;
  const amp = c.amp ?? 1;
  return {
    q: random(B * H * Nq * D, seed, amp),
    k: random(B * H * Nk * D, seed + 1, amp),
    v: random(B * H * Nk * D, seed + 2),
    pk: random(B * H * P * D, seed + 3, amp),
    pv: random(B * H * P * D, seed + 4),
  };
}

/** Ring storage [B, H, cap, D]: live entry j at slot (start + j) % cap, NaN in the dead slots. */
function ring(live: Float32Array, c: Case, dtype: DType): Tensor {
  const { cap, start, len } = c.prefix!;
  const { B, H, D } = c;
  const data = new Float32Array(B * H * cap * D).fill(NaN);
  for (let bh = 0; bh < B * H; bh++)
    for (let j = 0; j < len; j++) {
      const slot = (start + j) % cap;
      data.set(live.subarray((bh * len + j) * D, (bh * len + j + 1) * D), (bh * cap + slot) * D);
    }
  return tensor(data, [B, H, cap, D], { dtype });
}

/** The op on x with q/k/v (and prefix) of `dtype` and out of `outDtype`, read back as [B, H, Nq, D]. */
function run(c: Case, x: Inputs, dtype: DType = 'f32', outDtype: DType = dtype): Float32Array {
  const { B, H, Nq, Nk, D } = c;
  let q: Tensor, k: Tensor, v: Tensor, out: Tensor | undefined;
  let outBuffer: Tensor | undefined;
  if (c.packed) {
    // q, k, v from one packed qkv [B, N, 3, H, D] buffer when Nq == Nk, else q [B, Nq, 1, H, D]
    // and kv [B, Nk, 2, H, D].
    const buffer = (parts: Float32Array[], N: number) => {
      const storage = new Float32Array(B * N * parts.length * H * D);
      parts.forEach((values, slot) => interleave(values, B, H, N, D, parts.length, slot, storage));
      const buf = tensor(storage, [storage.length], { dtype });
      return parts.map((_, slot) => groupView(buf, B, H, N, D, parts.length, slot));
    };
    if (Nq === Nk) {
      [q, k, v] = buffer([x.q, x.k, x.v], Nq) as [Tensor, Tensor, Tensor];
    } else {
      [q] = buffer([x.q], Nq) as [Tensor];
      [k, v] = buffer([x.k, x.v], Nk) as [Tensor, Tensor];
    }
    outBuffer = tensor(new Float32Array(B * Nq * H * D).fill(NaN), [B * Nq * H * D], { dtype: outDtype });
    out = outBuffer.view([B, H, Nq, D], { strides: [Nq * H * D, D, H * D, 1] });
  } else {
    q = tensor(x.q, [B, H, Nq, D], { dtype });
    k = tensor(x.k, [B, H, Nk, D], { dtype });
    v = tensor(x.v, [B, H, Nk, D], { dtype });
  }
  const keys = (c.prefix?.len ?? 0) + Nk;
  const result = ops.attention(q, k, v, {
    scale: c.scale,
    causal: c.causal,
    keyMask: c.mask ? maskTensor(c, keys) : undefined,
    prefix: c.prefix ? { k: ring(x.pk, c, dtype), v: ring(x.pv, c, dtype), start: c.prefix.start, length: c.prefix.len } : undefined,
    rope: c.rope ? { freqs: tensor(ropeFreqs(D), [D / 2]), qPos0: c.rope.qPos0, kPos0: c.rope.kPos0 } : undefined,
    out,
    dtype: outDtype,
  });
  expect(result.dtype).toBe(outDtype);
  if (!outBuffer) return result.toFloat32Array();
  // The op wrote through the strided view: read the logical [B, H, Nq, D] back out of the buffer.
  const storage = outBuffer.toFloat32Array();
  const dense = new Float32Array(B * H * Nq * D);
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++)
      for (let n = 0; n < Nq; n++)
        for (let d = 0; d < D; d++) dense[((b * H + h) * Nq + n) * D + d] = storage[((b * Nq + n) * H + h) * D + d]!;
  return dense;
}

const holes = (b: number, j: number) => (j * 7 + b * 3) % 5 !== 0 && j % 11 !== 4;

const CASES: Case[] = [
  { name: 'single query and key, head_dim 1', B: 1, H: 1, Nq: 1, Nk: 1, D: 1 },
  { name: 'Nq != Nk, primes', B: 2, H: 3, Nq: 7, Nk: 13, D: 32 },
  { name: 'one query, many keys', B: 1, H: 2, Nq: 1, Nk: 257, D: 64 },
  { name: 'head_dim 72, primes', B: 1, H: 2, Nq: 37, Nk: 53, D: 72 },
  { name: 'head_dim 128, several key blocks', B: 1, H: 2, Nq: 70, Nk: 211, D: 128 },
  { name: 'head_dim 256', B: 1, H: 1, Nq: 19, Nk: 23, D: 256 },
  { name: 'odd head_dim 37', B: 2, H: 1, Nq: 9, Nk: 31, D: 37 },
  { name: 'peaky scores, custom scale', B: 1, H: 2, Nq: 33, Nk: 100, D: 64, scale: 0.9, amp: 3 },
  { name: 'q/k/v/out sliced from packed qkv', B: 2, H: 3, Nq: 41, Nk: 41, D: 72, packed: true },
  { name: 'q and kv from separate packed buffers', B: 2, H: 2, Nq: 20, Nk: 35, D: 64, packed: true },
  { name: 'causal square', B: 2, H: 2, Nq: 200, Nk: 200, D: 64, causal: true },
  // Over 1 MiB of bf16 keys and values per (batch, head): on AMX, pairs of query blocks take each
  // key block in turn (a partial second pair, a trailing key block of 36).
  { name: 'keys past L2, key mask with holes', B: 1, H: 2, Nq: 50, Nk: 3300, D: 72, mask: { dtype: 'u8', visible: holes } },
  { name: 'keys past L2, causal, fewer queries than keys', B: 1, H: 1, Nq: 70, Nk: 3172, D: 72, causal: true },
  { name: 'causal, fewer queries than keys', B: 1, H: 3, Nq: 17, Nk: 130, D: 32, causal: true },
  { name: 'causal one query', B: 1, H: 1, Nq: 1, Nk: 9, D: 72, causal: true },
  { name: 'caption key mask with holes (u8)', B: 2, H: 2, Nq: 77, Nk: 120, D: 72, mask: { dtype: 'u8', visible: holes } },
  { name: 'key mask i32', B: 3, H: 1, Nq: 16, Nk: 29, D: 32, mask: { dtype: 'i32', visible: holes } },
  { name: 'key mask i64', B: 2, H: 2, Nq: 5, Nk: 300, D: 64, mask: { dtype: 'i64', visible: holes } },
  { name: 'key mask f32 with causal', B: 2, H: 2, Nq: 40, Nk: 40, D: 72, causal: true, mask: { dtype: 'f32', visible: holes } },
  {
    name: 'fully masked rows give zeros',
    B: 2,
    H: 2,
    Nq: 35,
    Nk: 50,
    D: 64,
    mask: { dtype: 'u8', visible: (b, j) => b === 0 && j % 3 === 0 },
  },
  {
    name: 'only the first 96 keys visible: trailing blocks are empty',
    B: 1,
    H: 2,
    Nq: 20,
    Nk: 300,
    D: 32,
    mask: { dtype: 'u8', visible: (_b, j) => j < 96 },
  },
  { name: 'causal with a prefix', B: 2, H: 2, Nq: 4, Nk: 5, D: 32, causal: true, prefix: { cap: 10, start: 0, len: 6 } },
  { name: 'ring prefix wrapping around', B: 2, H: 2, Nq: 9, Nk: 7, D: 72, prefix: { cap: 12, start: 8, len: 11 } },
  {
    name: 'causal ring prefix with key mask',
    B: 2,
    H: 1,
    Nq: 6,
    Nk: 6,
    D: 64,
    causal: true,
    prefix: { cap: 8, start: 5, len: 8 },
    mask: { dtype: 'i32', visible: holes },
  },
  { name: 'empty current segment after a prefix', B: 1, H: 2, Nq: 3, Nk: 0, D: 32, prefix: { cap: 5, start: 2, len: 4 } },
  { name: 'rope with offsets', B: 2, H: 2, Nq: 13, Nk: 13, D: 72, rope: { qPos0: 3, kPos0: 1 } },
  { name: 'rope, causal, ring prefix (KV cache step)', B: 2, H: 3, Nq: 4, Nk: 4, D: 64, causal: true, prefix: { cap: 6, start: 4, len: 5 }, rope: { qPos0: 5, kPos0: 0 } },
  { name: 'rope over several key blocks', B: 1, H: 1, Nq: 40, Nk: 150, D: 128, rope: { qPos0: 100, kPos0: 7 } },
  { name: 'temporal: T=8, many sequences, rope', B: 24, H: 2, Nq: 8, Nk: 8, D: 72, rope: { qPos0: 0, kPos0: 0 } },
  { name: 'temporal: T=16 causal', B: 10, H: 3, Nq: 16, Nk: 16, D: 64, causal: true, rope: { qPos0: 0, kPos0: 0 } },
  { name: 'temporal: T=17 spills into a second lane vector', B: 6, H: 2, Nq: 17, Nk: 17, D: 72, packed: true },
  // 26 MB of rows: more than the kernel keeps to the caches, so each sequence requests a later one's rows.
  {
    name: 'temporal streaming from memory: 2048 sequences, ring prefix, causal, rope, key mask',
    B: 512,
    H: 4,
    Nq: 8,
    Nk: 8,
    D: 72,
    packed: true,
    causal: true,
    prefix: { cap: 8, start: 5, len: 6 },
    rope: { qPos0: 6, kPos0: 0 },
    mask: { dtype: 'u8', visible: holes },
  },
  // 9 MB in sequences of two query tiles each: the whole sequence is requested ahead of its first tile.
  { name: 'streaming sequences of two query tiles, causal, rope', B: 96, H: 2, Nq: 40, Nk: 40, D: 72, packed: true, causal: true, rope: { qPos0: 0, kPos0: 0 } },
];

describe('attention: golden vectors', () => {
  const golden = goldenCase('attention');
  const file = openGolden(golden);
  const subcases = golden.subcases as { name: string; causal: boolean; key_mask: boolean; scale: number }[];
  afterAll(() => file.close());
  for (const isa of runnableIsas) {
    it(`${isa}: ${subcases.length} cases within atol ${golden.tolerance.atol}, rtol ${golden.tolerance.rtol}`, () => {
      withIsa(isa, () => {
        for (const s of subcases) {
          const read = (n: string) => {
            const e = file.entry(`${s.name}.${n}`);
            return tensor(file.float32(`${s.name}.${n}`), e.shape);
          };
          const keyMask = s.key_mask ? tensor(file.raw(`${s.name}.key_mask`) as Uint8Array, file.entry(`${s.name}.key_mask`).shape, { dtype: 'u8' }) : undefined;
          const out = ops.attention(read('q'), read('k'), read('v'), { scale: s.scale, causal: s.causal, keyMask });
          const r = compare(out.toFloat32Array(), file.float32(`${s.name}.out`), golden.tolerance);
          expect(r.ok, `${s.name}: max |diff| ${r.maxAbs}`).toBe(true);
        }
      });
    });
  }
});

describe('attention: against a double-precision reference', () => {
  for (const [n, c] of CASES.entries()) {
    it(c.name, () => {
      const x = inputsFor(c, 17 + 31 * n);
      const want = reference(c, x);
      for (const isa of runnableIsas) {
        withIsa(isa, () => {
          const got = run(c, x);
          const r = compare(got, want, TOL);
          expect(r.ok, `${isa}: max |diff| ${r.maxAbs}`).toBe(true);
        });
      }
    });
  }

  // The same cases with bf16 q/k/v (their bf16 values in the reference), out in both dtypes.
  for (const [n, c] of CASES.entries()) {
    it(`bf16: ${c.name}`, () => {
      const f32 = inputsFor(c, 17 + 31 * n);
      const x: Inputs = { q: f32.q.map(bf16), k: f32.k.map(bf16), v: f32.v.map(bf16), pk: f32.pk.map(bf16), pv: f32.pv.map(bf16) };
      const want = reference(c, x);
      const tiles = c.Nq >= AMX_MIN_QUERIES && visibleKeys(c) >= AMX_MIN_KEYS;
      const wantTiles = tiles && c.rope ? reference(c, x, true) : want;
      for (const isa of runnableIsas) {
        withIsa(isa, () => {
          const amx = isa === 'amx' && tiles;
          for (const outDtype of ['f32', 'bf16'] as const) {
            const tol = { ...(outDtype === 'f32' ? TOL : TOL_BF16_OUT) };
            if (amx) tol.atol += 2 ** -8;
            const r = compare(run(c, x, 'bf16', outDtype), amx ? wantTiles : want, tol);
            expect(r.ok, `${isa}, out ${outDtype}: max |diff| ${r.maxAbs}`).toBe(true);
          }
        });
      }
    });
  }

  it('fully masked query rows are exactly zero', () => {
    const c = CASES.find((x) => x.name === 'fully masked rows give zeros')!;
    const x = inputsFor(c, 5);
    for (const isa of runnableIsas) {
      withIsa(isa, () => {
        const out = run(c, x);
        const batch1 = out.subarray(c.H * c.Nq * c.D);
        expect(batch1.every((e) => e === 0)).toBe(true);
      });
    }
  });
});

describe('attention: bad input', () => {
  const q = tensor(random(2 * 2 * 4 * 8, 1), [2, 2, 4, 8]);
  const k = tensor(random(2 * 2 * 6 * 8, 2), [2, 2, 6, 8]);
  const v = tensor(random(2 * 2 * 6 * 8, 3), [2, 2, 6, 8]);

  it('rejects mismatched shapes', () => {
    expect(() => ops.attention(q, tensor(random(2 * 2 * 6 * 4, 2), [2, 2, 6, 4]), v)).toThrow(RangeError);
    expect(() => ops.attention(q, k, tensor(random(2 * 2 * 5 * 8, 3), [2, 2, 5, 8]))).toThrow(RangeError);
    expect(() => ops.attention(q, tensor(random(2 * 3 * 6 * 8, 2), [2, 3, 6, 8]), v)).toThrow(RangeError);
    expect(() => ops.attention(q.view([2, 2, 32]), k, v)).toThrow(RangeError);
    expect(() => ops.attention(q, k, v, { out: tensor(new Float32Array(2 * 2 * 4 * 6), [2, 2, 4, 6]) })).toThrow(RangeError);
  });

  it('rejects head_dim 300', () => {
    const big = tensor(new Float32Array(300), [1, 1, 1, 300]);
    expect(() => ops.attention(big, big, big)).toThrow(RangeError);
  });

  it('rejects mismatched dtypes', () => {
    expect(() => ops.attention(q, k.to('cpu', 'bf16'), v)).toThrow(TypeError);
    expect(() => ops.attention(q, k, v, { dtype: 'f16' })).toThrow(TypeError);
    expect(() => ops.attention(q, k, v, { keyMask: tensor(new Float32Array(12), [2, 6]).to('cpu', 'bf16') })).toThrow(TypeError);
  });

  it('rejects bad masks, causal shapes, rope and prefix arguments', () => {
    expect(() => ops.attention(q, k, v, { keyMask: tensor(new Uint8Array(10), [2, 5]) })).toThrow(RangeError);
    expect(() => ops.attention(k, q, q, { causal: true })).toThrow(RangeError);
    expect(() => ops.attention(q, k, v, { rope: { freqs: tensor(new Float32Array(3), [3]) } })).toThrow(RangeError);
    const ringK = tensor(new Float32Array(2 * 2 * 3 * 8), [2, 2, 3, 8]);
    expect(() => ops.attention(q, k, v, { prefix: { k: ringK, v: ringK, length: 4 } })).toThrow(RangeError);
    expect(() => ops.attention(q, k, v, { prefix: { k: ringK, v: ringK, start: 3, length: 2 } })).toThrow(RangeError);
  });
});
