// Conditioning shared by the DiT graphs: sinusoidal scalar embeddings through their MLP, the
// adaLN rows (scale_shift_table + t_block(t)), and the caption's per-block cross-attention K/V,
// computed once per generation.
import { ops } from '../../ops/index.js';
import type { RowPick } from '../../cache/rows.js';
import { isTensor, tensor, type Device, type DType, type Tensor } from '../../tensor.js';
import { shapeError } from '../../util/errors.js';
import { Scope } from '../../util/scope.js';
import type { CrossKv } from './attention.js';
import type { Linear } from './linear.js';
import { timestepEmbedding } from './sinusoid.js';

/** mlp.2(SiLU(mlp.0(sinusoid(values)))) [n, C]; added into `residual` (and returned) when given. */
export function embedScalars(values: Float32Array, [l0, l2]: readonly [Linear, Linear], device: Device, residual?: Tensor): Tensor {
  using scope = new Scope();
  const f = scope.add(tensor(timestepEmbedding(values), [values.length, 256], { device }));
  const h = scope.add(ops.gemm(f, l0.weight, { bias: l0.bias, activation: 'silu' }));
  return ops.gemm(h, l2.weight, residual ? { bias: l2.bias, residual, out: residual } : { bias: l2.bias });
}

/** t_block(t) = Linear(SiLU(t)). */
export function siluLinear(t: Tensor, linear: Linear): Tensor {
  using scope = new Scope();
  return ops.gemm(scope.add(ops.activate(t, 'silu')), linear.weight, { bias: linear.bias });
}

/** table[K, C] + rows viewed as [G, K, C] (rows [G, K·C], or [G, C] repeated for every k when `repeatRows`). */
export function tableModulation(rows: Tensor, table: Tensor, repeatRows = false): Tensor {
  using scope = new Scope();
  const [K, C] = table.shape as [number, number];
  const G = rows.shape[0]!;
  const r = scope.add(rows.view([G, K, C], repeatRows ? { strides: [C, 0, 1] } : {}));
  return ops.add(r, scope.add(table.view([G, K, C], { strides: [0, C, 1] })));
}

/** Row k of modulation rows [G, K, C] as a grouped [G, C] view. */
export function modulationRow(mods: Tensor, row: number): Tensor {
  const [G, K, C] = mods.shape as [number, number, number];
  return mods.view([G, C], { offset: row * C, strides: [K * C, 1] });
}

/** The caption's per-layer cross-attention keys/values: computed once per generation. */
export class CaptionState {
  constructor(
    readonly batch: number,
    readonly length: number,
    /** one entry per cross-attention layer, in the model's order */
    readonly cross: CrossKv[],
    private readonly owned: Tensor[],
  ) {}

  #picks = new Map<string, CaptionState>();

  /** The caption of rows `pick` of this batch (views when the rows are consecutive); kept until dispose(). */
  select(pick: RowPick): CaptionState {
    if (pick.total !== this.batch) throw new RangeError(`caption: a pick of ${pick.total} rows for a batch of ${this.batch}`);
    if (pick.isAll) return this;
    const key = pick.ids.join(',');
    let c = this.#picks.get(key);
    if (!c) {
      const owned: Tensor[] = [];
      const masks = new Map<Tensor, Tensor>();
      const cross = this.cross.map(({ kv, keyMask, L }) => {
        let mask = masks.get(keyMask);
        if (!mask) {
          mask = pick.take(keyMask);
          masks.set(keyMask, mask);
          owned.push(mask);
        }
        const rows = pick.take(kv);
        owned.push(rows);
        return { kv: rows, keyMask: mask, L };
      });
      c = new CaptionState(pick.size, this.length, cross, owned);
      this.#picks.set(key, c);
    }
    return c;
  }

  dispose(): void {
    for (const c of this.#picks.values()) c.dispose();
    this.#picks.clear();
    for (const t of this.owned) t.dispose();
  }
  [Symbol.dispose](): void {
    this.dispose();
  }
}

/** 1 = caption token, 0 = padding, for every sample: `rows` ([b·L], b dividing B) repeated to B. */
/** The caption's key mask [B·L] for y [B, 1, L, captionChannels] (L at most modelMaxLength) and
 * mask ([b, L] rows, b dividing B; all tokens when absent), with the shapes checked. */
export function captionKeyMask(y: Tensor, mask: Tensor | ArrayLike<number>[] | undefined, captionChannels: number, modelMaxLength: number): Uint8Array {
  if (!isTensor(y) || y.shape.length !== 4 || y.shape[1] !== 1 || y.shape[3] !== captionChannels) {
    throw shapeError(`y: expected [B, 1, L, ${captionChannels}], got ${isTensor(y) ? `[${y.shape}]` : typeof y}`);
  }
  const L = y.shape[2]!;
  if (L > modelMaxLength) throw shapeError(`y: ${L} tokens exceed model_max_length ${modelMaxLength}`);
  return keyMaskRows(maskRows(mask, L), y.shape[0]!, L);
}

function maskRows(mask: Tensor | ArrayLike<number>[] | undefined, L: number): Uint8Array {
  if (mask === undefined) return new Uint8Array(L).fill(1);
  if (isTensor(mask)) {
    if (mask.shape.length !== 2 || mask.shape[1] !== L) throw shapeError(`mask: expected [b, ${L}], got [${mask.shape}]`);
    return Uint8Array.from(mask.toFloat32Array(), (v) => (v !== 0 ? 1 : 0));
  }
  if (!Array.isArray(mask) || mask.some((r) => r.length !== L)) throw shapeError(`mask: expected rows of ${L} values`);
  return Uint8Array.from(mask.flatMap((r) => Array.from(r, (v) => (v !== 0 ? 1 : 0))));
}

export function keyMaskRows(rows: Uint8Array, B: number, L: number): Uint8Array {
  const b = rows.length / L;
  if (!Number.isInteger(b) || b < 1 || B % b !== 0) throw shapeError(`mask: ${rows.length / L} rows do not divide the batch ${B}`);
  const keyMask = new Uint8Array(B * L);
  for (let i = 0; i < B * L; i++) keyMask[i] = rows[i % rows.length]!;
  for (let s = 0; s < B; s++) {
    if (!keyMask.subarray(s * L, (s + 1) * L).some((m) => m)) throw shapeError(`mask: sample ${s} has no valid caption token`);
  }
  return keyMask;
}

/** y_proj(y) (fc1, GELU tanh, fc2) and each layer's K/V of it through its kv linear, in the layer's activation dtype. */
export function encodeCaptionKv(y: Tensor, keyMask: Uint8Array, yProj: readonly [Linear, Linear], layers: readonly { kv: Linear; dtype: DType }[]): CaptionState {
  const [B, , L, Cc] = y.shape as [number, number, number, number];
  const owned: Tensor[] = [];
  using scope = new Scope();
  const yRows = scope.add(y.view([B * L, Cc], { strides: [y.strides[2]!, 1], offset: 0 }));
  const h = scope.add(ops.gemm(yRows, yProj[0].weight, { bias: yProj[0].bias, activation: 'gelu-tanh' }));
  const yEmb = scope.add(ops.gemm(h, yProj[1].weight, { bias: yProj[1].bias }));
  const maskTensor = tensor(keyMask, [B, L], { device: y.device, copy: true });
  owned.push(maskTensor);
  const cross = layers.map((l) => {
    const kv = ops.gemm(yEmb, l.kv.weight, { bias: l.kv.bias, dtype: l.dtype });
    owned.push(kv);
    return { kv, keyMask: maskTensor, L };
  });
  return new CaptionState(B, L, cross, owned);
}
