// A random-weight STDiT3 checkpoint folder (config.json + model.safetensors, official names and
// shapes) and forward inputs, written for benchmarks that time models larger than the bundled ones.
// Weights follow the official initialisation's scales (opensora/models/stdit/stdit3.py
// initialize_weights; blocks.py's scale_shift_table and y_embedding), with nothing zeroed, so every
// branch of every block contributes to the output.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { writeSafetensors, type TensorToWrite } from '../lib/io/safetensors.js';
import { parseConfig, type STDiT3Config } from '../lib/models/stdit3/config.js';
import { parameterShapes } from '../lib/models/stdit3/weights.js';
import { gaussianNoise } from '../lib/sampling/noise.js';

/** Open-Sora 1.2's STDiT3-XL/2 configuration (official field names) with `depth` spatial + `depth` temporal blocks. */
export function openSora12Config(depth: number): Record<string, unknown> {
  return {
    architectures: ['STDiT3'],
    model_type: 'STDiT3',
    input_sq_size: 512,
    in_channels: 4,
    patch_size: [1, 2, 2],
    hidden_size: 1152,
    depth,
    num_heads: 16,
    mlp_ratio: 4.0,
    class_dropout_prob: 0.1,
    pred_sigma: true,
    drop_path: 0.0,
    caption_channels: 4096,
    model_max_length: 300,
    qk_norm: true,
    enable_flash_attn: false,
    enable_layernorm_kernel: false,
    enable_sequence_parallelism: false,
    only_train_temporal: false,
    freeze_y_embedder: false,
    skip_y_embedder: false,
  };
}

function scaled(seed: number, n: number, std: number, mean = 0): Float32Array {
  const v = gaussianNoise(seed, n);
  for (let i = 0; i < n; i++) v[i] = mean + std * v[i]!;
  return v;
}

/** The values of one parameter: N(0, 1/fan_in) matrices, small biases, the official tables. */
function randomParameter(name: string, shape: number[], seed: number, cfg: STDiT3Config): Float32Array {
  const n = shape.reduce((a, b) => a * b, 1);
  if (name === 'rope.freqs') {
    const D = 2 * shape[0]!;
    return Float32Array.from({ length: shape[0]! }, (_, i) => 1 / 10000 ** ((2 * i) / D));
  }
  if (name.endsWith('scale_shift_table')) return scaled(seed, n, 1 / Math.sqrt(cfg.hiddenSize));
  if (name === 'y_embedder.y_embedding') return scaled(seed, n, 1 / Math.sqrt(cfg.captionChannels));
  if (name.endsWith('_norm.weight')) return scaled(seed, n, 0.1, 1);
  if (name.endsWith('.bias')) return scaled(seed, n, 0.02);
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  return scaled(seed, n, 1 / Math.sqrt(fanIn));
}

/** Writes `dir`/config.json and `dir`/model.safetensors (float32); returns the parsed config. */
export function writeRandomCheckpoint(dir: string, config: Record<string, unknown>, seed = 1): STDiT3Config {
  const cfg = parseConfig(config);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
  const tensors: Record<string, TensorToWrite> = {};
  let i = 0;
  for (const [name, shape] of parameterShapes(cfg)) {
    tensors[name] = { dtype: 'F32', shape, data: randomParameter(name, shape, seed * 100_003 + i++, cfg) };
  }
  writeSafetensors(join(dir, 'model.safetensors'), tensors);
  return cfg;
}

/** Inputs of one forward, as ditcache's STDiT3.forward and bench/torch/stdit3.py both take them. */
export interface ForwardData {
  /** [B, C_in, T, H, W] */
  x: Float32Array;
  xShape: [number, number, number, number, number];
  timestep: number[];
  /** [B, 1, L, caption_channels] */
  y: Float32Array;
  yShape: [number, number, number, number];
  /** [B][L], 1 = caption token */
  mask: number[][];
  fps: number;
  /** nominal pixel size: 8 × the latent's */
  height: number;
  width: number;
}

/** A CFG batch of 2 (same latent and timestep, two captions with the same `words` leading tokens). */
export function randomInputs(cfg: STDiT3Config, [T, H, W]: [number, number, number], words: number, timestep: number, seed = 7): ForwardData {
  const B = 2, L = cfg.modelMaxLength, Cc = cfg.captionChannels;
  const latent = gaussianNoise(seed, cfg.inChannels * T * H * W);
  const x = new Float32Array(B * latent.length);
  x.set(latent);
  x.set(latent, latent.length);
  const row = Array.from({ length: L }, (_, l) => (l < words ? 1 : 0));
  return {
    x,
    xShape: [B, cfg.inChannels, T, H, W],
    timestep: [timestep, timestep],
    y: gaussianNoise(seed + 1, B * L * Cc),
    yShape: [B, 1, L, Cc],
    mask: [row, row],
    fps: 24,
    height: 8 * H,
    width: 8 * W,
  };
}

/** The inputs as a safetensors file (x, timestep, y, mask as I64, fps, height, width: [B] each). */
export function writeInputs(path: string, d: ForwardData): void {
  const B = d.xShape[0];
  const perRow = (v: number): TensorToWrite => ({ dtype: 'F32', shape: [B], data: new Float32Array(B).fill(v) });
  writeSafetensors(path, {
    x: { dtype: 'F32', shape: d.xShape, data: d.x },
    timestep: { dtype: 'F32', shape: [B], data: Float32Array.from(d.timestep) },
    y: { dtype: 'F32', shape: d.yShape, data: d.y },
    mask: { dtype: 'I64', shape: [B, d.mask[0]!.length], data: BigInt64Array.from(d.mask.flat(), (m) => BigInt(m)) },
    fps: perRow(d.fps),
    height: perRow(d.height),
    width: perRow(d.width),
  });
}
