// STDiT3 parameters by their official names (a checkpoint of hpcai-tech/OpenSora-STDiT-v3 loads
// by name), checked for presence, shape and dtype before any is used.
import { checkParameters, type TensorSource } from '../../io/checkpoint.js';
import type { Device, Tensor } from '../../tensor.js';
import { matrixReader, type Linear } from '../layers/linear.js';
import { headDim, outChannels, type STDiT3Config } from './config.js';

export { CheckpointError } from '../../io/checkpoint.js';
export type { Linear } from '../layers/linear.js';

// The structure is generic in its leaves so that the same shape can hold tensors, or the handles
// that carry them to a worker thread (mapWeights).

export interface BlockWeights<T = Tensor> {
  scaleShiftTable: T; // [6, C]
  qkv: Linear<T>;
  /** [D], absent without qk_norm */
  qNorm?: T;
  kNorm?: T;
  proj: Linear<T>;
  crossQ: Linear<T>;
  crossKv: Linear<T>;
  crossProj: Linear<T>;
  fc1: Linear<T>;
  fc2: Linear<T>;
}

export interface STDiT3Weights<T = Tensor> {
  patchEmbed: Linear<T>; // weight viewed as [C, Cin·pt·ph·pw]
  tEmbed: [Linear<T>, Linear<T>];
  fpsEmbed: [Linear<T>, Linear<T>];
  tBlock: Linear<T>;
  yProj: [Linear<T>, Linear<T>];
  yNull: T; // [L, caption_channels]
  spatial: BlockWeights<T>[];
  temporal: BlockWeights<T>[];
  finalScaleShift: T; // [2, C]
  finalLinear: Linear<T>;
  ropeFreqs: T; // [D/2]
}

/** Every parameter name with its expected shape. */
export function parameterShapes(cfg: STDiT3Config): Map<string, number[]> {
  const C = cfg.hiddenSize;
  const [pt, ph, pw] = cfg.patchSize;
  const hidden = C * cfg.mlpRatio;
  const shapes = new Map<string, number[]>();
  const linear = (name: string, out: number, inp: number) => {
    shapes.set(`${name}.weight`, [out, inp]);
    shapes.set(`${name}.bias`, [out]);
  };
  shapes.set('x_embedder.proj.weight', [C, cfg.inChannels, pt, ph, pw]);
  shapes.set('x_embedder.proj.bias', [C]);
  for (const e of ['t_embedder', 'fps_embedder']) {
    linear(`${e}.mlp.0`, C, 256);
    linear(`${e}.mlp.2`, C, C);
  }
  linear('t_block.1', 6 * C, C);
  linear('y_embedder.y_proj.fc1', C, cfg.captionChannels);
  linear('y_embedder.y_proj.fc2', C, C);
  shapes.set('y_embedder.y_embedding', [cfg.modelMaxLength, cfg.captionChannels]);
  for (const kind of ['spatial_blocks', 'temporal_blocks']) {
    for (let i = 0; i < cfg.depth; i++) {
      const p = `${kind}.${i}`;
      shapes.set(`${p}.scale_shift_table`, [6, C]);
      linear(`${p}.attn.qkv`, 3 * C, C);
      if (cfg.qkNorm) {
        shapes.set(`${p}.attn.q_norm.weight`, [headDim(cfg)]);
        shapes.set(`${p}.attn.k_norm.weight`, [headDim(cfg)]);
      }
      linear(`${p}.attn.proj`, C, C);
      linear(`${p}.cross_attn.q_linear`, C, C);
      linear(`${p}.cross_attn.kv_linear`, 2 * C, C);
      linear(`${p}.cross_attn.proj`, C, C);
      linear(`${p}.mlp.fc1`, hidden, C);
      linear(`${p}.mlp.fc2`, C, hidden);
    }
  }
  shapes.set('final_layer.scale_shift_table', [2, C]);
  linear('final_layer.linear', pt * ph * pw * outChannels(cfg), C);
  shapes.set('rope.freqs', [headDim(cfg) / 2]);
  return shapes;
}

export interface LoadOptions {
  device?: Device;
  /**
   * dtype of the matrix weights and of the activations that meet them: 'f32', or 'bf16' (half the
   * memory and bf16 GEMMs and attention on the CPU's matrix engines; the residual stream, norms'
   * statistics, softmax and the caching metrics stay fp32). On the CPU the matrices are packed
   * once into the GEMM kernels' layout (ops.packWeight).
   */
  dtype?: 'f32' | 'bf16';
}

/** Checks every parameter of the checkpoint, then loads them. */
export function loadWeights(reader: TensorSource, cfg: STDiT3Config, options: LoadOptions = {}): STDiT3Weights {
  const shapes = parameterShapes(cfg);
  checkParameters(reader, shapes);
  const device = options.device ?? 'cpu';
  const matrixDtype = options.dtype ?? 'f32';
  const vec = (name: string) => reader.tensor(name, { device });
  // Matrices [N, K] packed on the CPU (the row-major copy is freed at once).
  const { matrix: mat, prepare: packed } = matrixReader((name, dtype) => reader.tensor(name, { device, dtype }), device, matrixDtype);
  const linear = (name: string): Linear => ({ weight: mat(`${name}.weight`), bias: vec(`${name}.bias`) });
  const block = (p: string): BlockWeights => ({
    scaleShiftTable: vec(`${p}.scale_shift_table`),
    qkv: linear(`${p}.attn.qkv`),
    ...(cfg.qkNorm ? { qNorm: vec(`${p}.attn.q_norm.weight`), kNorm: vec(`${p}.attn.k_norm.weight`) } : {}),
    proj: linear(`${p}.attn.proj`),
    crossQ: linear(`${p}.cross_attn.q_linear`),
    crossKv: linear(`${p}.cross_attn.kv_linear`),
    crossProj: linear(`${p}.cross_attn.proj`),
    fc1: linear(`${p}.mlp.fc1`),
    fc2: linear(`${p}.mlp.fc2`),
  });
  const C = cfg.hiddenSize;
  const patchCols = shapes.get('x_embedder.proj.weight')!.slice(1).reduce((a, b) => a * b, 1);
  // The Conv3d weight as the Linear weight of patchify's rows.
  const patchConv = reader.tensor('x_embedder.proj.weight', { device, dtype: matrixDtype });
  const patchWeight = packed(patchConv.reshape([C, patchCols]));
  patchConv.dispose();
  const range = (n: number) => Array.from({ length: n }, (_, i) => i);
  return {
    patchEmbed: { weight: patchWeight, bias: vec('x_embedder.proj.bias') },
    tEmbed: [linear('t_embedder.mlp.0'), linear('t_embedder.mlp.2')],
    fpsEmbed: [linear('fps_embedder.mlp.0'), linear('fps_embedder.mlp.2')],
    tBlock: linear('t_block.1'),
    yProj: [linear('y_embedder.y_proj.fc1'), linear('y_embedder.y_proj.fc2')],
    yNull: vec('y_embedder.y_embedding'),
    spatial: range(cfg.depth).map((i) => block(`spatial_blocks.${i}`)),
    temporal: range(cfg.depth).map((i) => block(`temporal_blocks.${i}`)),
    finalScaleShift: vec('final_layer.scale_shift_table'),
    finalLinear: linear('final_layer.linear'),
    ropeFreqs: vec('rope.freqs'),
  };
}

/** The same weight structure with every leaf mapped through `fn`, in a fixed order. */
export function mapWeights<A, B>(w: STDiT3Weights<A>, fn: (leaf: A) => B): STDiT3Weights<B> {
  const lin = (l: Linear<A>): Linear<B> => ({ weight: fn(l.weight), bias: fn(l.bias) });
  const pair = (p: [Linear<A>, Linear<A>]): [Linear<B>, Linear<B>] => [lin(p[0]), lin(p[1])];
  const blk = (b: BlockWeights<A>): BlockWeights<B> => ({
    scaleShiftTable: fn(b.scaleShiftTable),
    qkv: lin(b.qkv),
    ...(b.qNorm !== undefined && b.kNorm !== undefined ? { qNorm: fn(b.qNorm), kNorm: fn(b.kNorm) } : {}),
    proj: lin(b.proj),
    crossQ: lin(b.crossQ),
    crossKv: lin(b.crossKv),
    crossProj: lin(b.crossProj),
    fc1: lin(b.fc1),
    fc2: lin(b.fc2),
  });
  return {
    patchEmbed: lin(w.patchEmbed),
    tEmbed: pair(w.tEmbed),
    fpsEmbed: pair(w.fpsEmbed),
    tBlock: lin(w.tBlock),
    yProj: pair(w.yProj),
    yNull: fn(w.yNull),
    spatial: w.spatial.map(blk),
    temporal: w.temporal.map(blk),
    finalScaleShift: fn(w.finalScaleShift),
    finalLinear: lin(w.finalLinear),
    ropeFreqs: fn(w.ropeFreqs),
  };
}

/** All tensors of a weight set, for disposal and counting. */
export function weightTensors(w: STDiT3Weights): Tensor[] {
  const all: Tensor[] = [];
  mapWeights(w, (t) => all.push(t));
  return all;
}
