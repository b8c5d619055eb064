// Messages between a caller and the worker thread that runs its generation or extension.
import type { CausalSTDiT2Config } from '../models/causal-stdit2/config.js';
import type { CausalSTDiT2Weights } from '../models/causal-stdit2/weights.js';
import type { STDiT3Config } from '../models/stdit3/config.js';
import type { STDiT3Weights } from '../models/stdit3/weights.js';
import type { StepInfo } from '../sampling/denoise.js';
import type { Device } from '../tensor.js';

/** Tensors cross as exported handles (the same native memory, adopted once on the other side). */
export type Handle = bigint;

/** The model, by type: its config and its weights as handles. */
export type WorkerModel =
  | { type: 'STDiT3'; config: STDiT3Config; weights: STDiT3Weights<Handle> }
  | { type: 'CausalSTDiT2'; config: CausalSTDiT2Config; weights: CausalSTDiT2Weights<Handle> };

export interface WorkerJob {
  kind: 'generate' | 'extend';
  model: WorkerModel;
  dir: string | undefined;
  device: Device;
  /** the options with tensors replaced by handles (see host.ts) */
  options: Record<string, unknown>;
  tensorFields: string[];
  /** every handle above, weights and options: the worker adopts them all before anything else */
  handles: Handle[];
  /** Int32Array(1) flag: set to 1 to stop before the next step */
  abort: SharedArrayBuffer;
}

export type WorkerMessage =
  /** the worker owns every handle of the job from now on (the caller gives them back otherwise) */
  | { type: 'adopted' }
  | { type: 'step'; info: StepInfo & { chunk?: number } }
  | { type: 'done'; latent: Handle; trace: unknown }
  | { type: 'aborted' }
  | { type: 'error'; name: string; message: string; code?: string };
