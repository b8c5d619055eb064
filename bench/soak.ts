// Soak: 200 consecutive tiny generations with caching. RSS must stay within 10% of its value
// after warm-up, and the native pool must stop growing (no new system allocations, flat cache).
//   npm run soak [-- --count 200] [-- --async]   (exit 1 when a bound is broken)
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';

import { generate, generateSync } from '../lib/generate.js';
import { loadModel } from '../lib/models/stdit3/model.js';
import { packageRoot } from '../lib/native/loader.js';
import { runtime } from '../lib/runtime.js';
import { writeResultsSection } from './harness.js';

const arg = (name: string) => {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
};
const count = Number(arg('--count') ?? 200);
const useWorker = process.argv.includes('--async');
const warmup = Math.min(20, Math.floor(count / 5));
const model = loadModel(join(packageRoot(), 'lib', 'models', 'stdit3-tiny'));
const prompts = ['a red circle moving right quickly on night', 'a white square resting on desert', 'a blue circle moving up slowly on forest'];

const mib = (b: number) => (b / 2 ** 20).toFixed(1);
let baseline = { rss: 0, pool: runtime.memoryStats() };
const started = performance.now();
for (let i = 0; i < count; i++) {
  const options = { prompt: prompts[i % prompts.length]!, seed: i, steps: 30, cache: i % 2 ? ('adacache-fast' as const) : ('adacache-fast-moreg' as const) };
  const { latent } = useWorker ? await generate(model, options) : generateSync(model, options);
  latent.dispose();
  // As an application does between requests: the event loop turns, and Node-API finalizers of the
  // step's short-lived tensor wrappers (deferred to a later turn) run.
  await nextTurn();
  if (i + 1 === warmup) {
    global.gc?.();
    baseline = { rss: process.memoryUsage().rss, pool: runtime.memoryStats() };
  }
  if ((i + 1) % 50 === 0) console.log(`${i + 1}/${count}: rss ${mib(process.memoryUsage().rss)} MiB, pool ${mib(runtime.memoryStats().bytesCached + runtime.memoryStats().bytesInUse)} MiB`);
}
global.gc?.();
const rss = process.memoryUsage().rss;
const pool = runtime.memoryStats();
const growth = (rss - baseline.rss) / baseline.rss;
const newSystemAllocs = pool.systemAllocations - baseline.pool.systemAllocations;
const poolGrowth = pool.bytesCached + pool.bytesInUse - (baseline.pool.bytesCached + baseline.pool.bytesInUse);
const ok = Math.abs(growth) <= 0.1 && poolGrowth <= 0;
const body = [
  `Command: \`npm run soak\`${useWorker ? ' -- --async' : ''} — ${count} consecutive 30-step generations of the tiny model with adacache-fast / adacache-fast+moreg (${((performance.now() - started) / 1000).toFixed(0)} s).`,
  '',
  `RSS after ${warmup} warm-up generations ${mib(baseline.rss)} MiB, after ${count} ${mib(rss)} MiB (${(100 * growth).toFixed(1)}%, bound ±10%); native pool ${mib(baseline.pool.bytesCached + baseline.pool.bytesInUse)} → ${mib(pool.bytesCached + pool.bytesInUse)} MiB, ${newSystemAllocs} system allocations after warm-up (${pool.cacheHits} of ${pool.allocations} requests served from the pool). ${ok ? 'Within bounds.' : 'OUT OF BOUNDS.'}`,
].join('\n');
console.log(body);
if (count >= 200) writeResultsSection(`Soak${useWorker ? ' (worker threads)' : ''}`, body);
model.dispose();
process.exitCode = ok ? 0 : 1;
