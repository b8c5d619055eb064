// One STDiT3 block (spatial or temporal): modulated self-attention, cross-attention to the caption,
// modulated MLP. Tokens are rows of x [B·T·S, C] ordered (batch, frame, row, col); the attention
// views below address q/k/v inside the packed qkv buffer, so no layout is ever copied.
// The residual stream x stays in its own dtype (f32); what feeds a GEMM or an attention (the
// modulated norms, q/k/v, attention outputs, the MLP hidden) takes the dtype of the weights,
// so a bf16 model multiplies bf16 × bf16 with fp32 sums and adds every branch back in fp32.
import { ops } from '../../ops/index.js';
import { empty, type DType, type Tensor } from '../../tensor.js';
import { Scope } from '../../util/scope.js';
import { crossAttention, frameAttention, temporalAttention, type CrossKv, type Grid, type TemporalPrefix } from '../layers/attention.js';
import { modulationRow } from '../layers/conditioning.js';
import { modulatedMlp } from '../layers/feed-forward.js';
import type { BlockWeights } from './weights.js';

export type { CrossKv, Grid, TemporalPrefix } from '../layers/attention.js';
export { modulationRow } from '../layers/conditioning.js';

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
    const res = crossAttention(x, w.crossQ, w.crossProj, cross, grid, dtype, want.crossRes);
    if (res) result.crossRes = res;
  }
  modulatedMlp(x, w.fc1, w.fc2, mod(3), mod(4), mod(5), dtype);
  if (mid) result.caMlpRes = ops.axpby(1, x, -1, mid);
  return result;
}

/** The multi-head self-attention of the block (spatial over each frame, temporal over each token) before its projection, [B·N, C]. */
function selfAttention(x: Tensor, w: BlockWeights, grid: Grid, mods: Tensor, temporal: TemporalOptions | null, scope: Scope): Tensor {
  const { B, T, S, C, heads } = grid;
  const D = C / heads;
  const rows = B * T * S;
  const mod = (row: number) => scope.add(modulationRow(mods, row));
  const dtype = computeDtype(w);
  const a = scope.add(ops.layerNorm(x, { shift: mod(0), scale: mod(1), dtype }));
  const qkv = scope.add(ops.gemm(a, w.qkv.weight, { bias: w.qkv.bias })); // [B·N, 3C]
  if (w.qNorm && w.kNorm) {
    // qk_norm: RMSNorm of q and k over each head, before RoPE.
    const qn = scope.add(qkv.view([rows, heads, D], { offset: 0, strides: [3 * C, D, 1] }));
    const kn = scope.add(qkv.view([rows, heads, D], { offset: C, strides: [3 * C, D, 1] }));
    ops.rmsNorm(qn, { weight: w.qNorm, out: qn });
    ops.rmsNorm(kn, { weight: w.kNorm, out: kn });
  }
  const attn = scope.add(empty([rows, C], { dtype, device: x.device }));
  if (!temporal) {
    frameAttention(qkv, attn, grid);
    return attn;
  }
  const prefix = temporal.prefix;
  temporalAttention(qkv, attn, grid, {
    causal: temporal.causal,
    rope: { freqs: temporal.ropeFreqs, qPos0: prefix ? prefix.length : 0, kPos0: 0 },
    ...(prefix ? { prefix } : {}),
    ...(temporal.onKv ? { onKv: temporal.onKv } : {}),
    ...(temporal.rows ? { rows: temporal.rows } : {}),
  });
  return attn;
}
