// The worker thread of generate() / extend(): it adopts the caller's weights (no copy), creates a
// policy module's policy, runs the steps synchronously on the library's own thread pool, reports
// each one, and stops before the next step once the shared abort flag is set.
import { parentPort, workerData } from 'node:worker_threads';

import { isPolicy, isPolicyModule } from '../cache/index.js';
import type { PolicyFactory } from '../cache/policy.js';
import type { Ca2ExtendOptions } from '../causal/ca2-extend.js';
import { extendStepsSync, type ExtendOptions } from '../causal/extend.js';
import { generateStepsSync, type GenerateOptions } from '../generate.js';
import { CausalSTDiT2 } from '../models/causal-stdit2/model.js';
import { mapCausalWeights } from '../models/causal-stdit2/weights.js';
import { STDiT3 } from '../models/stdit3/model.js';
import { mapWeights } from '../models/stdit3/weights.js';
import { iddpmSchedule } from '../sampling/iddpm.js';
import { adoptTensor, type Tensor } from '../tensor.js';
import type { WorkerJob, WorkerMessage } from './protocol.js';

const job = workerData as WorkerJob;
const post = (m: WorkerMessage) => parentPort!.postMessage(m);
const abort = new Int32Array(job.abort);

/** A policy module's policy, made by its factory for this run's steps and model. */
async function policyOf(cache: unknown, model: STDiT3 | CausalSTDiT2, steps: number | undefined): Promise<unknown> {
  if (!isPolicyModule(cache)) return cache;
  const name = cache.export ?? 'default';
  const factory = ((await import(cache.module)) as Record<string, unknown>)[name];
  if (typeof factory !== 'function') throw new TypeError(`cache module ${cache.module}: its export "${name}" is not a function`);
  const count =
    steps ??
    (model instanceof CausalSTDiT2
      ? iddpmSchedule(model.config.sampling.respacing, model.config.sampling.diffusionSteps).timestepMap.length
      : model.config.scheduler.numSamplingSteps);
  const policy = (factory as PolicyFactory)({ steps: count, depth: model.config.depth, options: cache.options });
  if (!isPolicy(policy)) throw new TypeError(`cache module ${cache.module}: "${name}" returned no CachePolicy (an object with plan())`);
  return policy;
}

const adopted: Tensor[] = [];
try {
  // Every handle first, before anything that can fail: from the acknowledgement on, this thread
  // disposes them whatever happens next; until it, the caller gives them back if this thread dies.
  const byHandle = new Map<bigint, Tensor>();
  for (const h of job.handles) {
    const t = adoptTensor(h);
    adopted.push(t);
    byHandle.set(h, t);
  }
  post({ type: 'adopted' });
  const take = (h: bigint): Tensor => byHandle.get(h)!;

  const spec = job.model;
  const model =
    spec.type === 'CausalSTDiT2'
      ? new CausalSTDiT2(spec.config, mapCausalWeights(spec.weights, take), job.device, job.dir)
      : new STDiT3(spec.config, mapWeights(spec.weights, take), job.device, job.dir);
  const options: Record<string, unknown> = { ...job.options };
  for (const field of job.tensorFields) {
    const v = options[field];
    options[field] = Array.isArray(v) ? (v as bigint[]).map(take) : take(v as bigint);
  }
  options['cache'] = await policyOf(options['cache'], model, options['steps'] as number | undefined);
  const it =
    model instanceof CausalSTDiT2
      ? extendStepsSync(model, options as unknown as Ca2ExtendOptions)
      : job.kind === 'generate'
        ? generateStepsSync(model, options as unknown as GenerateOptions)
        : extendStepsSync(model, options as unknown as ExtendOptions);
  for (;;) {
    if (Atomics.load(abort, 0) !== 0) {
      it.return(undefined as never);
      post({ type: 'aborted' });
      break;
    }
    const r = it.next();
    if (r.done) {
      post({ type: 'done', latent: r.value.latent.exportHandle(), trace: r.value.trace });
      r.value.latent.dispose();
      break;
    }
    post({ type: 'step', info: r.value });
  }
} catch (e) {
  const err = e as Error & { code?: string };
  post({ type: 'error', name: err.name, message: err.message, ...(err.code ? { code: err.code } : {}) });
} finally {
  for (const t of adopted) t.dispose();
}
