// ditcache: video diffusion transformers on native kernels, with training-free caching.
export { Tensor, tensor, empty, zeros, adoptTensor, type DType, type Device, type TensorData, type TensorOptions } from './tensor.js';
export { ops } from './ops/index.js';
export type { Activation, AttentionOptions, DistanceResult, GemmOptions, NormOptions, Patch } from './ops/index.js';
export { runtime, ISAS, type Isa, type IsaState } from './runtime.js';

export { loadModel, STDiT3, CaptionState, type ForwardInputs } from './models/stdit3/model.js';
export { bundledModel, BUNDLED_MODELS, type BundledModelName } from './models/bundled.js';
export { parseConfig, ConfigError, type STDiT3Config } from './models/stdit3/config.js';
export { CheckpointError } from './models/stdit3/weights.js';
export { CausalSTDiT2, loadCausalSTDiT2, type CausalForwardInputs } from './models/causal-stdit2/model.js';
export { parseCausalConfig, type CausalSTDiT2Config } from './models/causal-stdit2/config.js';
export { openModel, modelTypeOf, type AnyModel } from './models/open.js';
export { Vocabulary, type Caption } from './text/vocabulary.js';
export { generate, generateSteps, generateSync, generateStepsSync, vocabularyOf, type GenerateOptions, type GenerationResult, type GenerationTrace } from './generate.js';
export { extend, extendSteps, extendSync, extendStepsSync, type ExtendOptions, type ExtendResult, type KvCacheMode, type ChunkTrace } from './causal/extend.js';
export { TemporalKvCache } from './causal/kv-cache.js';
export { Ca2KvCache } from './causal/ca2-cache.js';
export type { StepInfo } from './sampling/denoise.js';
export { gaussianNoise } from './sampling/noise.js';
export { samplingSchedule, timestepTransform } from './sampling/rflow.js';

export {
  none,
  fixed,
  adaCache,
  teaCache,
  firstBlockCache,
  magCache,
  pab,
  fasterCache,
  compose,
  perGroup,
  createPolicy,
  adaCachePreset,
  presetSpec,
  PRESET_NAMES,
  ResidualCache,
  type PresetName,
  type AdaCachePresetName,
  type PolicyModuleSpec,
  type PolicyFactory,
  type PolicyContext,
  type CacheOption,
  type CachePolicy,
  type CacheSpec,
  type AdaCacheSpec,
  type TeaCacheSpec,
  type FirstBlockCacheSpec,
  type MagCacheSpec,
  type PabSpec,
  type FasterCacheSpec,
  type ComposeSpec,
  type DecisionGroups,
  type MoRegSpec,
  type Evaluation,
  type StepDecision,
  type StepContext,
  type StepPlan,
  type BlockPlan,
  type Gate,
  type Probe,
  type Observation,
  type RowOutcome,
} from './cache/index.js';
export { calibrate, recordRuns, fitPolicy, CALIBRATED_POLICIES, type CalibratedPolicy, type CalibrationOptions, type CalibrationResult, type CalibrationRun } from './cache/calibrate.js';

export { NonFiniteError } from './util/finite.js';
export { SafetensorsReader, SafetensorsError, writeSafetensors } from './io/safetensors.js';
export { decodePreview, encodeGif, encodePng, encodePngStrip, scheduleSvg, type Preview, type ScheduleTrace } from './video/index.js';

import type { STDiT3 } from './models/stdit3/model.js';
import { vocabularyOf } from './generate.js';
import type { Caption } from './text/vocabulary.js';

/** Caption words → y [b, 1, L, caption_channels] and mask [b][L] with the model's vocabulary. */
export function encodePrompts(model: STDiT3, prompts: string | string[]): Caption {
  return vocabularyOf(model).encode(Array.isArray(prompts) ? prompts : [prompts], model.device);
}
