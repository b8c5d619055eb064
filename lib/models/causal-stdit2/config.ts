// CausalSTDiT2 (Ca2-VDM) configuration: "model_type": "CausalSTDiT2" and the keyword arguments of
// the authors' constructor spelled as their configs do (configs/causal_stdit/*.py, model=dict(...);
// opensora/models/causal_stdit2/causal_stdit2.py, CausalSTDiT2.__init__ and the registered
// CausalSTDiT2-XL/2, -Base and -Tiny), plus the inference settings of their sampling configs.
import type { AdaCacheSpec } from '../../cache/policy.js';
import {
  ADACACHE_KEYS,
  ConfigError,
  adaCacheFromConfig,
  configObject,
  field,
  isBool,
  isIntList,
  isNonNegInt,
  isNum,
  isObject,
  isPosInt,
  isPosNum,
  unknownKeys,
  type Fields,
} from '../config-fields.js';

export type TpeMode = 'cyclic' | 'rope' | null;

export interface CausalSTDiT2Config {
  /** [T, H, W] latent size: H and W fix the spatial position embedding (T is not used) */
  inputSize: [number, number, number];
  inChannels: number;
  patchSize: [number, number, number];
  hiddenSize: number;
  depth: number;
  numHeads: number;
  mlpRatio: number;
  predSigma: boolean;
  /** 0: a text-free model (no caption embedder, no cross-attention) */
  captionChannels: number;
  modelMaxLength: number;
  /** 1: the frame's mask channel (1 = clean prefix) enters temporal attention through attn_temp_pre_merge */
  tempExtraInChannels: number;
  /** every block, not only block 0, has the mask-channel merge */
  tempExtraInAllBlock: boolean;
  /** frames of the temporal position embedding; positions wrap around it ('cyclic') */
  maxTpeLen: number;
  /** 'cyclic': sinusoidal TPE at (frame counter + i) mod maxTpeLen added before block 0; 'rope': rotary in every temporal attention; null: absolute TPE */
  relativeTpeMode: TpeMode;
  /** prefix-enhanced spatial attention over the last N prefix frames (cross_frame_attn 'prev_prefix_N'); 0 = none */
  prefixFrames: number;
  /** defaults of the authors' sampling configs */
  sampling: {
    /** iDDPM respacing of the diffusion steps: scheduler.num_sampling_steps as a string, else its timestep_respacing ('' = none) */
    respacing: string;
    /** scheduler.diffusion_steps (1000) */
    diffusionSteps: number;
    /** guidance only when > 1 */
    cfgScale: number;
    /** sample_cfgs.auto_regre_chunk_len */
    chunkFrames: number;
    /** kv_cache_max_seqlen: frames the temporal KV cache holds */
    cacheFrames: number;
    /** prefix_perturb_t: the frames written to the cache are noised to this (un-respaced) timestep; <= 0: not noised */
    prefixPerturbT: number;
  };
  /** The caching the config's AdaCache keys ask for (do_cache: true). */
  cache?: AdaCacheSpec;
}

/** The sizes the authors' registered variants fix (the registry passes them as keyword arguments). */
const VARIANTS: Record<string, { depth: number; hidden_size: number; num_heads: number; patch_size: number[] }> = {
  'CausalSTDiT2-XL/2': { depth: 28, hidden_size: 1152, num_heads: 16, patch_size: [1, 2, 2] },
  'CausalSTDiT2-Base': { depth: 14, hidden_size: 1152, num_heads: 16, patch_size: [1, 2, 2] },
  'CausalSTDiT2-Tiny': { depth: 2, hidden_size: 1152, num_heads: 16, patch_size: [1, 2, 2] },
};

// Read, or without effect at inference (dropout, initialisation, training and kernel switches).
const KNOWN = new Set<string>([
  ...['model_type', 'type', 'architectures', 'torch_dtype', 'input_size', 'in_channels', 'patch_size', 'hidden_size', 'depth'],
  ...['num_heads', 'mlp_ratio', 'class_dropout_prob', 'pred_sigma', 'drop_path', 'no_temporal_pos_emb', 'caption_channels'],
  ...['model_max_length', 'space_scale', 'time_scale', 'temp_extra_in_channels', 'temp_extra_in_all_block', 'max_tpe_len'],
  ...['temporal_max_len', 'relative_tpe_mode', 'freeze', 'enable_flashattn', 'enable_layernorm_kernel', 'enable_sequence_parallelism'],
  ...['spatial_attn_enhance', 'cross_frame_attn', 'is_causal', 'from_pretrained', 'from_scratch', 't_win_size'],
  ...['scheduler', 'sample_cfgs', 'kv_cache_max_seqlen', 'max_condion_frames', 'prefix_perturb_t', 'enable_kv_cache', 'kv_cache_dequeue'],
  ...ADACACHE_KEYS,
]);

const SCHEDULER_KEYS = new Set(['type', 'num_sampling_steps', 'cfg_scale', 'progressive_alpha', 'timestep_respacing', 'diffusion_steps']);

function prefixFrames(c: Fields): number {
  // The constructor maps cross_frame_attn 'prev_prefix_N' to spatial_attn_enhance 'prev_frames_N'.
  let mode = c['spatial_attn_enhance'] ?? null;
  const cf = c['cross_frame_attn'] ?? null;
  if (mode === null && typeof cf === 'string') mode = cf.replace('prev_prefix_', 'prev_frames_');
  else if (cf !== null && typeof cf !== 'string') throw new ConfigError(`config.json: "cross_frame_attn" must be a string or null, got ${JSON.stringify(cf)}`);
  if (mode === null) return 0;
  const m = typeof mode === 'string' ? /^prev_frames_([1-9]\d*)$/.exec(mode) : null;
  if (!m) {
    throw new ConfigError(`config.json: prefix spatial attention ${JSON.stringify(mode)} is not supported; expected "prev_prefix_N" (cross_frame_attn) or "prev_frames_N", or null`);
  }
  return Number(m[1]);
}

function respacing(sched: Fields): string {
  const n = sched['num_sampling_steps'];
  const r = sched['timestep_respacing'];
  if (n !== undefined && n !== null) {
    if (r !== undefined && r !== null) throw new ConfigError('config.json: scheduler gives both "num_sampling_steps" and "timestep_respacing"');
    if (!isPosInt(n)) throw new ConfigError(`config.json: scheduler "num_sampling_steps" must be a positive integer, got ${JSON.stringify(n)}`);
    return String(n);
  }
  if (r === undefined || r === null) return '100';
  if (typeof r !== 'string') throw new ConfigError(`config.json: scheduler "timestep_respacing" must be a string, got ${JSON.stringify(r)}`);
  return r;
}

function tpeMode(c: Fields): TpeMode {
  const mode = c['relative_tpe_mode'] ?? null;
  if (mode === null || mode === 'cyclic' || mode === 'rope') return mode;
  throw new ConfigError(`config.json: "relative_tpe_mode" ${JSON.stringify(mode)} is not supported at inference; expected "cyclic", "rope" or null`);
}

/** The config; `warn` hears of every key that is not read (default: none reported). */
export function parseCausalConfig(json: unknown, warn?: (message: string) => void): CausalSTDiT2Config {
  const c = { ...configObject(json) };
  if (c['model_type'] !== 'CausalSTDiT2') throw new ConfigError(`config.json: "model_type" must be "CausalSTDiT2", got ${JSON.stringify(c['model_type'])}`);
  if (c['type'] !== undefined) {
    const v = VARIANTS[c['type'] as string];
    if (!v) throw new ConfigError(`config.json: "type" ${JSON.stringify(c['type'])} is not one of ${Object.keys(VARIANTS).join(', ')}`);
    for (const [k, value] of Object.entries(v)) {
      if (c[k] !== undefined && JSON.stringify(c[k]) !== JSON.stringify(value)) {
        throw new ConfigError(`config.json: "${k}" ${JSON.stringify(c[k])} contradicts "type" ${c['type']} (${JSON.stringify(value)})`);
      }
      c[k] = value;
    }
  }
  const isCausal = c['is_causal'] ?? true;
  if (isCausal !== true) throw new ConfigError(`config.json: "is_causal" ${JSON.stringify(isCausal)} is not supported; the KV cache needs causal temporal attention (true)`);
  const patch = field(c, 'patch_size', isIntList(3), 'three positive integers', [1, 2, 2]) as [number, number, number];
  if (patch[0] !== 1) throw new ConfigError(`config.json: "patch_size" must have a temporal patch of 1 for autoregressive generation, got ${JSON.stringify(patch)}`);
  const inputSize = field(c, 'input_size', (v): v is number[] => Array.isArray(v) && v.length === 3 && v.every(isPosInt), 'three positive integers', [16, 32, 32]);
  if (inputSize[1]! % patch[1] !== 0 || inputSize[2]! % patch[2] !== 0) {
    throw new ConfigError(`config.json: "input_size" ${JSON.stringify(inputSize)} must be divisible by the patch ${JSON.stringify(patch)}`);
  }
  const hiddenSize = field(c, 'hidden_size', isPosInt, 'a positive integer', 1152);
  const numHeads = field(c, 'num_heads', isPosInt, 'a positive integer', 16);
  if (hiddenSize % numHeads !== 0) throw new ConfigError(`config.json: hidden_size ${hiddenSize} is not divisible by num_heads ${numHeads}`);
  const headDim = hiddenSize / numHeads;
  if (headDim % 2 !== 0 || headDim > 256) throw new ConfigError(`config.json: head_dim ${headDim} must be even and at most 256`);
  const mlpRatio = field(c, 'mlp_ratio', isPosNum, 'a positive number', 4);
  if (!Number.isInteger(hiddenSize * mlpRatio)) throw new ConfigError('config.json: hidden_size * mlp_ratio must be an integer');
  const tempExtra = field(c, 'temp_extra_in_channels', isNonNegInt, 'a non-negative integer', 0);
  if (tempExtra > 1) throw new ConfigError(`config.json: "temp_extra_in_channels" ${tempExtra}: the mask channel is one channel (0 or 1)`);
  const maxTpe = c['temporal_max_len'] ?? c['max_tpe_len'] ?? 64;
  if (!isPosInt(maxTpe)) throw new ConfigError(`config.json: "max_tpe_len" must be a positive integer, got ${JSON.stringify(maxTpe)}`);

  const sched = c['scheduler'] ?? {};
  if (!isObject(sched)) throw new ConfigError(`config.json: "scheduler" must be an object, got ${JSON.stringify(sched)}`);
  if (sched['type'] !== undefined && sched['type'] !== 'iddpm') throw new ConfigError(`config.json: scheduler "type" ${JSON.stringify(sched['type'])} is not supported; expected "iddpm"`);
  const alpha = sched['progressive_alpha'] ?? -1;
  if (!isNum(alpha) || alpha > 0) throw new ConfigError(`config.json: scheduler "progressive_alpha" ${JSON.stringify(alpha)} is not supported (only <= 0)`);
  const sampleCfgs = c['sample_cfgs'] ?? {};
  if (!isObject(sampleCfgs)) throw new ConfigError(`config.json: "sample_cfgs" must be an object, got ${JSON.stringify(sampleCfgs)}`);
  const cacheFrames = c['kv_cache_max_seqlen'] ?? c['max_condion_frames'] ?? 25;
  if (!isPosInt(cacheFrames)) throw new ConfigError(`config.json: "kv_cache_max_seqlen" must be a positive integer, got ${JSON.stringify(cacheFrames)}`);

  const cfg: CausalSTDiT2Config = {
    inputSize: inputSize as [number, number, number],
    inChannels: field(c, 'in_channels', isPosInt, 'a positive integer', 4),
    patchSize: patch,
    hiddenSize,
    depth: field(c, 'depth', isPosInt, 'a positive integer', 28),
    numHeads,
    mlpRatio,
    predSigma: field(c, 'pred_sigma', isBool, 'a boolean', true),
    captionChannels: field(c, 'caption_channels', isNonNegInt, 'a non-negative integer', 4096),
    modelMaxLength: field(c, 'model_max_length', isPosInt, 'a positive integer', 120),
    tempExtraInChannels: tempExtra,
    tempExtraInAllBlock: field(c, 'temp_extra_in_all_block', isBool, 'a boolean', false),
    maxTpeLen: maxTpe,
    relativeTpeMode: tpeMode(c),
    prefixFrames: prefixFrames(c),
    sampling: {
      respacing: respacing(sched),
      diffusionSteps: field(sched, 'diffusion_steps', isPosInt, 'a positive integer', 1000),
      cfgScale: field(sched, 'cfg_scale', isNum, 'a number', 1),
      chunkFrames: field(sampleCfgs, 'auto_regre_chunk_len', isPosInt, 'a positive integer', 8),
      cacheFrames,
      prefixPerturbT: field(c, 'prefix_perturb_t', isNum, 'a number', 50),
    },
  };
  const cache = adaCacheFromConfig(c);
  if (cache) cfg.cache = cache;
  if (warn) {
    for (const w of unknownKeys(c, KNOWN)) warn(w);
    for (const k of Object.keys(sched)) if (!SCHEDULER_KEYS.has(k)) warn(`config.json: scheduler "${k}" is not a setting this library knows; it is ignored`);
  }
  return cfg;
}

export function causalHeadDim(cfg: CausalSTDiT2Config): number {
  return cfg.hiddenSize / cfg.numHeads;
}

/** Tokens per frame. */
export function tokensPerFrame(cfg: CausalSTDiT2Config): number {
  return (cfg.inputSize[1] / cfg.patchSize[1]) * (cfg.inputSize[2] / cfg.patchSize[2]);
}
