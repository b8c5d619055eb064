// ditcache: video diffusion transformers on native kernels, with training-free caching.
export { Tensor, tensor, empty, zeros, adoptTensor, type DType, type Device, type TensorData, type TensorOptions } from './tensor.js';
export { ops } from './ops/index.js';
export type { Activation, AttentionOptions, DistanceResult, GemmOptions, NormOptions, Patch } from './ops/index.js';
export { runtime } from './runtime.js';
