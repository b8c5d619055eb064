// Checkpoints as their authors lay them out: sharded safetensors with an index, qk_norm off, the
// AdaCache keys of the authors' cached STDiT3, the keyword arguments of CausalSTDiT2's configs, and
// config keys nobody reads (reported, not dropped in silence).
import { copyFileSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { CheckpointError } from '../../lib/io/checkpoint.js';
import { SafetensorsReader, writeSafetensors } from '../../lib/io/safetensors.js';
import { parseCausalConfig } from '../../lib/models/causal-stdit2/config.js';
import { CausalSTDiT2 } from '../../lib/models/causal-stdit2/model.js';
import { ConfigError } from '../../lib/models/config-fields.js';
import { modelTypeOf, openModel } from '../../lib/models/open.js';
import { parseConfig } from '../../lib/models/stdit3/config.js';
import { loadModel, STDiT3 } from '../../lib/models/stdit3/model.js';
import { gaussianNoise } from '../../lib/sampling/noise.js';
import { tensor } from '../../lib/tensor.js';
import { FIXTURES, TINY_MODEL } from '../helpers/golden.js';
import { tempDir } from '../io/safetensors-files.js';

const tmp = tempDir();
afterAll(() => tmp.remove());
const baseConfig = JSON.parse(readFileSync(join(TINY_MODEL, 'config.json'), 'utf8')) as Record<string, unknown>;

/** The tiny model's tensors, optionally without some, as a folder of shards with an index. */
function writeFolder(name: string, opts: { config?: Record<string, unknown>; drop?: (n: string) => boolean; shards?: number; index?: (m: Record<string, string>) => unknown }): string {
  const dir = join(tmp.dir, name);
  mkdirSync(dir);
  const src = SafetensorsReader.open(join(TINY_MODEL, 'model.safetensors'));
  const names = [...src.entries.keys()].filter((n) => !opts.drop?.(n));
  const shards = opts.shards ?? 1;
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < shards; s++) {
    const file = shards === 1 ? 'model.safetensors' : `model-0000${s + 1}-of-0000${shards}.safetensors`;
    const part: Record<string, { dtype: 'F32'; shape: readonly number[]; data: Float32Array }> = {};
    names.forEach((n, i) => {
      if (i % shards !== s) return;
      part[n] = { dtype: 'F32', shape: src.entries.get(n)!.shape, data: src.float32(n) };
      weightMap[n] = file;
    });
    writeSafetensors(join(dir, file), part);
  }
  src.close();
  if (shards > 1) writeFileSync(join(dir, 'model.safetensors.index.json'), JSON.stringify(opts.index ? opts.index(weightMap) : { metadata: {}, weight_map: weightMap }));
  writeFileSync(join(dir, 'config.json'), JSON.stringify(opts.config ?? baseConfig));
  copyFileSync(join(TINY_MODEL, 'vocab.json'), join(dir, 'vocab.json'));
  return dir;
}

function forwardOnce(model: STDiT3): Float32Array {
  const x = tensor(gaussianNoise(3, 2 * 4 * 2 * 8 * 8), [2, 4, 2, 8, 8]);
  const y = tensor(gaussianNoise(4, 2 * 8 * 64), [2, 1, 8, 64]);
  const out = model.forward({ x, timestep: [500, 200], y });
  const r = out.toFloat32Array();
  for (const t of [x, y, out]) t.dispose();
  return r;
}

describe('checkpoint layouts', () => {
  it('reads a sharded checkpoint (model.safetensors.index.json) tensor for tensor as the single file', () => {
    const single = loadModel(TINY_MODEL);
    const sharded = loadModel(writeFolder('sharded', { shards: 3 }));
    expect(forwardOnce(sharded)).toEqual(forwardOnce(single));
    single.dispose();
    sharded.dispose();
  });

  it('refuses an index naming a shard outside the folder, or a tensor its shard does not hold', () => {
    const escape = writeFolder('escape', { shards: 2, index: (m) => ({ weight_map: { ...m, 'rope.freqs': '../model.safetensors' } }) });
    expect(() => loadModel(escape)).toThrow(CheckpointError);
    const missing = writeFolder('missing', { shards: 2, index: (m) => ({ weight_map: { ...m, extra: Object.values(m)[0] } }) });
    expect(() => loadModel(missing)).toThrow(/"extra" is not in its shard/);
  });

  it('honours qk_norm: false (no q/k norm tensors are expected or applied)', () => {
    const plain = writeFolder('no-qk-norm', { config: { ...baseConfig, qk_norm: false }, drop: (n) => /\.(q|k)_norm\./.test(n) });
    const model = loadModel(plain);
    expect(model.weights.spatial[0]!.qNorm).toBeUndefined();
    const normed = loadModel(TINY_MODEL);
    const a = forwardOnce(model), b = forwardOnce(normed);
    expect(a.every(Number.isFinite)).toBe(true);
    expect(a.some((v, i) => Math.abs(v - b[i]!) > 1e-3)).toBe(true);
    model.dispose();
    normed.dispose();
    // With qk_norm true the same checkpoint is refused, naming the tensor.
    writeFileSync(join(plain, 'config.json'), JSON.stringify(baseConfig));
    expect(() => loadModel(plain)).toThrow(/q_norm/);
  });

  it('turns the AdaCache keys of the authors\' config into the default caching, and reports unknown keys', () => {
    const warnings: string[] = [];
    const cfg = parseConfig(
      {
        ...baseConfig,
        do_cache: true,
        cache_res: 'ca-mlp',
        cache_loc: [1, 2],
        codebook: { '0.11': 4, '0.03': 12, '1.0': 3 },
        apply_moreg: true,
        moreg_steps: [4, 26],
        num_sampling_steps: 30,
        colour_of_sky: 'blue',
      },
      (m) => warnings.push(m),
    );
    expect(cfg.cache).toEqual({
      kind: 'adacache',
      codebook: [[0.03, 12], [0.11, 4], [1, 3]],
      cacheRes: 'ca-mlp',
      cacheLoc: [1, 2],
      distance: 'l1',
      moreg: { strides: [1], steps: [4, 26], hyp: [0.385, 8, 1, 2], mogradMul: 10 },
    });
    expect(warnings).toEqual(['config.json: "colour_of_sky" is not a setting this library knows; it is ignored']);
    expect(parseConfig({ ...baseConfig, do_cache: false, cache_loc: [13] }).cache).toBeUndefined();
    expect(() => parseConfig({ ...baseConfig, do_cache: true, cache_res: 'everything' })).toThrow(ConfigError);
    expect(() => parseConfig({ ...baseConfig, skip_y_embedder: true })).toThrow(ConfigError);
  });

  it('reads CausalSTDiT2 configs as the authors spell them, and dispatches on model_type', () => {
    const warnings: string[] = [];
    const released = {
      model_type: 'CausalSTDiT2',
      type: 'CausalSTDiT2-XL/2',
      space_scale: 1.0,
      time_scale: 1.0,
      from_pretrained: 'OpenSora-v1-HQ-16x512x512.pth',
      freeze: null,
      from_scratch: null,
      is_causal: true,
      caption_channels: 0,
      temp_extra_in_channels: 1,
      temp_extra_in_all_block: false,
      max_tpe_len: 33,
      relative_tpe_mode: 'cyclic',
      enable_flashattn: true,
      enable_layernorm_kernel: false,
      enable_sequence_parallelism: false,
      cross_frame_attn: 'prev_prefix_3',
      scheduler: { type: 'iddpm', num_sampling_steps: 100, cfg_scale: 1.0, progressive_alpha: -1 },
      kv_cache_max_seqlen: 25,
      prefix_perturb_t: 50,
      lr: 2e-5,
    };
    const cfg = parseCausalConfig(released, (m) => warnings.push(m));
    expect([cfg.depth, cfg.hiddenSize, cfg.numHeads, cfg.prefixFrames, cfg.maxTpeLen, cfg.relativeTpeMode]).toEqual([28, 1152, 16, 3, 33, 'cyclic']);
    expect(cfg.sampling).toEqual({ respacing: '100', diffusionSteps: 1000, cfgScale: 1, chunkFrames: 8, cacheFrames: 25, prefixPerturbT: 50 });
    expect(warnings).toEqual(['config.json: "lr" is not a setting this library knows; it is ignored']);
    expect(() => parseCausalConfig({ ...released, depth: 14 })).toThrow(/contradicts "type"/);
    expect(() => parseCausalConfig({ ...released, relative_tpe_mode: 'offset' })).toThrow(ConfigError);
    expect(() => parseCausalConfig({ ...released, cross_frame_attn: 'first_frame' })).toThrow(ConfigError);
    expect(() => parseCausalConfig({ ...released, is_causal: 'partial' })).toThrow(ConfigError);

    const sky = join(FIXTURES, 'causal-stdit2', 'sky');
    expect(modelTypeOf(sky)).toBe('CausalSTDiT2');
    expect(() => loadModel(sky)).toThrow(/loadCausalSTDiT2/);
    const a = openModel(sky);
    const b = openModel(TINY_MODEL);
    expect(a).toBeInstanceOf(CausalSTDiT2);
    expect(b).toBeInstanceOf(STDiT3);
    a.dispose();
    b.dispose();
  });
});
