// bf16 against fp32 on the bundled model, over the bench prompts: how often AdaCache (with and
// without MoReg) decides differently when its distances are measured on a bf16 forward, and how
// far the bf16 video is from the fp32 one (PSNR / SSIM of the preview, cached and uncached).
// The distances themselves are fp32 sums over fp32 residuals in both runs; only the forward's
// GEMM and attention operands differ.
//   npm run bench:bf16 [-- --quick]
import { join } from 'node:path';

import { generateSync } from '../lib/generate.js';
import { loadModel } from '../lib/models/stdit3/model.js';
import { packageRoot } from '../lib/native/loader.js';
import { runtime } from '../lib/runtime.js';
import { markdownTable, writeResultsSection } from './harness.js';
import { BENCH_PROMPTS } from './prompts.js';
import { psnr, ssim } from './quality.js';

const quick = process.argv.includes('--quick');
const prompts = quick ? BENCH_PROMPTS.slice(0, 2) : BENCH_PROMPTS;
const dir = join(packageRoot(), 'lib', 'models', 'stdit3-tiny');
const models = { f32: loadModel(dir), bf16: loadModel(dir, { dtype: 'bf16' }) };
const caches = ['none', 'adacache-fast', 'adacache-fast-moreg'] as const;

const rows: (string | number)[][] = [];
for (const cache of caches) {
  let differing = 0, stepsApart = 0, computedF32 = 0, computedBf16 = 0;
  const quality: [number, number][] = [];
  for (const [prompt, seed] of prompts) {
    const runs = (['f32', 'bf16'] as const).map((d) => generateSync(models[d], { prompt, seed, cache }));
    const [a, b] = runs.map((r) => r.trace.computedSteps) as [number[], number[]];
    const onlyOne = a.filter((s) => !b.includes(s)).length + b.filter((s) => !a.includes(s)).length;
    if (onlyOne > 0) differing++;
    stepsApart += onlyOne;
    computedF32 += a.length;
    computedBf16 += b.length;
    const [la, lb] = runs.map((r) => r.latent.toFloat32Array()) as [Float32Array, Float32Array];
    quality.push([psnr(lb, la, runs[0]!.latent.shape), ssim(lb, la, runs[0]!.latent.shape)]);
    for (const r of runs) r.latent.dispose();
  }
  const n = prompts.length;
  const mean = (i: 0 | 1) => quality.reduce((s, q) => s + q[i], 0) / n;
  rows.push([
    cache,
    `${differing} / ${n}`,
    (stepsApart / n).toFixed(2),
    `${(computedF32 / n).toFixed(1)} / ${(computedBf16 / n).toFixed(1)}`,
    mean(0).toFixed(1),
    mean(1).toFixed(4),
  ]);
}
for (const m of Object.values(models)) m.dispose();

const table = markdownTable(
  ['cache', 'videos whose schedule differs', 'steps computed by one run only, per video', 'steps computed, fp32 / bf16', 'PSNR bf16 vs fp32 (dB)', 'SSIM'],
  rows,
);
console.log(table);
if (!quick) {
  writeResultsSection(
    'bf16 against fp32: caching decisions and quality',
    `Command: \`npm run bench:bf16\` — ${runtime.backends()[0]!.name}, dispatch: ${runtime.isa().dispatch}. ` +
      `${prompts.length} prompt/seed pairs (bench/prompts.ts), 30 steps, CFG 7, the bundled tiny model loaded with dtype f32 and bf16. ` +
      'A schedule differs when the two runs compute a different set of steps; PSNR and SSIM compare the bf16 preview with the fp32 one of the same cache setting.\n\n' +
      table,
  );
}
