import { binding } from '../native/loader.js';
import { empty, type DType, type Tensor } from '../tensor.js';
import { expectDtype, expectDtypeValue, expectInteger, expectNumber, expectRank, expectSameDevice, expectShape, expectTensor, optionalTensor } from './check.js';
import { defineOp, into } from './define.js';
import { shapeError } from '../util/errors.js';

export interface AttentionOptions {
  /** Default head_dim^-0.5. */
  scale?: number;
  /** Query i sees key j iff j <= i + (Nk_total - Nq): bottom-right aligned. */
  causal?: boolean;
  /** [B, Nk_total], non-zero = may attend (any subset of keys). */
  keyMask?: Tensor;
  /**
   * Keys/values read before k/v without concatenation: [B, H, capacity, D] each, entry j at slot
   * (start + j) % capacity for j < length (a ring buffer such as the KV cache's).
   */
  prefix?: { k: Tensor; v: Tensor; start?: number; length?: number };
  /** Rotary embedding on the fly: query i at position qPos0 + i, key j (prefix first) at kPos0 + j. */
  rope?: { freqs: Tensor; qPos0?: number; kPos0?: number };
  out?: Tensor;
  /** dtype of the new `out` (default q's); on the CPU 'f32' or 'bf16'. */
  dtype?: DType;
}

/**
 * softmax(scale · q kᵀ + masks) v in one pass; q [B, H, Nq, D], k/v [B, H, Nk, D], any strides.
 * q, k, v (and the prefix) share one dtype: f32, or bf16 on the CPU (widened exactly, fp32
 * softmax and sums); out is f32 or bf16 on the CPU, q's dtype elsewhere.
 */
export const attention = defineOp('attention', (q: Tensor, k: Tensor, v: Tensor, options: AttentionOptions = {}) => {
  expectTensor(q, 'q');
  expectTensor(k, 'k');
  expectTensor(v, 'v');
  expectRank(q, 'q', 4, '[B, heads, N, head_dim]');
  const [B, H, Nq, D] = q.shape as [number, number, number, number];
  if (D < 1 || D > 256) throw shapeError(`q: head_dim must be in [1, 256], got ${D}`);
  expectShape(k, 'k', [B, H, null, D]);
  const Nk = k.shape[2]!;
  expectShape(v, 'v', [B, H, Nk, D]);
  if (q.device === 'cpu') expectDtype(q, 'q', 'f32', 'bf16');
  for (const [t, n] of [[k, 'k'], [v, 'v']] as const) {
    expectDtype(t, n, q.dtype);
    expectSameDevice(q, 'q', t, n);
  }
  const prefix = options.prefix;
  let prefixLen = 0;
  if (prefix) {
    expectTensor(prefix.k, 'prefix.k');
    expectTensor(prefix.v, 'prefix.v');
    expectShape(prefix.k, 'prefix.k', [B, H, null, D]);
    expectShape(prefix.v, 'prefix.v', [B, H, prefix.k.shape[2]!, D]);
    expectDtype(prefix.k, 'prefix.k', q.dtype);
    expectDtype(prefix.v, 'prefix.v', q.dtype);
    prefixLen = expectInteger(prefix.length, 'prefix.length', prefix.k.shape[2]!);
  }
  const keyMask = optionalTensor(options.keyMask, 'keyMask');
  if (keyMask) {
    expectShape(keyMask, 'keyMask', [B, prefixLen + Nk]);
    expectDtype(keyMask, 'keyMask', 'u8', 'i32', 'i64', 'f32');
  }
  const scale = expectNumber(options.scale, 'scale', 0);
  if (options.causal && Nq > prefixLen + Nk) {
    throw shapeError(`causal attention needs at least as many keys (${prefixLen + Nk}) as queries (${Nq})`);
  }
  const rope = options.rope;
  if (rope) {
    expectTensor(rope.freqs, 'rope.freqs');
    expectShape(rope.freqs, 'rope.freqs', [D / 2]);
  }
  const given = optionalTensor(options.out, 'out');
  const outDtype = given?.dtype ?? options.dtype ?? q.dtype;
  if (q.device === 'cpu') expectDtypeValue(outDtype, 'out', 'f32', 'bf16');
  else expectDtypeValue(outDtype, 'out', q.dtype);
  const out = given ?? empty([B, H, Nq, D], { dtype: outDtype, device: q.device });
  expectShape(out, 'out', [B, H, Nq, D]);
  return into(out, (mode) =>
    binding().attention(
      q.native,
      k.native,
      v.native,
      out.native,
      {
        scale,
        causal: options.causal === true,
        keyMask: keyMask?.native,
        prefixK: prefix?.k.native,
        prefixV: prefix?.v.native,
        prefixStart: prefix ? expectInteger(prefix.start, 'prefix.start', 0) : 0,
        prefixLen,
        ropeFreqs: rope?.freqs.native,
        qPos0: rope ? expectInteger(rope.qPos0, 'rope.qPos0', 0) : 0,
        kPos0: rope ? expectInteger(rope.kPos0, 'rope.kPos0', 0) : 0,
      },
      mode as never,
    ),
  );
});
