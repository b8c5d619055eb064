import { writeFileSync } from 'node:fs';

import { PRESET_NAMES } from '../cache/index.js';
import { generate, type GenerationTrace } from '../generate.js';
import { scheduleSvg, type ScheduleTrace } from '../video/index.js';
import { BUNDLED_MODEL, modelFolder, MACHINE_OPTIONS, UsageError, applyMachineOptions, loadCliModel, cacheOption, checkOutputs, intOption, numberOption, parse, seconds, writeOutputs } from './common.js';
import { createProgress } from './progress.js';

export const GENERATE_HELP = `ditcache generate --prompt "..." [options]

  --prompt TEXT        caption in the model's vocabulary (required)
  --model DIR|NAME     STDiT3 folder (config.json, model.safetensors, vocab.json) or a bundled model's name; default: the bundled tiny model
  --steps N            sampling steps (default: the model's, 30)
  --seed N             noise seed (default 0)
  --cfg X              classifier-free guidance scale (default: the model's, 7)
  --cache NAME|FILE    a preset: ${PRESET_NAMES.join(', ')};
                       NAME/branch or NAME/sample: each CFG branch or each batch row decides on its own;
                       STEP+BRANCH: a step-level policy with pab* or fastercache* (e.g. teacache-fast+pab);
                       or a JSON spec from \`ditcache calibrate\`
  --out FILE.gif       animated preview (default demo.gif)
  --strip FILE.png     PNG strip of the frames
  --num-frames N       nominal frame count (4 per latent frame; >= 17), --height / --width PIXELS (8 per latent cell)
  --latent FILE.safetensors  the latent (tensor "latent")
  --plot FILE.svg      the caching schedule: the policy's signal and threshold (or AdaCache's rate), what each row did, the work per step
  --dtype f32|bf16     weights and GEMM/attention operands (default f32; bf16 runs on AMX tiles where the CPU has them)
  --threads N, --isa amx|avx512_bf16|avx512|avx2|portable`;

export async function generateCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    prompt: { type: 'string' },
    model: { type: 'string' },
    steps: { type: 'string' },
    seed: { type: 'string' },
    cfg: { type: 'string' },
    cache: { type: 'string' },
    strip: { type: 'string' },
    'num-frames': { type: 'string' },
    height: { type: 'string' },
    width: { type: 'string' },
    out: { type: 'string' },
    latent: { type: 'string' },
    plot: { type: 'string' },
    ...MACHINE_OPTIONS,
  });
  if (values.help) {
    console.log(GENERATE_HELP);
    return 0;
  }
  if (!values.prompt) throw new UsageError('--prompt is required\n\n' + GENERATE_HELP);
  const outputs = { out: values.out ?? 'demo.gif', strip: values.strip, latent: values.latent, plot: values.plot };
  checkOutputs(outputs);
  applyMachineOptions(values);
  const model = loadCliModel(modelFolder(values.model, BUNDLED_MODEL), values.dtype);
  const steps = intOption(values.steps, 'steps', model.config.scheduler.numSamplingSteps)!;
  const progress = createProgress({ total: steps, label: 'denoising' });
  const numFrames = intOption(values['num-frames'], 'num-frames');
  const height = intOption(values.height, 'height');
  const width = intOption(values.width, 'width');
  const cfgScale = numberOption(values.cfg, 'cfg');
  const cache = cacheOption(values.cache);
  const { latent, trace } = await generate(model, {
    prompt: values.prompt,
    seed: intOption(values.seed, 'seed', 0)!,
    steps,
    ...(cfgScale !== undefined ? { cfgScale } : {}),
    ...(numFrames !== undefined ? { numFrames } : {}),
    ...(height !== undefined ? { height } : {}),
    ...(width !== undefined ? { width } : {}),
    ...(cache !== undefined ? { cache } : {}),
    onStep: (s) => progress.tick(s.step, s.computed ? 'computed' : 'cached'),
  });
  const written = writeOutputs(latent, outputs);
  if (values.plot) {
    writeFileSync(values.plot, scheduleSvg(scheduleOf(trace, `${values.prompt} — ${trace.policy}`)));
    written.push(values.plot);
  }
  const [, , T, H, W] = latent.shape;
  progress.finish(
    `generated ${T}×${H}×${W} latent in ${seconds(trace.totalMs)}: ${trace.computedSteps.length}/${trace.steps} steps computed (${trace.policy}), ${(100 * trace.computedFraction).toFixed(0)}% of the block work → ${written.join(', ')}`,
  );
  latent.dispose();
  model.dispose();
  return 0;
}

/** The chart of a generation's caching decisions: its signal per decision group, a strip per row when rows decided apart. */
export function scheduleOf(trace: GenerationTrace, title: string): ScheduleTrace {
  const kinds = new Set(trace.evaluations.map((e) => e.block));
  const labels = kinds.has('input')
    ? { distance: 'modulated input change', distanceReg: 'accumulated rescaled change' }
    : kinds.has('stack')
      ? { distance: 'magnitude ratio', distanceReg: 'accumulated error' }
      : kinds.has('head')
        ? { distance: 'first block change' }
        : {};
  const state = (r: string) => (r === 'compute' ? 'computed' : r === 'reuse' ? 'cached' : r) as 'computed' | 'cached' | 'predicted' | 'absent';
  const rows = trace.decisions[0]?.rows.map((_, r) => trace.decisions.map((d) => state(d.rows[r]!))) ?? [];
  const apart = rows.some((states) => states.join() !== rows[0]!.join());
  const videos = rows.length / 2;
  return {
    steps: trace.steps,
    computedSteps: trace.computedSteps,
    evaluations: trace.evaluations.map((e) => ({
      step: e.step,
      distance: e.distance,
      ...(kinds.has('head') ? {} : { distanceReg: e.distanceReg }),
      ...(e.newRate !== undefined ? { rate: e.newRate } : {}),
      ...(e.threshold !== undefined ? { threshold: e.threshold } : {}),
      ...(e.rows ? { group: e.rows[1] - e.rows[0] === 1 ? rowLabel(e.rows[0], videos) : `rows ${e.rows[0]}–${e.rows[1] - 1}` } : {}),
    })),
    title,
    ...(apart ? { rows: rows.map((states, r) => ({ label: rowLabel(r, videos), states })) } : {}),
    ...(trace.decisions.some((d) => d.computed > 0 && d.computed < 1) ? { work: trace.decisions.map((d) => d.computed) } : {}),
    ...(Object.keys(labels).length ? { labels } : {}),
  };
}

function rowLabel(r: number, videos: number): string {
  return r < videos ? `cond ${r}` : `uncond ${r - videos}`;
}
