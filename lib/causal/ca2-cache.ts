// The two KV caches of Ca2-VDM's own model (CausalSTDiT2.register_kv_cache / _write_kv_cache /
// _fetch_kv_cache, causal_stdit2.py:905-1030), both in native rings so that eviction moves a start
// index and never copies what stays:
//   temporal — per layer, every written frame's attn_temp K/V (before RoPE), the newest
//              `cacheFrames` frames, oldest evicted first;
//   spatial  — per layer, the attn_cf K/V of the last N written frames (N = prefix frames of
//              prev_prefix_N), replaced by each write: the last N frames of the chunk, or with a
//              shorter chunk each frame repeated as the authors' repeat_interleave does.
// A frame counter (the authors' cache_indicator sum) counts every frame ever written: it places the
// temporal position embedding of the next frames.
import type { NativeKvRing } from '../native/binding.js';
import { binding } from '../native/loader.js';
import type { CaptionState } from '../models/layers/conditioning.js';
import type { CausalSTDiT2, KvPass } from '../models/causal-stdit2/model.js';
import { tokensPerFrame } from '../models/causal-stdit2/config.js';
import { deviceCode, dtypeCode, empty, Tensor } from '../tensor.js';
import { rangeError, shapeError } from '../util/errors.js';
import { Scope } from '../util/scope.js';
import { TemporalKvCache } from './kv-cache.js';

export class Ca2KvCache {
  readonly batch: number;
  readonly temporal: TemporalKvCache;
  /** frames written since creation or clear (evicted ones included) */
  framesWritten = 0;
  readonly #prefixFrames: number;
  readonly #spatial: { ring: NativeKvRing; k: Tensor; v: Tensor }[];
  readonly #model: CausalSTDiT2;

  /** Caches of `model` for a batch of `batch` (the CFG batch: 2 × videos with guidance) holding `cacheFrames` frames. */
  constructor(model: CausalSTDiT2, batch: number, cacheFrames: number) {
    const cfg = model.config;
    if (!Number.isInteger(batch) || batch < 1) throw rangeError(`KV cache batch must be a positive integer, got ${batch}`);
    this.#model = model;
    this.batch = batch;
    const S = tokensPerFrame(cfg);
    const D = cfg.hiddenSize / cfg.numHeads;
    this.temporal = new TemporalKvCache({ layers: cfg.depth, batch, tokens: S, heads: cfg.numHeads, headDim: D, capacity: cacheFrames }, model.device, model.dtype);
    this.#prefixFrames = cfg.prefixFrames;
    const { NativeKvRing } = binding();
    this.#spatial = cfg.prefixFrames === 0
      ? []
      : Array.from({ length: cfg.depth }, () => {
          const ring = new NativeKvRing(dtypeCode(model.dtype), deviceCode(model.device), batch, cfg.numHeads, cfg.prefixFrames * S, D);
          const [k, v] = ring.tensors().map((t) => new Tensor(t)) as [Tensor, Tensor];
          return { ring, k, v };
        });
  }

  /** Frames the temporal cache holds. */
  get length(): number {
    return this.temporal.length;
  }

  /** Bytes of both caches' storage (fixed by their capacities). */
  get bytes(): { temporal: number; spatial: number } {
    return { temporal: this.temporal.bytes, spatial: this.#spatial.reduce((n, s) => n + s.ring.state().bytes, 0) };
  }

  clear(): void {
    this.temporal.clear();
    for (const s of this.#spatial) s.ring.clear();
    this.framesWritten = 0;
  }

  /**
   * write_latents_to_cache: clean frames x [batch, C, T, H, W] at timestep 0 with mask channel 1,
   * reading the temporal cache; their K/V are appended once the pass is through.
   */
  write(x: Tensor, caption?: CaptionState): void {
    const [Bc, , T] = x.shape as [number, number, number];
    if (Bc !== this.batch) throw shapeError(`KV cache write: batch ${Bc} differs from the cache's ${this.batch}`);
    if (T > this.temporal.shape.capacity) throw rangeError(`KV cache write: ${T} frames exceed the cache's ${this.temporal.shape.capacity}`);
    using scope = new Scope();
    const w = this.temporal.writeHooks(T);
    scope.add({ dispose: w.dispose });
    const cfg = this.#model.config;
    const S = tokensPerFrame(cfg), heads = cfg.numHeads, D = cfg.hiddenSize / heads, N = this.#prefixFrames;
    const pending = this.#spatial.map(() => [0, 1].map(() => scope.add(empty([Bc, heads, N * S, D], { device: x.device, dtype: this.#model.dtype }))) as [Tensor, Tensor]);
    // The last N frames, or each of fewer frames repeated N // T + 1 times (then cut to N).
    const source = (j: number) => (T >= N ? T - N + j : Math.floor(j / (Math.floor(N / T) + 1)));
    const onKv = (layer: number, b: number, k: Tensor, v: Tensor) => {
      pending[layer]!.forEach((dst, i) => {
        const src = i === 0 ? k : v;
        const st = src.strides;
        for (let j = 0; j < N; j++) {
          const from = scope.add(src.view([1, heads, S, D], { offset: source(j) * st[0]!, strides: [st[0]!, st[1]!, st[2]!, 1] }));
          scope.add(dst.view([1, heads, S, D], { offset: (b * heads * N + j) * S * D, strides: [heads * N * S * D, N * S * D, D, 1] })).copyFrom(from);
        }
      });
    };
    this.#model.run(
      { x, timestep: new Float32Array(Bc), ...(caption ? { caption } : {}) },
      { kv: { write: true, framesSoFar: this.framesWritten, temporal: w.hooks, cachedFrames: this.temporal.length, spatial: { onKv } } },
    );
    w.commit();
    pending.forEach(([k, v], layer) => this.#spatial[layer]!.ring.append(k.native, v.native));
    this.framesWritten += T;
  }

  /** A noisy chunk's pass against both caches (forward_kv_cache). */
  readPass(): KvPass {
    if (this.framesWritten === 0) throw new Error('the KV cache is empty: write the first frames to it before denoising a chunk');
    return {
      write: false,
      framesSoFar: this.framesWritten,
      temporal: this.temporal.readHooks(),
      cachedFrames: this.temporal.length,
      spatial: { read: (layer) => this.#spatial[layer] && { k: this.#spatial[layer]!.k, v: this.#spatial[layer]!.v } },
    };
  }

  /**
   * Layer `layer`'s cached K/V in the authors' layout, oldest frame first: temporal [batch, frames,
   * S, 2C] and spatial [batch, N, S, 2C] (K then V along the last axis), for tests and inspection.
   */
  snapshot(layer: number): { temporal: Float32Array; spatial: Float32Array | null } {
    const cfg = this.#model.config;
    const S = tokensPerFrame(cfg), heads = cfg.numHeads, D = cfg.hiddenSize / heads, C = cfg.hiddenSize;
    const Bc = this.batch;
    const st = this.temporal.state(layer);
    const L = st.length;
    const k = st.k.toFloat32Array(), v = st.v.toFloat32Array(); // [Bc·S, heads, cap, D]
    const cap = st.k.shape[2]!;
    const temporal = new Float32Array(Bc * L * S * 2 * C);
    for (let b = 0; b < Bc; b++)
      for (let f = 0; f < L; f++)
        for (let s = 0; s < S; s++)
          for (let h = 0; h < heads; h++) {
            const src = (((b * S + s) * heads + h) * cap + ((st.start + f) % cap)) * D;
            const dst = ((b * L + f) * S + s) * 2 * C + h * D;
            temporal.set(k.subarray(src, src + D), dst);
            temporal.set(v.subarray(src, src + D), dst + C);
          }
    let spatial: Float32Array | null = null;
    const sp = this.#spatial[layer];
    if (sp) {
      const N = this.#prefixFrames;
      const ks = sp.k.toFloat32Array(), vs = sp.v.toFloat32Array(); // [Bc, heads, N·S, D]
      const start = sp.ring.state().start;
      spatial = new Float32Array(Bc * N * S * 2 * C);
      for (let b = 0; b < Bc; b++)
        for (let e = 0; e < N * S; e++)
          for (let h = 0; h < heads; h++) {
            const src = ((b * heads + h) * N * S + ((start + e) % (N * S))) * D;
            const dst = (b * N * S + e) * 2 * C + h * D;
            spatial.set(ks.subarray(src, src + D), dst);
            spatial.set(vs.subarray(src, src + D), dst + C);
          }
    }
    return { temporal, spatial };
  }

  dispose(): void {
    this.temporal.dispose();
    for (const s of this.#spatial) {
      s.k.dispose();
      s.v.dispose();
      s.ring.dispose();
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
