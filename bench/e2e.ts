// End-to-end timings of the bundled tiny model: one forward (CFG batch of 2), a 30-step generation
// uncached and with adacache-fast, the share of a step by op kind and outside native code, and
// adacache-fast's measured speedup against its ideal.
//   npm run bench:e2e [-- --quick]
import { join } from 'node:path';

import { generateSync } from '../lib/generate.js';
import { loadModel } from '../lib/models/stdit3/model.js';
import { packageRoot } from '../lib/native/loader.js';
import { startProfile, stopProfile } from '../lib/ops/profile.js';
import { runtime } from '../lib/runtime.js';
import { tensor } from '../lib/tensor.js';
import { gaussianNoise } from '../lib/sampling/noise.js';
import { Vocabulary } from '../lib/text/vocabulary.js';
import { markdownTable, median, writeResultsSection } from './harness.js';

const quick = process.argv.includes('--quick');
const dir = join(packageRoot(), 'lib', 'models', 'stdit3-tiny');
const model = loadModel(dir);
const vocab = Vocabulary.load(dir);
const prompt = 'a yellow circle moving down quickly on forest';
const { y, mask } = vocab.encode([prompt, prompt]);
const [T, H, W] = model.config.latentBuckets[0]!;
const x = tensor(gaussianNoise(1, 2 * 4 * T * H * W), [2, 4, T, H, W]);
const caption = model.encodeCaption(y, mask);
const forwardInputs = { x, timestep: [500, 500], caption, fps: 24, height: 8 * H, width: 8 * W };

for (let i = 0; i < 3; i++) model.run(forwardInputs, { velocityOnly: true }).out!.dispose();
const forwardMs: number[] = [];
const kinds = new Map<string, number>();
let profiledTotal = 0;
for (let i = 0; i < (quick ? 5 : 20); i++) {
  startProfile();
  const t0 = performance.now();
  model.run(forwardInputs, { velocityOnly: true }).out!.dispose();
  const ms = performance.now() - t0;
  forwardMs.push(ms);
  profiledTotal += ms;
  for (const [op, t] of stopProfile()) {
    const kind = op === 'gemm' ? 'GEMM' : op === 'attention' ? 'attention' : 'norms / elementwise / layout';
    kinds.set(kind, (kinds.get(kind) ?? 0) + t.ms);
  }
}
const nativeMs = [...kinds.values()].reduce((a, b) => a + b, 0);
kinds.set('outside native code', profiledTotal - nativeMs);

const run = (cache: string) => {
  const t0 = performance.now();
  const r = generateSync(model, { prompt, seed: 3, cache });
  const ms = performance.now() - t0;
  r.latent.dispose();
  return { ms, trace: r.trace };
};
run('none');
// Alternating runs share whatever else the machine is doing.
const reps = quick ? 1 : 5;
const none: ReturnType<typeof run>[] = [];
const fast: ReturnType<typeof run>[] = [];
for (let i = 0; i < reps; i++) {
  none.push(run('none'));
  fast.push(run('adacache-fast'));
}
const noneMs = median(none.map((r) => r.ms));
const fastMs = median(fast.map((r) => r.ms));
const trace = fast[0]!.trace;
const computed = trace.computedSteps;
const fullStep = median(none.flatMap((r) => r.trace.stepMs));
const cachedStep = median(fast.flatMap((r) => r.trace.stepMs.filter((_, i) => !computed.includes(i + 1))));
const idealAvg = (computed.length * fullStep + (trace.steps - computed.length) * cachedStep) / trace.steps;
const ideal = fullStep / idealAvg;
const measured = noneMs / fastMs;

const rows: (string | number)[][] = [
  ['forward (CFG batch 2)', `${median(forwardMs).toFixed(2)} ms`, ''],
  ['30-step generation, none', `${noneMs.toFixed(0)} ms`, '1.00×'],
  [`30-step generation, adacache-fast (${computed.length}/30 computed)`, `${fastMs.toFixed(0)} ms`, `${measured.toFixed(2)}×`],
  ['full step / cached step', `${fullStep.toFixed(2)} ms / ${cachedStep.toFixed(2)} ms`, ''],
  ['adacache-fast: measured / ideal speedup', `${measured.toFixed(2)}× / ${ideal.toFixed(2)}×`, `${((100 * measured) / ideal).toFixed(0)}% of ideal`],
  ['residual cache (summed) vs per-block', `${(trace.cacheBytes / 2 ** 20).toFixed(2)} MiB vs ${(trace.perBlockCacheBytes / 2 ** 20).toFixed(2)} MiB`, ''],
];
const share = [...kinds].map(([k, ms]) => [k, `${(ms / forwardMs.length).toFixed(2)} ms`, `${((100 * ms) / profiledTotal).toFixed(1)}%`]);
const machine = `${runtime.backends()[0]!.name}, ${runtime.isa().active}`;
const body = [
  `Command: \`npm run bench:e2e\` — ${machine}; model ${model.config.hiddenSize} hidden, depth ${model.config.depth}, latent ${T}×${H}×${W}; medians of ${forwardMs.length} forwards and ${reps} generation(s) per policy, all measured in this run.`,
  '',
  markdownTable(['what', 'time', 'ratio'], rows),
  '',
  'Share of a forward by op kind (wall time inside each native call; "outside" is everything else: argument checks, tensor objects, views):',
  '',
  markdownTable(['op kind', 'per forward', 'share'], share),
].join('\n');
console.log(body);
if (!quick) writeResultsSection('End to end (tiny model)', body);
caption.dispose();
model.dispose();
