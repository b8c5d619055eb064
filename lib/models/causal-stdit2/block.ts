// One CausalSTDiT2 block (CausalSTDiT2Block.forward / forward_kv_cache, causal_stdit2.py:251-522):
//   x += g·attn(mod(LN x))                                      spatial, over each frame's tokens
//   x += g·attn_cf(x)                                           prefix-enhanced spatial (prev_prefix_N)
//   x += g·attn_temp(pre_merge([x + tpe ; mask]))               causal temporal, on the un-normalised x
//   x += cross_attn(x, y);  x += g_mlp·mlp(mod(LN x))           (skipped by the last block of a cache write)
// with one scale_shift_table per block (g = gate_msa for all three attentions). Rows of x are tokens
// in (batch, frame, token) order.
import { ops } from '../../ops/index.js';
import { empty, type DType, type Tensor } from '../../tensor.js';
import { Scope } from '../../util/scope.js';
import { crossAttention, frameAttention, frameAttentionTo, temporalAttention, type CrossKv, type Grid, type TemporalOptions } from '../layers/attention.js';
import { modulationRow } from '../layers/conditioning.js';
import { gatedProjection, modulatedMlp } from '../layers/feed-forward.js';
import type { CausalBlockWeights } from './weights.js';

/** How the prefix-enhanced spatial attention finds its keys in this pass. */
export type PrefixAttention =
  /** a whole video in one pass: frames with mask 1 attend to themselves, the others to the last N prefix frames */
  | { kind: 'frames'; mask: Float32Array; prefixFrames: number }
  /** noisy frames against the cached prefix K/V ([Bc, heads, N·S, D] ring storage, full) */
  | { kind: 'cache'; k: Tensor; v: Tensor }
  /** clean frames written to the cache: each attends to itself, and its K/V ([T, heads, S, D] per batch item) go to `onKv` */
  | { kind: 'write'; onKv?: (b: number, k: Tensor, v: Tensor) => void };

export interface TemporalInput {
  /** [B·T, C] rows added to x before temporal attention (block 0's temporal position embedding) */
  tpe?: Tensor;
  /** per frame [B·T]: the mask channel merged by attn_temp_pre_merge */
  mask?: Float32Array;
}

export interface CausalBlockOutputs {
  /** gated spatial + prefix spatial residual */
  spatialRes?: Tensor;
  /** gated temporal residual */
  temporalRes?: Tensor;
  /** cross-attention + gated MLP residual */
  caMlpRes?: Tensor;
}

export interface CausalBlockOptions {
  grid: Grid;
  /** [G, 6, C] modulation rows (G = B or B·T) */
  mods: Tensor;
  cross?: CrossKv;
  prefix?: PrefixAttention;
  temporalIn: TemporalInput;
  temporal: TemporalOptions;
  /** stop after temporal attention (the last block of a cache-writing pass) */
  temporalOnly?: boolean;
  want?: { spatial?: boolean; temporal?: boolean; caMlp?: boolean };
}

export function causalBlockForward(x: Tensor, w: CausalBlockWeights, o: CausalBlockOptions): CausalBlockOutputs {
  const { grid } = o;
  const { B, T, S, C } = grid;
  using scope = new Scope();
  const out: CausalBlockOutputs = {};
  const want = o.want ?? {};
  const mod = (row: number) => scope.add(modulationRow(o.mods, row));
  const gate = mod(2);
  const rows = B * T * S;
  // The residual stream x stays fp32; what meets the weights takes their dtype (bf16 models).
  const dtype = w.attn.qkv.weight.dtype;
  const attn = scope.add(empty([rows, C], { dtype, device: x.device }));

  const a = scope.add(ops.layerNorm(x, { shift: mod(0), scale: mod(1), dtype }));
  const qkv = scope.add(ops.gemm(a, w.attn.qkv.weight, { bias: w.attn.qkv.bias }));
  frameAttention(qkv, attn, grid);
  const spatialRes = gatedProjection(x, attn, w.attn.proj, gate, want.spatial);

  if (w.attnCf && o.prefix) {
    const qkvCf = scope.add(ops.gemm(x, w.attnCf.qkv.weight, { bias: w.attnCf.qkv.bias, dtype }));
    prefixAttention(qkvCf, attn, grid, o.prefix);
    const cfRes = gatedProjection(x, attn, w.attnCf.proj, gate, want.spatial);
    if (spatialRes && cfRes) {
      ops.add(spatialRes, cfRes, { out: spatialRes });
      cfRes.dispose();
    }
  }
  if (spatialRes) out.spatialRes = spatialRes;

  temporalBranch(x, w, o, attn, dtype, scope);
  const temporalRes = gatedProjection(x, attn, w.attnTemp.proj, gate, want.temporal);
  if (temporalRes) out.temporalRes = temporalRes;
  if (o.temporalOnly) return out;

  const mid = want.caMlp ? scope.add(x.clone()) : null;
  if (w.cross && o.cross) crossAttention(x, w.cross.q, w.cross.proj, o.cross, grid, dtype);
  modulatedMlp(x, w.fc1, w.fc2, mod(3), mod(4), mod(5), dtype);
  if (mid) out.caMlpRes = ops.axpby(1, x, -1, mid);
  return out;
}

/** attn_temp over x (+ tpe), merged with the mask channel first where the block has attn_temp_pre_merge. */
function temporalBranch(x: Tensor, w: CausalBlockWeights, o: CausalBlockOptions, out: Tensor, dtype: DType, scope: Scope): void {
  const { grid, temporalIn } = o;
  const { S, C } = grid;
  let xt = x;
  if (temporalIn.tpe) xt = scope.add(ops.add(x, temporalIn.tpe));
  if (w.preMerge) {
    const mask = temporalIn.mask;
    if (!mask) throw new TypeError('mask_channel: this model merges the mask channel into temporal attention; give it');
    xt = scope.add(ops.gemm(xt, w.preMerge.weight, { bias: w.preMerge.bias }));
    for (let f = 0; f < mask.length; f++) {
      const m = mask[f]!;
      if (m === 0) continue;
      const frameRows = scope.add(xt.view([S, C], { offset: f * S * C }));
      ops.axpby(1, frameRows, m, scope.add(w.preMerge.maskColumn.view([1, C])), { out: frameRows });
    }
  }
  const qkv = scope.add(ops.gemm(xt, w.attnTemp.qkv.weight, { bias: w.attnTemp.qkv.bias, dtype }));
  temporalAttention(qkv, out, grid, o.temporal);
}

/**
 * attn_cf (causal_stdit2.py:301-336 and 417-461). Its keys/values never mix frames of different
 * samples; a frame attending to itself stands for the authors' N repeats of its own tokens (the
 * same keys N times give the same softmax).
 */
function prefixAttention(qkv: Tensor, out: Tensor, grid: Grid, p: PrefixAttention): void {
  using scope = new Scope();
  const { B, T, S, C, heads } = grid;
  const D = C / heads;
  if (p.kind === 'write') {
    frameAttention(qkv, out, grid);
    if (p.onKv) {
      for (let b = 0; b < B; b++) {
        const kv = (j: number) => scope.add(qkv.view([T, heads, S, D], { offset: b * T * S * 3 * C + j * C, strides: [S * 3 * C, D, 3 * C, 1] }));
        p.onKv(b, kv(1), kv(2));
      }
    }
    return;
  }
  if (p.kind === 'cache') {
    const Nk = p.k.shape[2]!;
    for (let b = 0; b < B; b++) {
      const kv = (t: Tensor) => scope.add(t.view([T, heads, Nk, D], { offset: b * heads * Nk * D, strides: [0, Nk * D, D, 1] }));
      frameAttentionTo(qkv, out, grid, b * T, T, kv(p.k), kv(p.v));
    }
    return;
  }
  const { mask, prefixFrames: N } = p;
  // The N key frames of sample b: prefix_len − 1 − i, clamped at 0 (duplicates count twice).
  const selected = scope.add(empty([N * S, 2 * C], { dtype: qkv.dtype, device: qkv.device }));
  for (let b = 0; b < B; b++) {
    const m = mask.subarray(b * T, (b + 1) * T);
    const prefixLen = Math.trunc(m.reduce((s, v) => s + v, 0));
    if (prefixLen < 1) throw new RangeError(`mask_channel: sample ${b} has no prefix frame; prefix spatial attention needs at least one`);
    let selectedFor = -1;
    for (let t = 0; t < T; ) {
      const self = m[t] !== 0;
      let n = 1;
      while (t + n < T && (m[t + n] !== 0) === self) n++;
      if (self) {
        frameAttention(qkv, out, grid, b * T + t, n);
      } else {
        if (selectedFor !== b) {
          for (let i = 0; i < N; i++) {
            const f = Math.max(prefixLen - 1 - i, 0);
            const src = scope.add(qkv.view([S, 2 * C], { offset: (b * T + f) * S * 3 * C + C, strides: [3 * C, 1] }));
            scope.add(selected.view([S, 2 * C], { offset: i * S * 2 * C })).copyFrom(src);
          }
          selectedFor = b;
        }
        const kv = (j: number) => scope.add(selected.view([n, heads, N * S, D], { offset: j * C, strides: [0, D, 2 * C, 1] }));
        frameAttentionTo(qkv, out, grid, b * T + t, n, kv(0), kv(1));
      }
      t += n;
    }
  }
}
