// The CausalSTDiT2 graph of Ca2-VDM (Dawn-LX/CausalCache-VDM, opensora/models/causal_stdit2/
// causal_stdit2.py) on the native ops: CausalSTDiT2.forward (a whole clip with its clean prefix,
// per-frame timesteps), and the two passes of its KV-cache inference, write_latents_to_cache
// (clean frames at timestep 0, mask channel 1, the last block stopping after temporal attention)
// and forward_kv_cache (a noisy chunk against both caches, mask channel 0).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { observeProbe } from '../../cache/kept.js';
import { type Observation, type ResidualCache, RowTensor, type StepPlan, rowFlags } from '../../cache/plan.js';
import { RowPick } from '../../cache/rows.js';
import { openCheckpoint } from '../../io/checkpoint.js';
import { ops } from '../../ops/index.js';
import { empty, isTensor, tensor, type Device, type DType, type Tensor } from '../../tensor.js';
import { argumentError, rangeError, shapeError } from '../../util/errors.js';
import { Scope } from '../../util/scope.js';
import type { Grid, RotaryPositions, TemporalKvHooks } from '../layers/attention.js';
import { CaptionState, embedScalars, captionKeyMask, encodeCaptionKv, modulationRow, siluLinear, tableModulation } from '../layers/conditioning.js';
import { ConfigError } from '../config-fields.js';
import { causalBlockForward, type PrefixAttention } from './block.js';
import { causalHeadDim, parseCausalConfig, tokensPerFrame, type CausalSTDiT2Config } from './config.js';
import { causalWeightTensors, loadCausalWeights, type CausalLoadOptions, type CausalSTDiT2Weights } from './weights.js';

type Numbers = number | ArrayLike<number> | Tensor;

/** The arguments of CausalSTDiT2.forward, by their names there. */
export interface CausalForwardInputs {
  /** [B, C_in, T, H, W]: clean prefix frames followed by noisy frames */
  x: Tensor;
  /** [B] (one timestep per sample) or [B, T] (per frame; 0 for the clean prefix), in [0, 1000] */
  timestep: Numbers | ArrayLike<number>[];
  /** [B, 1, L, caption_channels] (models with captions) or pass `caption` */
  y?: Tensor;
  /** [b, L], b dividing B: 1 = word, 0 = padding; default all words */
  mask?: Tensor | ArrayLike<number>[];
  caption?: CaptionState;
  /** [B, 1, T, 1, 1] (or B·T values): 1 = clean prefix frame, 0 = noisy */
  mask_channel?: Numbers;
  /** temporal position of frame 0 (needed unless relative_tpe_mode is null) */
  x_temporal_start?: number;
}

/** The prefix spatial caches of a KV-cache pass. */
export interface SpatialKvHooks {
  /** Layer `layer`'s cached prefix K/V, [Bc, heads, N·S, D] each, all N·S entries valid. */
  read?(layer: number): { k: Tensor; v: Tensor } | undefined;
  /** A cache-writing pass gives layer `layer`'s K/V of every frame, per batch item ([T, heads, S, D] views). */
  onKv?(layer: number, b: number, k: Tensor, v: Tensor): void;
}

/** A pass against the KV caches (the authors' forward_kv_cache, or write_latents_to_cache). */
export interface KvPass {
  /** true: clean frames written to the caches; false: a noisy chunk read against them */
  write: boolean;
  /** frames written to the caches so far (every frame ever, not only those held): the TPE's frame counter */
  framesSoFar: number;
  temporal: TemporalKvHooks;
  /** frames the temporal cache holds now (the keys before the chunk's own in RoPE) */
  cachedFrames: number;
  spatial?: SpatialKvHooks;
}

export interface CausalRunOptions {
  /** the first C_in output channels only (the predicted noise) */
  velocityOnly?: boolean;
  plan?: StepPlan;
  residualCache?: ResidualCache;
  kv?: KvPass;
}

export interface CausalRunResult {
  /** null after a cache-writing pass */
  out: Tensor | null;
  observations: Observation[];
}


function numbers(v: Numbers | ArrayLike<number>[], name: string): { values: Float32Array; shape: readonly number[] } {
  if (typeof v === 'number') return { values: Float32Array.of(v), shape: [] };
  if (isTensor(v)) return { values: v.toFloat32Array(), shape: v.shape };
  if (Array.isArray(v) && v.length > 0 && typeof v[0] === 'object') {
    const rows = v as ArrayLike<number>[];
    return { values: Float32Array.from(rows.flatMap((r) => Array.from(r))), shape: [rows.length, rows[0]!.length] };
  }
  if (typeof v === 'object' && v !== null && 'length' in v) return { values: Float32Array.from(v as ArrayLike<number>), shape: [(v as ArrayLike<number>).length] };
  throw argumentError(`${name}: expected numbers or a tensor`);
}

export class CausalSTDiT2 {
  readonly config: CausalSTDiT2Config;
  readonly weights: CausalSTDiT2Weights;
  readonly device: Device;
  readonly dir: string | undefined;
  readonly #tpe: Float32Array;
  readonly #ropeFreqs: Tensor | null;

  constructor(config: CausalSTDiT2Config, weights: CausalSTDiT2Weights, device: Device, dir?: string) {
    this.config = config;
    this.weights = weights;
    this.device = device;
    this.dir = dir;
    this.#tpe = weights.posEmbedTemporal.toFloat32Array();
    this.#ropeFreqs = config.relativeTpeMode === 'rope' ? tensor(ropeFrequencies(causalHeadDim(config)), [causalHeadDim(config) / 2], { device }) : null;
  }

  /** dtype of the activations that meet the weights ('bf16' for a model loaded with dtype 'bf16'). */
  get dtype(): DType {
    return this.weights.blocks[0]!.attn.qkv.weight.dtype;
  }

  get parameterCount(): number {
    const buffers = this.weights.posEmbed.numel + this.weights.posEmbedTemporal.numel + (this.weights.yNull?.numel ?? 0);
    return causalWeightTensors(this.weights).reduce((n, t) => n + t.numel, 0) - buffers;
  }

  dispose(): void {
    for (const t of causalWeightTensors(this.weights)) t.dispose();
    this.#ropeFreqs?.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** y_proj(y) and every block's caption K/V, the key mask repeated to the batch. */
  encodeCaption(y: Tensor, mask?: Tensor | ArrayLike<number>[]): CaptionState {
    const { captionChannels: Cc, modelMaxLength } = this.config;
    const w = this.weights;
    if (!w.yProj) throw argumentError('this model has no captions (caption_channels 0): give no y');
    const keyMask = captionKeyMask(y, mask, Cc, modelMaxLength);
    const layers = w.blocks.map((b) => ({ kv: b.cross!.kv, dtype: b.attn.qkv.weight.dtype }));
    return encodeCaptionKv(y, keyMask, w.yProj, layers);
  }

  /** CausalSTDiT2.forward: out [B, out_channels, T, H, W] (pred_sigma: noise, then the σ interpolation). */
  forward(inputs: CausalForwardInputs): Tensor {
    return this.run(inputs, {}).out!;
  }

  run(inputs: CausalForwardInputs, options: CausalRunOptions): CausalRunResult {
    const cfg = this.config;
    const { x } = inputs;
    if (!isTensor(x) || x.shape.length !== 5 || x.shape[1] !== cfg.inChannels) {
      throw shapeError(`x: expected [B, ${cfg.inChannels}, T, H, W], got ${isTensor(x) ? `[${x.shape}]` : typeof x}`);
    }
    const [B, , T, H, W] = x.shape as [number, number, number, number, number];
    if (H !== cfg.inputSize[1] || W !== cfg.inputSize[2]) {
      throw shapeError(`x: latent ${H}x${W} differs from the model's input_size ${cfg.inputSize[1]}x${cfg.inputSize[2]} (its spatial position embedding is fixed)`);
    }
    if (T < 1) throw shapeError('x: needs at least one frame');
    const kv = options.kv;
    const S = tokensPerFrame(cfg), C = cfg.hiddenSize;
    const grid: Grid = { B, T, S, C, heads: cfg.numHeads };

    const ts = numbers(inputs.timestep, 'timestep');
    const perFrame = ts.shape.length === 2;
    if (!(ts.values.length === B && ts.shape.length <= 1) && !(perFrame && ts.shape[0] === B && ts.shape[1] === T)) {
      throw shapeError(`timestep: expected [${B}] or [${B}, ${T}], got [${ts.shape}]`);
    }
    if (ts.values.some((t) => !Number.isFinite(t))) throw argumentError('timestep: expected finite values');
    if (kv && perFrame) throw shapeError('timestep: a KV-cache pass takes one timestep per sample, [B]');
    const mask = this.maskChannel(inputs.mask_channel, B, T, kv);
    const positions = this.positions(T, inputs.x_temporal_start, kv);

    using scope = new Scope();
    const caption = cfg.captionChannels > 0 ? (inputs.caption ?? scope.add(this.captionFromInputs(inputs))) : undefined;
    if (caption && caption.batch !== B) throw shapeError(`caption: batch ${caption.batch} does not match x batch ${B}`);
    if (!caption && (inputs.y || inputs.caption)) throw argumentError('this model has no captions (caption_channels 0): give no y');
    const w = this.weights;

    // Patch embedding + the spatial position embedding, the same for every frame.
    const tokens = scope.add(ops.patchify(x, cfg.patchSize));
    const xe = scope.add(ops.gemm(tokens, w.patchEmbed.weight, { bias: w.patchEmbed.bias }));
    const xs = scope.add(xe.view([B * T * S, C]));
    const frameRows = scope.add(xs.view([B * T, S, C]));
    ops.add(frameRows, scope.add(w.posEmbed.view([B * T, S, C], { strides: [0, C, 1] })), { out: frameRows });

    const t = scope.add(embedScalars(ts.values, w.tEmbed, this.device)); // [B or B·T, C]
    const tMlp = scope.add(siluLinear(t, w.tBlock));
    const tpe = positions.tpe ? scope.add(this.tpeRows(positions.tpe, B)) : undefined;

    const plan = options.plan ?? { compute: true, probes: [] };
    const compute = planCompute(plan, B);
    const cache = options.residualCache;
    const observations: Observation[] = [];
    const rows = RowPick.all(B);
    const xIn = cache ? scope.add(xs.clone()) : null;
    if (!compute) {
      if (!cache?.stack?.has(rows.ids)) throw new Error('a cached step needs a residual cache filled by an earlier computed step');
      ops.add(xs, cache.stack.tensor, { out: xs });
    } else {
      for (let i = 0; i < cfg.depth; i++) {
        const blk = w.blocks[i]!;
        const probes = plan.probes.filter((p) => p.index === i);
        const last = i === cfg.depth - 1;
        const res = causalBlockForward(xs, blk, {
          grid,
          mods: scope.add(tableModulation(tMlp, blk.scaleShiftTable)),
          ...(caption ? { cross: caption.cross[i]! } : {}),
          ...(cfg.prefixFrames > 0 ? { prefix: this.prefixAttention(i, mask, kv) } : {}),
          temporalIn: { ...(i === 0 && tpe ? { tpe } : {}), ...(blk.preMerge ? { mask } : {}) },
          temporal: {
            causal: true,
            ...(positions.rope ? { rope: { ...positions.rope, freqs: this.#ropeFreqs! } } : {}),
            ...(kv?.temporal.prefix ? { prefix: kv.temporal.prefix(i) } : {}),
            ...(kv?.temporal.onKv ? { onKv: (b: number, k: Tensor, v: Tensor) => kv.temporal.onKv!(i, b, k, v) } : {}),
          },
          temporalOnly: kv?.write === true && last,
          want: {
            spatial: probes.some((p) => p.kind === 'spatial' && p.branch === 'attn'),
            temporal: probes.some((p) => p.kind === 'temporal' && p.branch === 'attn'),
            caMlp: probes.some((p) => p.branch === 'ca-mlp'),
          },
        });
        for (const probe of probes) {
          const fresh = probe.branch === 'ca-mlp' ? res.caMlpRes : probe.kind === 'spatial' ? res.spatialRes : res.temporalRes;
          const o = observeProbe(probe, fresh!, cache, rows, T);
          if (o) observations.push(o);
        }
        res.spatialRes?.dispose();
        res.temporalRes?.dispose();
        res.caMlpRes?.dispose();
      }
      if (cache && xIn) {
        cache.stack ??= new RowTensor(empty(xs.shape, { dtype: xs.dtype, device: xs.device }), B);
        ops.axpby(1, xs, -1, xIn, { out: cache.stack.tensor });
        cache.stack.filled.fill(1);
      }
    }
    if (kv?.write) return { out: null, observations };

    // Final layer (T2IFinalLayerExpand): modulated by t per sample or per frame.
    const fmods = scope.add(tableModulation(t, w.finalScaleShift, true));
    const o = scope.add(ops.layerNorm(xs, { shift: scope.add(modulationRow(fmods, 0)), scale: scope.add(modulationRow(fmods, 1)) }));
    const lin = scope.add(ops.gemm(o, w.finalLinear.weight, { bias: w.finalLinear.bias }));
    const cout = options.velocityOnly || !cfg.predSigma ? cfg.inChannels : 2 * cfg.inChannels;
    const out = ops.unpatchify(scope.add(lin.view([B, T * S, lin.shape[1]!])), cfg.patchSize, [B, cout, T, H, W]);
    return { out, observations };
  }

  private captionFromInputs(inputs: CausalForwardInputs): CaptionState {
    if (!inputs.y) throw argumentError('forward: this model reads captions: give y (and mask) or a caption from encodeCaption()');
    return this.encodeCaption(inputs.y, inputs.mask);
  }

  /** Per frame [B·T]: the given mask channel; in a KV pass 1 (written, clean) or 0 (noisy). */
  private maskChannel(v: Numbers | undefined, B: number, T: number, kv: KvPass | undefined): Float32Array {
    if (kv) return new Float32Array(B * T).fill(kv.write ? 1 : 0);
    const needed = this.config.prefixFrames > 0 || this.weights.blocks.some((b) => b.preMerge);
    if (v === undefined) {
      if (needed) throw argumentError('mask_channel: this model needs it ([B, 1, T, 1, 1], 1 = clean prefix frame)');
      return new Float32Array(B * T);
    }
    const m = numbers(v, 'mask_channel').values;
    if (m.length !== B * T) throw shapeError(`mask_channel: expected [${B}, 1, ${T}, 1, 1] (${B * T} values), got ${m.length}`);
    return m;
  }

  /** The temporal positions of the T frames: TPE row indices, or the RoPE offsets. */
  private positions(T: number, start: number | undefined, kv: KvPass | undefined): { tpe?: number[]; rope?: Omit<RotaryPositions, 'freqs'> } {
    const { relativeTpeMode: mode, maxTpeLen: maxL } = this.config;
    if (T > maxL) throw rangeError(`x: ${T} frames exceed max_tpe_len ${maxL}`);
    let s: number;
    if (kv) {
      s = kv.framesSoFar;
    } else if (mode === null) {
      s = 0;
    } else {
      if (start === undefined) throw argumentError(`x_temporal_start: needed with relative_tpe_mode "${mode}"`);
      if (!Number.isInteger(start) || start < 0) throw rangeError(`x_temporal_start: expected a non-negative integer, got ${start}`);
      s = start;
    }
    if (mode === 'rope') {
      // RotaryEmbForCacheQueue: keys at 0..k_len−1 of the window, queries ending at min(start + T, max_tpe_len).
      const kLen = (kv ? kv.cachedFrames : 0) + T;
      if (kLen > maxL) throw rangeError(`rope: ${kLen} frames in attention exceed max_tpe_len ${maxL}`);
      return { rope: { qPos0: Math.min(s + T, maxL) - T, kPos0: 0 } };
    }
    if (mode === 'cyclic') return { tpe: Array.from({ length: T }, (_, i) => (s + i) % maxL) };
    // Absolute: the first T rows, or with a cache the rows of frames [s, s + T).
    if (kv && s + T > maxL) throw rangeError(`the absolute temporal position embedding has ${maxL} rows; frames up to ${s + T} need relative_tpe_mode "cyclic"`);
    return { tpe: Array.from({ length: T }, (_, i) => (kv ? s : 0) + i) };
  }

  /** [B·T, C] rows of pos_embed_temporal at `ids`, repeated for each sample. */
  private tpeRows(ids: number[], B: number): Tensor {
    const C = this.config.hiddenSize;
    const rows = new Float32Array(B * ids.length * C);
    for (let b = 0; b < B; b++) ids.forEach((id, t) => rows.set(this.#tpe.subarray(id * C, (id + 1) * C), (b * ids.length + t) * C));
    return tensor(rows, [B * ids.length, C], { device: this.device });
  }

  private prefixAttention(layer: number, mask: Float32Array, kv: KvPass | undefined): PrefixAttention {
    if (!kv) return { kind: 'frames', mask, prefixFrames: this.config.prefixFrames };
    if (kv.write) return { kind: 'write', ...(kv.spatial?.onKv ? { onKv: (b: number, k: Tensor, v: Tensor) => kv.spatial!.onKv!(layer, b, k, v) } : {}) };
    const cached = kv.spatial?.read?.(layer);
    if (!cached) throw new Error('a noisy chunk needs the prefix spatial cache: write the first frames to the caches first');
    return { kind: 'cache', ...cached };
  }
}

/**
 * Whether the blocks run this step. CausalSTDiT2 takes the plans of policies that decide for the
 * whole batch with probes (none, fixed, AdaCache, MoReg); per-row and per-branch plans are refused.
 */
function planCompute(plan: StepPlan, B: number): boolean {
  if (plan.gate || plan.head || plan.blocks || plan.guidance || (plan.present && !plan.present.every(Boolean))) {
    throw new TypeError('this caching policy plans per row or per branch, which CausalSTDiT2 does not support; use none, fixed or AdaCache');
  }
  const flags = rowFlags(plan.compute, B, true);
  if (flags.some((f) => f !== flags[0])) throw new TypeError('CausalSTDiT2 computes all rows of a step or none');
  return flags[0]!;
}

/** RoPE frequencies 1/10000^(2i/D) in float32 as precompute_freqs_cis computes them. */
export function ropeFrequencies(D: number): Float32Array {
  const f32 = Math.fround;
  return Float32Array.from({ length: D / 2 }, (_, i) => f32(1 / f32(Math.pow(10000, f32(f32(2 * i) / D)))));
}

/** Loads a CausalSTDiT2 checkpoint folder: config.json + model.safetensors (or its sharded index). */
export function loadCausalSTDiT2(dir: string, options: CausalLoadOptions = {}): CausalSTDiT2 {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read ${join(dir, 'config.json')}: ${(e as Error).message}`);
  }
  const config = parseCausalConfig(json, (m) => process.emitWarning(m, 'ConfigWarning'));
  const source = openCheckpoint(dir);
  try {
    return new CausalSTDiT2(config, loadCausalWeights(source, config, options), options.device ?? 'cpu', dir);
  } finally {
    source.close();
  }
}
