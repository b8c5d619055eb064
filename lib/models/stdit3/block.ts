// One STDiT3 block (spatial or temporal): modulated self-attention, cross-attention to the caption,
// modulated MLP. Tokens are rows of x [B·T·S, C] ordered (batch, frame, row, col); the attention
// views below address q/k/v inside the packed qkv buffer, so no layout is ever copied.
// The residual stream x stays in its own dtype (f32); what feeds a GEMM or an attention (the
// modulated norms, q/k/v, attention outputs, the MLP hidden) takes the dtype of the weights,
// so a bf16 model multiplies bf16 × bf16 with fp32 sums and adds every branch back in fp32.
import { ops } from '../../ops/index.js';
import { empty, type DType, type Tensor } from '../../tensor.js';
import { Scope } from '../../util/scope.js';
import type { BlockWeights } from './weights.js';

export interface Grid {
  B: number;
  T: number;
  S: number;
  C: number;
  heads: number;
}

/** Per-sample (G = B) or per-frame (G = B·T) modulation rows [G, 6, C]: shift, scale, gate (msa), shift, scale, gate (mlp). */
export function modulationRow(mods: Tensor, row: number): Tensor {
  const [G, , C] = mods.shape as [number, number, number];
  return mods.view([G, C], { offset: row * C, strides: [6 * C, 1] });
}

/** K/V of the caption for one block: kv [B·L, 2C] and the key mask [B, L]. */
export interface CrossKv {
  kv: Tensor;
  keyMask: Tensor;
  L: number;
}

/** Keys/values read before the block's own in temporal attention (Ca2-VDM KV cache). */
export interface TemporalPrefix {
  /** [B·S, heads, capacity, D] ring storage */
  k: Tensor;
  v: Tensor;
  start: number;
  length: number;
}

export interface TemporalOptions {
  causal: boolean;
  ropeFreqs: Tensor;
  prefix?: TemporalPrefix;
  /** Receives batch item b's normalised, pre-RoPE k and v of the current frames ([S, heads, T, D] views). */
  onKv?: (b: number, k: Tensor, v: Tensor) => void;
  /** The batch items of the prefix and of onKv that x's items are (default: the same indices). */
  rows?: readonly number[];
}

export interface BlockOutputs {
  /** the gated self-attention residual, when asked for */
  attnRes?: Tensor;
  /** the self-attention output before its gate, when asked for */
  attnOut?: Tensor;
  /** cross-attention + gated MLP residual, when asked for */
  caMlpRes?: Tensor;
  /** the cross-attention output (the residual it adds), when asked for */
  crossRes?: Tensor;
}

/** Branch outputs kept from an earlier step, added instead of computing the branch. */
export interface BlockReuse {
  /** the gated self-attention residual */
  attnRes?: Tensor;
  /** the self-attention output before its gate, gated by this step's gate */
  attnOut?: Tensor;
  /** the cross-attention output */
  crossRes?: Tensor;
}

/** The dtype of the activations that meet the block's weights: the weights' own. */
export function computeDtype(w: BlockWeights): DType {
  return w.qkv.weight.dtype;
}

/** x <- block(x) in place. Outputs asked for in `want` are returned (owned by the caller). */
export function blockForward(
  x: Tensor,
  w: BlockWeights,
  grid: Grid,
  mods: Tensor,
  cross: CrossKv,
  temporal: TemporalOptions | null,
  want: { attnRes?: boolean; attnOut?: boolean; caMlpRes?: boolean; crossRes?: boolean } = {},
  reuse: BlockReuse = {},
): BlockOutputs {
  const { B, T, S, C, heads } = grid;
  const D = C / heads;
  const N = T * S;
  using scope = new Scope();
  const result: BlockOutputs = {};
  const mod = (row: number) => scope.add(modulationRow(mods, row));
  const dtype = computeDtype(w);
  const stream = { dtype: x.dtype }; // branch outputs kept apart from x

  // Self-attention branch.
  const gateMsa = mod(2);
  if (reuse.attnRes) {
    ops.add(x, reuse.attnRes, { out: x });
  } else if (reuse.attnOut || want.attnOut) {
    // The projected output and its gate apart: (out + bias) × gate + x rounds as the fused epilogue does.
    const out = reuse.attnOut ?? ops.gemm(selfAttention(x, w, grid, mods, temporal, scope), w.proj.weight, { bias: w.proj.bias, ...stream });
    const res = ops.mul(out, gateMsa);
    ops.add(x, res, { out: x });
    if (!reuse.attnOut) result.attnOut = out;
    if (want.attnRes) result.attnRes = res;
    else res.dispose();
  } else {
    const attn = selfAttention(x, w, grid, mods, temporal, scope);
    if (want.attnRes) {
      const res = ops.gemm(attn, w.proj.weight, { bias: w.proj.bias, gate: gateMsa, ...stream });
      ops.add(x, res, { out: x });
      result.attnRes = res;
    } else {
      ops.gemm(attn, w.proj.weight, { bias: w.proj.bias, gate: gateMsa, residual: x, out: x });
    }
  }

  // Cross-attention and MLP branch.
  const mid = want.caMlpRes ? scope.add(x.clone()) : null;
  if (reuse.crossRes) {
    ops.add(x, reuse.crossRes, { out: x });
  } else {
    const rows = B * N;
    const q = scope.add(ops.gemm(x, w.crossQ.weight, { bias: w.crossQ.bias, dtype }));
    const headsView = (t: Tensor) => scope.add(t.view([B, heads, N, D], { strides: [N * C, D, C, 1] }));
    const { kv, keyMask, L } = cross;
    const kvView = (j: number) => scope.add(kv.view([B, heads, L, D], { offset: j * C, strides: [L * 2 * C, D, 2 * C, 1] }));
    const crossOut = scope.add(empty([rows, C], { dtype, device: x.device }));
    ops.attention(headsView(q), kvView(0), kvView(1), { keyMask, out: headsView(crossOut) });
    if (want.crossRes) {
      const res = ops.gemm(crossOut, w.crossProj.weight, { bias: w.crossProj.bias, ...stream });
      ops.add(x, res, { out: x });
      result.crossRes = res;
    } else {
      ops.gemm(crossOut, w.crossProj.weight, { bias: w.crossProj.bias, residual: x, out: x });
    }
  }
  const m = scope.add(ops.layerNorm(x, { shift: mod(3), scale: mod(4), dtype }));
  const h = scope.add(ops.gemm(m, w.fc1.weight, { bias: w.fc1.bias, activation: 'gelu-tanh' }));
  ops.gemm(h, w.fc2.weight, { bias: w.fc2.bias, gate: mod(5), residual: x, out: x });
  if (mid) result.caMlpRes = ops.axpby(1, x, -1, mid);
  return result;
}

/** The multi-head self-attention of the block (spatial over each frame, temporal over each token) before its projection, [B·N, C]. */
function selfAttention(x: Tensor, w: BlockWeights, grid: Grid, mods: Tensor, temporal: TemporalOptions | null, scope: Scope): Tensor {
  const { B, T, S, C, heads } = grid;
  const D = C / heads;
  const N = T * S;
  const mod = (row: number) => scope.add(modulationRow(mods, row));
  const dtype = computeDtype(w);
  const a = scope.add(ops.layerNorm(x, { shift: mod(0), scale: mod(1), dtype }));
  const qkv = scope.add(ops.gemm(a, w.qkv.weight, { bias: w.qkv.bias })); // [B·N, 3C]
  const rows = B * N;
  const qn = scope.add(qkv.view([rows, heads, D], { offset: 0, strides: [3 * C, D, 1] }));
  const kn = scope.add(qkv.view([rows, heads, D], { offset: C, strides: [3 * C, D, 1] }));
  ops.rmsNorm(qn, { weight: w.qNorm, out: qn });
  ops.rmsNorm(kn, { weight: w.kNorm, out: kn });
  const attn = scope.add(empty([rows, C], { dtype, device: x.device }));
  if (!temporal) {
    const qkvView = (j: number) => scope.add(qkv.view([B * T, heads, S, D], { offset: j * C, strides: [S * 3 * C, D, 3 * C, 1] }));
    const out = scope.add(attn.view([B * T, heads, S, D], { strides: [S * C, D, C, 1] }));
    ops.attention(qkvView(0), qkvView(1), qkvView(2), { out });
    return attn;
  }
  for (let b = 0; b < B; b++) {
    const item = temporal.rows ? temporal.rows[b]! : b;
    const qkvView = (j: number) =>
      scope.add(qkv.view([S, heads, T, D], { offset: b * N * 3 * C + j * C, strides: [3 * C, D, S * 3 * C, 1] }));
    const k = qkvView(1);
    const v = qkvView(2);
    temporal.onKv?.(item, k, v);
    const out = scope.add(attn.view([S, heads, T, D], { offset: b * N * C, strides: [C, D, S * C, 1] }));
    const prefix = temporal.prefix;
    const cap = prefix ? prefix.k.shape[2]! : 0;
    const prefixView = (t: Tensor) => scope.add(t.view([S, heads, cap, D], { offset: item * S * heads * cap * D }));
    ops.attention(qkvView(0), k, v, {
      out,
      causal: temporal.causal,
      rope: { freqs: temporal.ropeFreqs, qPos0: prefix ? prefix.length : 0, kPos0: 0 },
      ...(prefix && prefix.length > 0
        ? { prefix: { k: prefixView(prefix.k), v: prefixView(prefix.v), start: prefix.start, length: prefix.length } }
        : {}),
    });
  }
  return attn;
}
