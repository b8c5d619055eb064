// CausalSTDiT2 parameters and buffers by the names of the authors' state dict
// (opensora/models/causal_stdit2/causal_stdit2.py; the blocks' attention layers are
// AttentionWithContext without q/k norms). `bov_token` is a buffer the model never reads.
import { checkParameters, type TensorSource } from '../../io/checkpoint.js';
import type { Device, Tensor } from '../../tensor.js';
import { matrixReader, type Linear } from '../layers/linear.js';
import { tokensPerFrame, type CausalSTDiT2Config } from './config.js';

export interface CausalBlockWeights<T = Tensor> {
  scaleShiftTable: T; // [6, C]
  attn: { qkv: Linear<T>; proj: Linear<T> };
  /** prefix-enhanced spatial attention */
  attnCf?: { qkv: Linear<T>; proj: Linear<T> };
  attnTemp: { qkv: Linear<T>; proj: Linear<T> };
  /** attn_temp_pre_merge split: Linear(C + 1 → C) = x·Wᵀ + bias + mask·w_mask */
  preMerge?: { weight: T; bias: T; maskColumn: T };
  cross?: { q: Linear<T>; kv: Linear<T>; proj: Linear<T> };
  fc1: Linear<T>;
  fc2: Linear<T>;
}

export interface CausalSTDiT2Weights<T = Tensor> {
  patchEmbed: Linear<T>; // weight viewed as [C, Cin·pt·ph·pw]
  tEmbed: [Linear<T>, Linear<T>];
  tBlock: Linear<T>;
  yProj?: [Linear<T>, Linear<T>];
  yNull?: T; // [L, caption_channels]
  /** [S, C] spatial sin-cos embedding of the configured grid */
  posEmbed: T;
  /** [max_tpe_len, C] sinusoidal temporal embedding */
  posEmbedTemporal: T;
  blocks: CausalBlockWeights<T>[];
  finalScaleShift: T; // [2, C]
  finalLinear: Linear<T>;
}

export function hasPreMerge(cfg: CausalSTDiT2Config, block: number): boolean {
  return cfg.tempExtraInChannels > 0 && (block === 0 || cfg.tempExtraInAllBlock);
}

/** Every parameter and read buffer with its expected shape. */
export function causalParameterShapes(cfg: CausalSTDiT2Config): Map<string, number[]> {
  const C = cfg.hiddenSize;
  const [pt, ph, pw] = cfg.patchSize;
  const shapes = new Map<string, number[]>();
  const linear = (name: string, out: number, inp: number) => {
    shapes.set(`${name}.weight`, [out, inp]);
    shapes.set(`${name}.bias`, [out]);
  };
  shapes.set('pos_embed', [1, tokensPerFrame(cfg), C]);
  shapes.set('pos_embed_temporal', [1, cfg.maxTpeLen, C]);
  shapes.set('x_embedder.proj.weight', [C, cfg.inChannels, pt, ph, pw]);
  shapes.set('x_embedder.proj.bias', [C]);
  linear('t_embedder.mlp.0', C, 256);
  linear('t_embedder.mlp.2', C, C);
  linear('t_block.1', 6 * C, C);
  if (cfg.captionChannels > 0) {
    linear('y_embedder.y_proj.fc1', C, cfg.captionChannels);
    linear('y_embedder.y_proj.fc2', C, C);
    shapes.set('y_embedder.y_embedding', [cfg.modelMaxLength, cfg.captionChannels]);
  }
  for (let i = 0; i < cfg.depth; i++) {
    const p = `blocks.${i}`;
    shapes.set(`${p}.scale_shift_table`, [6, C]);
    for (const a of ['attn', 'attn_temp', ...(cfg.prefixFrames > 0 ? ['attn_cf'] : [])]) {
      linear(`${p}.${a}.qkv`, 3 * C, C);
      linear(`${p}.${a}.proj`, C, C);
    }
    if (hasPreMerge(cfg, i)) linear(`${p}.attn_temp_pre_merge`, C, C + cfg.tempExtraInChannels);
    if (cfg.captionChannels > 0) {
      linear(`${p}.cross_attn.q_linear`, C, C);
      linear(`${p}.cross_attn.kv_linear`, 2 * C, C);
      linear(`${p}.cross_attn.proj`, C, C);
    }
    linear(`${p}.mlp.fc1`, C * cfg.mlpRatio, C);
    linear(`${p}.mlp.fc2`, C, C * cfg.mlpRatio);
  }
  shapes.set('final_layer.scale_shift_table', [2, C]);
  linear('final_layer.linear', pt * ph * pw * (cfg.predSigma ? 2 : 1) * cfg.inChannels, C);
  return shapes;
}

export interface CausalLoadOptions {
  device?: Device;
  /** Storage of the matrix weights: 'f32', or 'bf16' (halves memory; GEMMs accumulate in f32). */
  dtype?: 'f32' | 'bf16';
}

/** Checks every parameter of the checkpoint, then loads them. */
export function loadCausalWeights(source: TensorSource, cfg: CausalSTDiT2Config, options: CausalLoadOptions = {}): CausalSTDiT2Weights {
  const shapes = causalParameterShapes(cfg);
  checkParameters(source, shapes);
  const device = options.device ?? 'cpu';
  const matrixDtype = options.dtype ?? 'f32';
  const C = cfg.hiddenSize;
  const vec = (name: string) => source.tensor(name, { device });
  const { matrix: mat, prepare } = matrixReader((name, dtype) => source.tensor(name, { device, dtype }), device, matrixDtype);
  const linear = (name: string): Linear => ({ weight: mat(`${name}.weight`), bias: vec(`${name}.bias`) });
  const attention = (name: string) => ({ qkv: linear(`${name}.qkv`), proj: linear(`${name}.proj`) });
  const squeeze = (name: string, shape: number[]) => {
    const t = vec(name);
    const v = t.reshape(shape);
    t.dispose();
    return v;
  };
  const preMerge = (p: string) => {
    // Columns [0, C) act on the hidden state, column C on the mask channel.
    const w = vec(`${p}.weight`);
    try {
      const x = w.view([C, C], { strides: [C + 1, 1] });
      const m = w.view([C], { offset: C, strides: [C + 1] });
      const weight = prepare(x.to(device, matrixDtype));
      const maskColumn = m.clone();
      x.dispose();
      m.dispose();
      return { weight, bias: vec(`${p}.bias`), maskColumn };
    } finally {
      w.dispose();
    }
  };
  const patchCols = shapes.get('x_embedder.proj.weight')!.slice(1).reduce((a, b) => a * b, 1);
  // The Conv3d weight as the Linear weight of patchify's rows.
  const conv = source.tensor('x_embedder.proj.weight', { device, dtype: matrixDtype });
  const patchWeight = prepare(conv.reshape([C, patchCols]));
  conv.dispose();
  const blocks = Array.from({ length: cfg.depth }, (_, i): CausalBlockWeights => {
    const p = `blocks.${i}`;
    return {
      scaleShiftTable: vec(`${p}.scale_shift_table`),
      attn: attention(`${p}.attn`),
      ...(cfg.prefixFrames > 0 ? { attnCf: attention(`${p}.attn_cf`) } : {}),
      attnTemp: attention(`${p}.attn_temp`),
      ...(hasPreMerge(cfg, i) ? { preMerge: preMerge(`${p}.attn_temp_pre_merge`) } : {}),
      ...(cfg.captionChannels > 0
        ? { cross: { q: linear(`${p}.cross_attn.q_linear`), kv: linear(`${p}.cross_attn.kv_linear`), proj: linear(`${p}.cross_attn.proj`) } }
        : {}),
      fc1: linear(`${p}.mlp.fc1`),
      fc2: linear(`${p}.mlp.fc2`),
    };
  });
  return {
    patchEmbed: { weight: patchWeight, bias: vec('x_embedder.proj.bias') },
    tEmbed: [linear('t_embedder.mlp.0'), linear('t_embedder.mlp.2')],
    tBlock: linear('t_block.1'),
    ...(cfg.captionChannels > 0
      ? { yProj: [linear('y_embedder.y_proj.fc1'), linear('y_embedder.y_proj.fc2')] as [Linear, Linear], yNull: vec('y_embedder.y_embedding') }
      : {}),
    posEmbed: squeeze('pos_embed', [tokensPerFrame(cfg), C]),
    posEmbedTemporal: squeeze('pos_embed_temporal', [cfg.maxTpeLen, C]),
    blocks,
    finalScaleShift: vec('final_layer.scale_shift_table'),
    finalLinear: linear('final_layer.linear'),
  };
}

/** The same weight structure with every leaf mapped through `fn`, in a fixed order. */
export function mapCausalWeights<A, B>(w: CausalSTDiT2Weights<A>, fn: (leaf: A) => B): CausalSTDiT2Weights<B> {
  const lin = (l: Linear<A>): Linear<B> => ({ weight: fn(l.weight), bias: fn(l.bias) });
  const att = (a: { qkv: Linear<A>; proj: Linear<A> }) => ({ qkv: lin(a.qkv), proj: lin(a.proj) });
  const blk = (b: CausalBlockWeights<A>): CausalBlockWeights<B> => ({
    scaleShiftTable: fn(b.scaleShiftTable),
    attn: att(b.attn),
    ...(b.attnCf ? { attnCf: att(b.attnCf) } : {}),
    attnTemp: att(b.attnTemp),
    ...(b.preMerge ? { preMerge: { weight: fn(b.preMerge.weight), bias: fn(b.preMerge.bias), maskColumn: fn(b.preMerge.maskColumn) } } : {}),
    ...(b.cross ? { cross: { q: lin(b.cross.q), kv: lin(b.cross.kv), proj: lin(b.cross.proj) } } : {}),
    fc1: lin(b.fc1),
    fc2: lin(b.fc2),
  });
  return {
    patchEmbed: lin(w.patchEmbed),
    tEmbed: [lin(w.tEmbed[0]), lin(w.tEmbed[1])],
    tBlock: lin(w.tBlock),
    ...(w.yProj && w.yNull !== undefined ? { yProj: [lin(w.yProj[0]), lin(w.yProj[1])] as [Linear<B>, Linear<B>], yNull: fn(w.yNull) } : {}),
    posEmbed: fn(w.posEmbed),
    posEmbedTemporal: fn(w.posEmbedTemporal),
    blocks: w.blocks.map(blk),
    finalScaleShift: fn(w.finalScaleShift),
    finalLinear: lin(w.finalLinear),
  };
}

export function causalWeightTensors(w: CausalSTDiT2Weights): Tensor[] {
  const all: Tensor[] = [];
  mapCausalWeights(w, (t) => all.push(t));
  return all;
}
