// The op surface: synchronous ops and the same ops returning Promises under `ops.async`. The
// timed forms for benchmarks are `timedOps`, exported by the ditcache/bench entry.
import { attention } from './attention.js';
import { gemm, packWeight } from './gemm.js';
import { patchify, unpatchify } from './layout.js';
import { motionScore, residualDistance } from './metrics.js';
import { activate, add, axpby, layerNorm, modulate, mul, rmsNorm, rope, softmax } from './rowwise.js';

const pairs = {
  gemm,
  attention,
  layerNorm,
  rmsNorm,
  modulate,
  activate,
  add,
  axpby,
  mul,
  softmax,
  rope,
  patchify,
  unpatchify,
  residualDistance,
  motionScore,
};

type Pairs = typeof pairs;
type SyncOps = { [K in keyof Pairs]: Pairs[K]['sync'] };
type AsyncOps = { [K in keyof Pairs]: Pairs[K]['async'] };
type TimedOps = { [K in keyof Pairs]: Pairs[K]['timed'] };

function pick<F extends 'sync' | 'async' | 'timed'>(form: F) {
  return Object.fromEntries(Object.entries(pairs).map(([name, pair]) => [name, pair[form]]));
}

/**
 * The ops. `ops.async.*` take the same arguments and resolve with the same result, running the
 * kernel on a libuv worker thread; they reject a tensor that shares caller memory (`tensor(data,
 * shape)` without `copy: true`, or a view of one) with a TypeError, code DC_ERR_INVALID_ARGUMENT,
 * because the caller's ArrayBuffer could be transferred, detached or shrunk while the worker reads
 * or writes it. Tensors the library allocates (`empty`, `zeros`, op outputs, `clone()`) qualify.
 */
export const ops: SyncOps & { packWeight: typeof packWeight; async: AsyncOps } = Object.freeze({
  ...(pick('sync') as SyncOps),
  packWeight,
  async: Object.freeze(pick('async') as AsyncOps),
});

/** timedOps.x(repeat, ...args): seconds of each of `repeat` back-to-back runs, timed natively. */
export const timedOps: TimedOps = Object.freeze(pick('timed') as TimedOps);

export type { Activation, GemmOptions } from './gemm.js';
export type { AttentionOptions } from './attention.js';
export type { NormOptions } from './rowwise.js';
export type { DistanceResult } from './metrics.js';
export { patchGrid, type Patch } from './layout.js';
