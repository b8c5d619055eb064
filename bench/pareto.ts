// Quality against latency of every caching policy on the bundled model: eight prompt/seed pairs
// from static to fast motion; per policy the wall time, speedup over 'none' measured in the same
// run, steps computed, and PSNR / SSIM of the preview against the uncached result of the same seed.
// The calibrated codebooks are fitted in this run on the same prompts (target 2.5×).
//   npm run bench:pareto [-- --quick]
import { join } from 'node:path';

import { createPolicy, type CacheOption } from '../lib/cache/index.js';
import { calibrate, calibrateFromRuns } from '../lib/cache/calibrate.js';
import { generateSync } from '../lib/generate.js';
import { loadModel } from '../lib/models/stdit3/model.js';
import { packageRoot } from '../lib/native/loader.js';
import { runtime } from '../lib/runtime.js';
import { markdownTable, writeResultsSection } from './harness.js';
import { psnr, ssim } from './quality.js';

const quick = process.argv.includes('--quick');
const PROMPTS: [string, number, 'static' | 'slow' | 'fast'][] = [
  ['a red circle resting on night', 1, 'static'],
  ['a white square resting on desert', 2, 'static'],
  ['a blue circle resting on forest', 3, 'static'],
  ['a yellow square moving left slowly on night', 4, 'slow'],
  ['a red square moving up slowly on forest', 5, 'slow'],
  ['a white circle moving right quickly on desert', 6, 'fast'],
  ['a blue square moving down quickly on night', 7, 'fast'],
  ['a yellow circle moving left quickly on forest', 8, 'fast'],
];
const prompts = quick ? PROMPTS.slice(0, 3) : PROMPTS;
const model = loadModel(join(packageRoot(), 'lib', 'models', 'stdit3-tiny'));
const steps = model.config.scheduler.numSamplingSteps;

// Both calibrations replay the same recorded runs: fitted once without MoReg and once with it.
const calNoMoregResult = calibrate(model, { prompts: prompts.map((p) => p[0]), seeds: prompts.map((p) => p[1]), steps, targetSpeedup: 2.5, moreg: false });
const cal = calibrateFromRuns(calNoMoregResult.runs, { steps, targetSpeedup: 2.5, moreg: true }, model.config.depth);
const calNoMoreg = calNoMoregResult.spec;

const policies: [string, CacheOption][] = [
  ['none', 'none'],
  ['fixed(2)', { kind: 'fixed', interval: 2 }],
  ['fixed(3)', { kind: 'fixed', interval: 3 }],
  ['adacache-slow', 'adacache-slow'],
  ['adacache-fast', 'adacache-fast'],
  ['adacache-fast+moreg (authors)', 'adacache-fast-moreg'],
  ['calibrated', calNoMoreg],
  ['calibrated+moreg', cal.spec],
];

interface Outcome { ms: number; computed: number; psnr: number; ssim: number }
const reference = new Map<string, Float32Array>();
const results = new Map<string, Outcome[]>();
for (const [name, cache] of policies) {
  const outcomes: Outcome[] = [];
  for (const [prompt, seed] of prompts) {
    const t0 = performance.now();
    const { latent, trace } = generateSync(model, { prompt, seed, cache: createPolicy(cache, steps, model.config.depth) });
    const ms = performance.now() - t0;
    const data = latent.toFloat32Array();
    if (name === 'none') reference.set(prompt, data);
    const ref = reference.get(prompt)!;
    outcomes.push({ ms, computed: trace.computedSteps.length, psnr: psnr(data, ref, latent.shape), ssim: ssim(data, ref, latent.shape) });
    latent.dispose();
  }
  results.set(name, outcomes);
  console.log(`${name}: done`);
}

const noneMs = results.get('none')!.reduce((a, o) => a + o.ms, 0);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const rows = policies.map(([name]) => {
  const o = results.get(name)!;
  const ms = o.reduce((a, x) => a + x.ms, 0);
  const finite = o.map((x) => x.psnr).filter(Number.isFinite);
  return [
    name,
    `${(ms / o.length).toFixed(0)} ms`,
    `${(noneMs / ms).toFixed(2)}×`,
    mean(o.map((x) => x.computed)).toFixed(1),
    name === 'none' ? '∞' : mean(finite).toFixed(2),
    mean(o.map((x) => x.ssim)).toFixed(4),
  ];
});
const byMotion = (name: string) =>
  (['static', 'slow', 'fast'] as const).map((m) => {
    const idx = prompts.map((p, i) => (p[2] === m ? i : -1)).filter((i) => i >= 0);
    return idx.length ? mean(idx.map((i) => results.get(name)![i]!.computed)).toFixed(1) : '–';
  });
const motionRows = ['adacache-fast', 'adacache-fast+moreg (authors)', 'calibrated', 'calibrated+moreg'].map((n) => [n, ...byMotion(n)]);

const body = [
  `Command: \`npm run bench:pareto\` — ${runtime.backends()[0]!.name}; ${prompts.length} prompt/seed pairs, ${steps} steps, CFG ${model.config.scheduler.cfgScale}; time per video and speedup over 'none' measured in the same run; PSNR (dB) and SSIM of the RGB preview against the uncached video of the same seed.`,
  `Calibrated codebooks (fitted in this run on these prompts, target 2.5×): without MoReg ${JSON.stringify(calNoMoreg.codebook.map(([t, r]) => [Number(t.toPrecision(3)), r]))}, with MoReg ${JSON.stringify(cal.spec.codebook.map(([t, r]) => [Number(t.toPrecision(3)), r]))}; MoReg normaliser = median motion ${cal.medianMotion.toFixed(3)} (the authors' constant is 0.385), exponent ${cal.spec.moreg!.hyp[1]}.`,
  '',
  markdownTable(['policy', 'time / video', 'speedup', 'steps computed', 'PSNR', 'SSIM'], rows),
  '',
  'Mean computed steps by motion of the prompt (MoReg should spend more on motion):',
  '',
  markdownTable(['policy', 'static', 'slow', 'fast'], motionRows),
].join('\n');
console.log(body);
if (!quick) writeResultsSection('Quality / latency frontier (tiny model)', body);
model.dispose();
