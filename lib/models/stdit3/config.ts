// STDiT3 configuration, read from a checkpoint's config.json with the official field names.
import type { AdaCacheSpec } from '../../cache/policy.js';
import { ADACACHE_KEYS, ConfigError, adaCacheFromConfig, configObject, field, isBool, isPosInt, isPosNum, unknownKeys } from '../config-fields.js';

export { ConfigError } from '../config-fields.js';

export interface STDiT3Config {
  inChannels: number;
  patchSize: [number, number, number];
  hiddenSize: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  captionChannels: number;
  modelMaxLength: number;
  predSigma: boolean;
  inputSqSize: number;
  qkNorm: boolean;
  /** Temporal self-attention sees only the current and earlier frames (Ca2-VDM). */
  causalTemporal: boolean;
  scheduler: { numSamplingSteps: number; cfgScale: number; useTimestepTransform: boolean; numTimesteps: number };
  /** The config's own AdaCache block (codebooks, probe location, MoReg constants), kept verbatim. */
  adacache?: Record<string, unknown>;
  /** Latent [T, H, W] sizes the model was trained on, the first being the default. */
  latentBuckets: [number, number, number][];
  /** The caching the config's AdaCache keys ask for (do_cache: true), used when a generation names none. */
  cache?: AdaCacheSpec;
}

// Keys of the official config (hpcai-tech/OpenSora-STDiT-v3) and of this library's fixtures that
// are read, or that only matter for training or for the authors' kernels.
const KNOWN = new Set<string>([
  ...['architectures', 'model_type', 'transformers_version', 'torch_dtype', 'input_size', 'input_sq_size', 'in_channels', 'patch_size'],
  ...['hidden_size', 'depth', 'num_heads', 'mlp_ratio', 'class_dropout_prob', 'pred_sigma', 'drop_path', 'caption_channels'],
  ...['model_max_length', 'qk_norm', 'enable_flash_attn', 'enable_layernorm_kernel', 'enable_sequence_parallelism'],
  ...['only_train_temporal', 'freeze_y_embedder', 'skip_y_embedder', 'causal_temporal', 'scheduler', 'nominal_inputs'],
  ...['adacache', 'training_latent_buckets_THW'],
  ...ADACACHE_KEYS,
]);

/** The config; `warn` hears of every key that is not read (default: none reported). */
export function parseConfig(json: unknown, warn?: (message: string) => void): STDiT3Config {
  const c = configObject(json);
  if (c['skip_y_embedder'] === true) throw new ConfigError('config.json: "skip_y_embedder": true (captions without y_embedder) is not supported');
  const patch = field(c, 'patch_size', (v): v is number[] => Array.isArray(v) && v.length === 3 && v.every(isPosInt), 'three positive integers', [1, 2, 2]);
  const hiddenSize = field(c, 'hidden_size', isPosInt, 'a positive integer');
  const numHeads = field(c, 'num_heads', isPosInt, 'a positive integer');
  if (hiddenSize % numHeads !== 0) throw new ConfigError(`config.json: hidden_size ${hiddenSize} is not divisible by num_heads ${numHeads}`);
  const headDim = hiddenSize / numHeads;
  if (headDim % 2 !== 0 || headDim > 256) throw new ConfigError(`config.json: head_dim ${headDim} must be even and at most 256`);
  if (hiddenSize % 4 !== 0) throw new ConfigError(`config.json: hidden_size ${hiddenSize} must be a multiple of 4`);
  const sched = (typeof c['scheduler'] === 'object' && c['scheduler'] !== null ? c['scheduler'] : {}) as Record<string, unknown>;
  const buckets = c['training_latent_buckets_THW'];
  const latentBuckets: [number, number, number][] =
    Array.isArray(buckets) && buckets.every((b) => Array.isArray(b) && b.length === 3 && b.every(isPosInt))
      ? (buckets as [number, number, number][])
      : [[8, 16, 16]];
  const cfg: STDiT3Config = {
    inChannels: field(c, 'in_channels', isPosInt, 'a positive integer', 4),
    patchSize: patch as [number, number, number],
    hiddenSize,
    depth: field(c, 'depth', isPosInt, 'a positive integer'),
    numHeads,
    mlpRatio: field(c, 'mlp_ratio', isPosNum, 'a positive number', 4),
    captionChannels: field(c, 'caption_channels', isPosInt, 'a positive integer'),
    modelMaxLength: field(c, 'model_max_length', isPosInt, 'a positive integer'),
    predSigma: field(c, 'pred_sigma', isBool, 'a boolean', true),
    inputSqSize: field(c, 'input_sq_size', isPosInt, 'a positive integer', 512),
    qkNorm: field(c, 'qk_norm', isBool, 'a boolean', true),
    causalTemporal: field(c, 'causal_temporal', isBool, 'a boolean', false),
    scheduler: {
      numSamplingSteps: field(sched, 'num_sampling_steps', isPosInt, 'a positive integer', 30),
      cfgScale: field(sched, 'cfg_scale', (v): v is number => typeof v === 'number' && Number.isFinite(v), 'a number', 7),
      useTimestepTransform: field(sched, 'use_timestep_transform', isBool, 'a boolean', true),
      numTimesteps: field(sched, 'num_timesteps', isPosInt, 'a positive integer', 1000),
    },
    latentBuckets,
  };
  if (typeof c['adacache'] === 'object' && c['adacache'] !== null) cfg.adacache = c['adacache'] as Record<string, unknown>;
  const cache = adaCacheFromConfig(c);
  if (cache) cfg.cache = cache;
  for (const w of unknownKeys(c, KNOWN)) warn?.(w);
  if (!Number.isInteger(cfg.hiddenSize * cfg.mlpRatio)) throw new ConfigError('config.json: hidden_size * mlp_ratio must be an integer');
  return cfg;
}

export function headDim(cfg: STDiT3Config): number {
  return cfg.hiddenSize / cfg.numHeads;
}

export function outChannels(cfg: STDiT3Config): number {
  return cfg.predSigma ? 2 * cfg.inChannels : cfg.inChannels;
}
