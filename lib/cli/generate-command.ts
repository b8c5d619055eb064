import { writeFileSync } from 'node:fs';

import { generate } from '../generate.js';
import { loadModel } from '../models/stdit3/model.js';
import { scheduleSvg } from '../video/index.js';
import { BUNDLED_MODEL, MACHINE_OPTIONS, UsageError, applyMachineOptions, cacheOption, intOption, numberOption, parse, seconds, writeOutputs } from './common.js';
import { createProgress } from './progress.js';

export const GENERATE_HELP = `ditcache generate --prompt "..." [options]

  --prompt TEXT        caption in the model's vocabulary (required)
  --model DIR          STDiT3 folder (config.json, model.safetensors, vocab.json); default: the bundled tiny model
  --steps N            sampling steps (default: the model's, 30)
  --seed N             noise seed (default 0)
  --cfg X              classifier-free guidance scale (default: the model's, 7)
  --cache NAME|FILE    none, fixed-2, fixed-3, adacache-fast, adacache-slow, adacache-100,
                       adacache-fast-moreg, adacache-slow-moreg, or a JSON spec from \`ditcache calibrate\`
  --out FILE.gif       animated preview (default demo.gif)
  --frames FILE.png    PNG strip of the frames
  --num-frames N       nominal frame count (4 per latent frame; >= 17), --height / --width PIXELS (8 per latent cell)
  --latent FILE        the latent as safetensors (tensor "latent")
  --plot FILE.svg      the caching schedule: distance, rate and computed steps
  --threads N, --isa amx|avx512_bf16|avx512|avx2|portable`;

export async function generateCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    prompt: { type: 'string' },
    model: { type: 'string' },
    steps: { type: 'string' },
    seed: { type: 'string' },
    cfg: { type: 'string' },
    cache: { type: 'string' },
    frames: { type: 'string' },
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
  applyMachineOptions(values);
  const model = loadModel(values.model ?? BUNDLED_MODEL());
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
  const written = writeOutputs(latent, { out: values.out ?? 'demo.gif', frames: values.frames, latent: values.latent });
  if (values.plot) {
    writeFileSync(
      values.plot,
      scheduleSvg({
        steps: trace.steps,
        computedSteps: trace.computedSteps,
        evaluations: trace.evaluations.map((e) => ({ step: e.step, distance: e.distance, distanceReg: e.distanceReg, rate: e.newRate })),
        title: `${values.prompt} — ${trace.policy}`,
      }),
    );
    written.push(values.plot);
  }
  const [, , T, H, W] = latent.shape;
  progress.finish(
    `generated ${T}×${H}×${W} latent in ${seconds(trace.totalMs)}: ${trace.computedSteps.length}/${trace.steps} steps computed (${trace.policy}) → ${written.join(', ')}`,
  );
  latent.dispose();
  model.dispose();
  return 0;
}
