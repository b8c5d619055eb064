// Runs a generation or an extension on a worker thread, so the caller's event loop stays free:
// steps arrive as an async iterator, the result's latent comes back without a copy, and an
// AbortSignal stops the work before its next step.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';

import { CausalSTDiT2 } from '../models/causal-stdit2/model.js';
import { mapCausalWeights } from '../models/causal-stdit2/weights.js';
import type { AnyModel } from '../models/open.js';
import { mapWeights } from '../models/stdit3/weights.js';
import { packageRoot } from '../native/loader.js';
import { abortError, type StepInfo } from '../sampling/denoise.js';
import { adoptTensor, Tensor } from '../tensor.js';
import type { WorkerJob, WorkerMessage } from './protocol.js';

export function workerScript(): string {
  const path = join(packageRoot(), 'dist', 'lib', 'worker', 'worker.js');
  if (!existsSync(path)) throw new Error(`ditcache: ${path} is missing; build the package with \`npm run build:ts\``);
  return path;
}

function rebuildError(m: { name: string; message: string; code?: string }): Error {
  const Ctor = m.name === 'TypeError' ? TypeError : m.name === 'RangeError' ? RangeError : Error;
  // Errors keep their class where it is a built-in one, and their name otherwise.
  const e = new Ctor(m.message);
  if (Ctor === Error && m.name !== 'Error') e.name = m.name;
  if (m.code) Object.assign(e, { code: m.code });
  return e;
}

// A copy, so the worker never shares memory the caller may still write (or caller-owned memory).
// Each handle is recorded in `exported`, so that a job that never reaches its worker gives every
// one of them back (an exported handle holds its storage until it is adopted).
function exportCopy(t: Tensor, exported: bigint[]): bigint {
  const c = t.clone();
  try {
    const h = c.exportHandle();
    exported.push(h);
    return h;
  } finally {
    c.dispose();
  }
}

/** Tensors in `options` (a tensor or an array of tensors per field) become handles of copies. */
function exportTensors(
  options: Record<string, unknown>,
  exported: bigint[],
): { options: Record<string, unknown>; tensorFields: string[] } {
  const out: Record<string, unknown> = {};
  const tensorFields: string[] = [];
  for (const [k, v] of Object.entries(options)) {
    if (typeof v === 'function' || v instanceof AbortSignal) continue;
    if (v instanceof Tensor) {
      out[k] = exportCopy(v, exported);
      tensorFields.push(k);
    } else if (Array.isArray(v) && v.length > 0 && v.every((t) => t instanceof Tensor)) {
      out[k] = (v as Tensor[]).map((t) => exportCopy(t, exported));
      tensorFields.push(k);
    } else {
      out[k] = v;
    }
  }
  return { options: out, tensorFields };
}

export interface WorkerResult {
  latent: Tensor;
  trace: unknown;
}

export async function* runInWorker<S extends StepInfo = StepInfo>(
  model: AnyModel,
  kind: WorkerJob['kind'],
  options: Record<string, unknown>,
  signal?: AbortSignal,
): AsyncGenerator<S, WorkerResult, void> {
  if (signal?.aborted) throw abortError(signal);
  const abort = new SharedArrayBuffer(4);
  const flag = new Int32Array(abort);
  const handles: bigint[] = [];
  let worker: Worker;
  try {
    const exported = exportTensors(options, handles);
    const handle = (t: Tensor) => {
      const h = t.exportHandle();
      handles.push(h);
      return h;
    };
    const job: WorkerJob = {
      kind,
      model:
        model instanceof CausalSTDiT2
          ? { type: 'CausalSTDiT2', config: model.config, weights: mapCausalWeights(model.weights, handle) }
          : { type: 'STDiT3', config: model.config, weights: mapWeights(model.weights, handle) },
      dir: model.dir,
      device: model.device,
      ...exported,
      handles,
      abort,
    };
    worker = new Worker(workerScript(), { workerData: job });
  } catch (e) {
    for (const h of handles) adoptTensor(h).dispose();
    throw e;
  }
  const queue: WorkerMessage[] = [];
  let wake: (() => void) | null = null;
  let failure: Error | null = null;
  let exited = false;
  let adopted = false;
  const push = (m: WorkerMessage) => {
    queue.push(m);
    wake?.();
  };
  worker.on('message', push);
  worker.on('error', (e) => {
    failure = e;
    wake?.();
  });
  worker.on('exit', (code) => {
    exited = true;
    if (code !== 0 && !failure) failure = new Error(`ditcache worker exited with code ${code}`);
    wake?.();
  });
  const onAbort = () => Atomics.store(flag, 0, 1);
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    for (;;) {
      while (queue.length === 0 && !failure) await new Promise<void>((r) => (wake = r));
      wake = null;
      const m = queue.shift();
      if (!m) throw failure!;
      switch (m.type) {
        case 'adopted':
          adopted = true;
          break;
        case 'step':
          // A step that finished while the abort was on its way is not reported.
          if (!signal?.aborted) yield m.info as S;
          break;
        case 'done':
          return { latent: adoptTensor(m.latent), trace: m.trace };
        case 'aborted':
          throw abortError(signal!);
        case 'error':
          throw rebuildError(m);
      }
    }
  } finally {
    signal?.removeEventListener('abort', onAbort);
    Atomics.store(flag, 0, 1);
    if (!exited) {
      // The worker ends by itself after its last message, or before its next step once aborted.
      await new Promise<void>((resolve) => worker.once('exit', () => resolve()));
    }
    // Every message has arrived by the exit. A result nobody took (the caller stopped iterating
    // after it was sent) is given back; so is every handle of the job when the worker died before
    // it adopted them (its script failed to load, or it was terminated).
    for (const m of queue) {
      if (m.type === 'adopted') adopted = true;
      if (m.type === 'done') adoptTensor(m.latent).dispose();
    }
    if (!adopted) {
      for (const h of handles) {
        try {
          adoptTensor(h).dispose();
        } catch {
          // adopted, and disposed, by a worker that failed before acknowledging
        }
      }
    }
  }
}
