// Attention of the video DiT blocks over a packed qkv buffer [B·T·S, 3C] whose rows are tokens in
// (batch, frame, token) order: the views below address q/k/v inside it, so no layout is copied.
// Spatial attention runs over the S tokens of each frame, temporal attention over the T frames of
// each token position, cross-attention from every token to the caption.
import { ops } from '../../ops/index.js';
import { empty, type DType, type Tensor } from '../../tensor.js';
import { Scope } from '../../util/scope.js';
import type { Linear } from './linear.js';

export interface Grid {
  B: number;
  T: number;
  S: number;
  C: number;
  heads: number;
}

/** Keys/values read before the block's own in temporal attention (a KV cache's ring). */
export interface TemporalPrefix {
  /** [B·S, heads, capacity, D] ring storage */
  k: Tensor;
  v: Tensor;
  start: number;
  length: number;
}

/** Hooks for causal temporal attention over a KV cache (Ca2-VDM). */
export interface TemporalKvHooks {
  /** Keys/values to read before the current frames at temporal layer `layer`. */
  prefix?(layer: number): TemporalPrefix | undefined;
  /** The current frames' k/v at `layer` as attention reads them before RoPE, per batch item `b` ([S, heads, T, D] views). */
  onKv?(layer: number, b: number, k: Tensor, v: Tensor): void;
}

/** Rotary positions: query i at qPos0 + i, key j (cached keys first) at kPos0 + j. */
export interface RotaryPositions {
  freqs: Tensor;
  qPos0: number;
  kPos0: number;
}

export interface TemporalOptions {
  causal: boolean;
  rope?: RotaryPositions;
  prefix?: TemporalPrefix;
  /** Receives batch item b's k and v of the current frames ([S, heads, T, D] views). */
  onKv?: (b: number, k: Tensor, v: Tensor) => void;
  /** The batch items of the prefix and of onKv that x's items are (default: the same indices). */
  rows?: readonly number[];
}

/** q, k or v (j = 0, 1, 2) of frames [f0, f0 + n) as [n, heads, S, D]; frame f = b·T + t counts across the batch. */
function frameView(scope: Scope, qkv: Tensor, g: Grid, j: number, f0: number, n: number): Tensor {
  const { S, C, heads } = g;
  return scope.add(qkv.view([n, heads, S, C / heads], { offset: f0 * S * 3 * C + j * C, strides: [S * 3 * C, C / heads, 3 * C, 1] }));
}

function frameOut(scope: Scope, out: Tensor, g: Grid, f0: number, n: number): Tensor {
  const { S, C, heads } = g;
  return scope.add(out.view([n, heads, S, C / heads], { offset: f0 * S * C, strides: [S * C, C / heads, C, 1] }));
}

/** Spatial self-attention of frames [f0, f0 + n) (default: every frame of the batch) into out [B·T·S, C]. */
export function frameAttention(qkv: Tensor, out: Tensor, g: Grid, f0 = 0, n = g.B * g.T): void {
  using scope = new Scope();
  ops.attention(frameView(scope, qkv, g, 0, f0, n), frameView(scope, qkv, g, 1, f0, n), frameView(scope, qkv, g, 2, f0, n), {
    out: frameOut(scope, out, g, f0, n),
  });
}

/** The queries of frames [f0, f0 + n) against other keys/values k, v ([n, heads, Nk, D] views) into out. */
export function frameAttentionTo(qkv: Tensor, out: Tensor, g: Grid, f0: number, n: number, k: Tensor, v: Tensor): void {
  using scope = new Scope();
  ops.attention(frameView(scope, qkv, g, 0, f0, n), k, v, { out: frameOut(scope, out, g, f0, n) });
}

/** Temporal self-attention (per batch item, over the frames of each token position) into out [B·T·S, C]. */
export function temporalAttention(qkv: Tensor, out: Tensor, g: Grid, o: TemporalOptions): void {
  using scope = new Scope();
  const { B, T, S, C, heads } = g;
  const D = C / heads;
  const N = T * S;
  const prefix = o.prefix;
  const cap = prefix ? prefix.k.shape[2]! : 0;
  for (let b = 0; b < B; b++) {
    const item = o.rows ? o.rows[b]! : b;
    const view = (j: number) => scope.add(qkv.view([S, heads, T, D], { offset: b * N * 3 * C + j * C, strides: [3 * C, D, S * 3 * C, 1] }));
    const k = view(1);
    const v = view(2);
    o.onKv?.(item, k, v);
    const res = scope.add(out.view([S, heads, T, D], { offset: b * N * C, strides: [C, D, S * C, 1] }));
    const prefixView = (t: Tensor) => scope.add(t.view([S, heads, cap, D], { offset: item * S * heads * cap * D }));
    ops.attention(view(0), k, v, {
      out: res,
      causal: o.causal,
      ...(o.rope ? { rope: o.rope } : {}),
      ...(prefix && prefix.length > 0
        ? { prefix: { k: prefixView(prefix.k), v: prefixView(prefix.v), start: prefix.start, length: prefix.length } }
        : {}),
    });
  }
}

/** K/V of the caption for one block: kv [B·L, 2C] and the key mask [B, L]. */
export interface CrossKv {
  kv: Tensor;
  keyMask: Tensor;
  L: number;
}

/**
 * x += proj(attention(q_linear(x), caption K/V)): every token attends to its sample's valid caption
 * tokens, with q and the attention in `dtype` (the weights'). With `keep` the added output is
 * returned too (owned by the caller).
 */
export function crossAttention(x: Tensor, q: Linear, proj: Linear, cross: CrossKv, g: Grid, dtype: DType, keep = false): Tensor | undefined {
  using scope = new Scope();
  const { B, C, heads } = g;
  const D = C / heads;
  const N = x.shape[0]! / B;
  const qx = scope.add(ops.gemm(x, q.weight, { bias: q.bias, dtype }));
  const headsView = (t: Tensor) => scope.add(t.view([B, heads, N, D], { strides: [N * C, D, C, 1] }));
  const { kv, keyMask, L } = cross;
  const kvView = (j: number) => scope.add(kv.view([B, heads, L, D], { offset: j * C, strides: [L * 2 * C, D, 2 * C, 1] }));
  const attn = scope.add(empty([B * N, C], { dtype, device: x.device }));
  ops.attention(headsView(qx), kvView(0), kvView(1), { keyMask, out: headsView(attn) });
  if (!keep) {
    ops.gemm(attn, proj.weight, { bias: proj.bias, residual: x, out: x });
    return undefined;
  }
  const res = ops.gemm(attn, proj.weight, { bias: proj.bias, dtype: x.dtype });
  ops.add(x, res, { out: x });
  return res;
}
