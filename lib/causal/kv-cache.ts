// The temporal KV cache of Ca2-VDM: per temporal layer a native ring of K/V entries (one entry per
// frame, for every token position and CFG sample), bounded in frames, oldest evicted first.
// Keys are kept before RoPE: positions are applied inside the current window at attention time.
import type { NativeKvRing } from '../native/binding.js';
import { binding } from '../native/loader.js';
import type { TemporalKvHooks, TemporalPrefix } from '../models/layers/attention.js';
import { deviceCode, dtypeCode, empty, Tensor, type Device, type DType } from '../tensor.js';
import { rangeError } from '../util/errors.js';
import { Scope } from '../util/scope.js';

export interface KvCacheShape {
  layers: number;
  /** CFG batch (2 × videos) */
  batch: number;
  /** tokens per frame */
  tokens: number;
  heads: number;
  headDim: number;
  /** capacity in frames */
  capacity: number;
}

export class TemporalKvCache {
  readonly shape: KvCacheShape;
  #rings: NativeKvRing[];
  #storage: [Tensor, Tensor][];

  /** `dtype`: of the K/V entries, the model's activation dtype (STDiT3.dtype). */
  constructor(shape: KvCacheShape, device: Device = 'cpu', dtype: DType = 'f32') {
    if (!Number.isInteger(shape.capacity) || shape.capacity < 1) throw rangeError(`KV cache capacity must be a positive number of frames, got ${shape.capacity}`);
    this.shape = shape;
    const { NativeKvRing } = binding();
    this.#rings = Array.from(
      { length: shape.layers },
      () => new NativeKvRing(dtypeCode(dtype), deviceCode(device), shape.batch * shape.tokens, shape.heads, shape.capacity, shape.headDim),
    );
    this.#storage = this.#rings.map((r) => r.tensors().map((t) => new Tensor(t)) as [Tensor, Tensor]);
  }

  /** Frames held (the same in every layer). */
  get length(): number {
    return this.#rings[0]!.state().length;
  }

  get evicted(): number {
    return this.#rings[0]!.state().evicted;
  }

  /** Bytes of K and V storage over all layers (bounded by the capacity). */
  get bytes(): number {
    return this.#rings.reduce((n, r) => n + r.state().bytes, 0);
  }

  clear(): void {
    for (const r of this.#rings) r.clear();
  }

  /** Read-only hooks: attention reads [cache ; current] without writing. */
  readHooks(): TemporalKvHooks {
    return { prefix: (layer) => this.prefix(layer) };
  }

  /**
   * Hooks for a cache-writing pass over `frames` new frames: attention reads [cache ; new], and the
   * new frames' K/V are collected and appended once `commit()` is called after the pass.
   */
  writeHooks(frames: number): { hooks: TemporalKvHooks; commit: () => void; dispose: () => void } {
    const { batch, tokens: S, heads, headDim: D } = this.shape;
    const scope = new Scope();
    const [store] = this.#storage[0]!;
    const pending = this.#rings.map(() => [0, 1].map(() => scope.add(empty([batch * S, heads, frames, D], { device: store.device, dtype: store.dtype }))) as [Tensor, Tensor]);
    const hooks: TemporalKvHooks = {
      prefix: (layer) => this.prefix(layer),
      onKv: (layer, b, k, v) => {
        const [pk, pv] = pending[layer]!;
        const at = (t: Tensor) => scope.add(t.view([S, heads, frames, D], { offset: b * S * heads * frames * D }));
        at(pk).copyFrom(k);
        at(pv).copyFrom(v);
      },
    };
    return {
      hooks,
      commit: () => pending.forEach(([k, v], layer) => this.#rings[layer]!.append(k.native, v.native)),
      dispose: () => scope.dispose(),
    };
  }

  dispose(): void {
    for (const [k, v] of this.#storage) {
      k.dispose();
      v.dispose();
    }
    for (const r of this.#rings) r.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Layer `layer`'s ring: storage [batch·tokens, heads, capacity, D], entry j at slot (start + j) % capacity. */
  state(layer: number): TemporalPrefix {
    const s = this.#rings[layer]!.state();
    const [k, v] = this.#storage[layer]!;
    return { k, v, start: s.start, length: s.length };
  }

  private prefix(layer: number): TemporalPrefix | undefined {
    const p = this.state(layer);
    return p.length === 0 ? undefined : p;
  }
}
