import { readFileSync } from 'node:fs';

import { extend, type KvCacheMode } from '../causal/extend.js';
import { frames } from '../sampling/denoise.js';
import { generate } from '../generate.js';
import { SafetensorsReader } from '../io/safetensors.js';
import { loadCausalSTDiT2, type CausalSTDiT2 } from '../models/causal-stdit2/model.js';
import { modelTypeOf } from '../models/open.js';
import { tensor, type Tensor } from '../tensor.js';
import { pngToLatent } from '../video/image-latent.js';
import { sceneFirstFrame, SCENE_SIZE } from '../video/scene.js';
import {
  BUNDLED_CAUSAL_MODEL,
  MACHINE_OPTIONS,
  UsageError,
  applyMachineOptions,
  cacheOption,
  checkOutputs,
  dtypeOption,
  intOption,
  loadCliModel,
  modelFolder,
  numberOption,
  parse,
  seconds,
  writeOutputs,
  type ParsedValues,
} from './common.js';
import { createProgress } from './progress.js';

export const EXTEND_HELP = `ditcache extend --prompt "..." --latent-frames N [options]

Makes a long video chunk by chunk from its first frames (Ca2-VDM): with a CausalSTDiT2 as its
authors run it (by default the bundled tiny one, causal-stdit2-tiny), or with a causal STDiT3
(--model stdit3-tiny-causal for the bundled one).

  --prompt TEXT          caption (models with captions)
  --latent-frames N      latent frames of the whole video
  --from FILE            first frames: a picture (.png, 8 pixels per latent cell) or a latent
                         (.safetensors, tensor "latent", [1, C, k, H, W]); default: the frame the
                         caption describes (a CausalSTDiT2 of the bundled models' world), or a
                         text-to-video clip of which the last --cond-frames are kept (causal STDiT3)
  --cond-frames K        causal STDiT3: conditioning frames taken from the clip (default 4)
  --chunk N              frames per chunk (default: the model's, 4 for a causal STDiT3)
  --kv-cache MODE        stream (default): the KV caches; none: the window recomputed every step;
                         window (causal STDiT3): the window's K/V once per chunk
  --max-cache-frames N   KV cache capacity / conditioning window in frames (default: the model's, 8)
  --model DIR|NAME       a CausalSTDiT2 or causal STDiT3 folder, or a bundled model's name
  --steps N, --cfg-scale S (CausalSTDiT2), --seed N, --cache NAME|FILE (residual caching inside each chunk)
  --out FILE.gif (default extended.gif), --strip FILE.png, --latent FILE.safetensors
  --dtype f32|bf16     weights and GEMM/attention operands (default f32; bf16 runs on AMX tiles where the CPU has them)
  --threads N, --isa amx|avx512_bf16|avx512|avx2|portable`;

const OPTIONS = {
  prompt: { type: 'string' },
  'latent-frames': { type: 'string' },
  from: { type: 'string' },
  'cond-frames': { type: 'string' },
  chunk: { type: 'string' },
  'kv-cache': { type: 'string' },
  'max-cache-frames': { type: 'string' },
  model: { type: 'string' },
  steps: { type: 'string' },
  'cfg-scale': { type: 'string' },
  seed: { type: 'string' },
  cache: { type: 'string' },
  out: { type: 'string' },
  strip: { type: 'string' },
  latent: { type: 'string' },
  ...MACHINE_OPTIONS,
} as const;
type Values = ParsedValues<typeof OPTIONS>;

/** A latent file's "latent" tensor. */
function readLatent(path: string): Tensor {
  const reader = SafetensorsReader.open(path);
  try {
    return reader.tensor('latent');
  } finally {
    reader.close();
  }
}

export async function extendCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, OPTIONS);
  if (values.help) {
    console.log(EXTEND_HELP);
    return 0;
  }
  const total = intOption(values['latent-frames'], 'latent-frames');
  if (total === undefined) throw new UsageError('--latent-frames is required\n\n' + EXTEND_HELP);
  const outputs = { out: values.out ?? 'extended.gif', strip: values.strip, latent: values.latent };
  checkOutputs(outputs);
  applyMachineOptions(values);
  const dir = modelFolder(values.model, BUNDLED_CAUSAL_MODEL);
  if (modelTypeOf(dir) === 'CausalSTDiT2') return extendCa2(values, loadCausalSTDiT2(dir, { dtype: dtypeOption(values.dtype) }), total, outputs);
  if (!values.prompt) throw new UsageError('--prompt is required\n\n' + EXTEND_HELP);
  const model = loadCliModel(dir, values.dtype);
  const seed = intOption(values.seed, 'seed', 0)!;
  const steps = intOption(values.steps, 'steps', model.config.scheduler.numSamplingSteps)!;
  const chunk = intOption(values.chunk, 'chunk', 4)!;
  const mode = (values['kv-cache'] ?? 'stream') as KvCacheMode;
  const capacity = intOption(values['max-cache-frames'], 'max-cache-frames', 8)!;
  let condition: Tensor;
  if (values.from) {
    condition = readLatent(values.from);
  } else {
    const k = intOption(values['cond-frames'], 'cond-frames', 4)!;
    const clip = await generate(model, { prompt: values.prompt, seed, steps });
    const T = clip.latent.shape[2]!;
    if (k < 1 || k > T) throw new UsageError(`--cond-frames must be in [1, ${T}]`);
    condition = frames(clip.latent, T - k, T).clone();
    clip.latent.dispose();
  }
  const k = condition.shape[2]!;
  if (total <= k) throw new UsageError(`--latent-frames ${total} must exceed the ${k} conditioning frames`);
  const chunks = Math.ceil((total - k) / chunk);
  const progress = createProgress({ total: chunks * steps, label: `extending (${mode})` });
  let done = 0;
  const cache = cacheOption(values.cache);
  const { latent, trace } = await extend(model, {
    condition,
    prompt: values.prompt,
    chunks,
    framesPerChunk: chunk,
    steps,
    seed,
    kvCache: mode,
    maxCacheFrames: capacity,
    ...(cache !== undefined ? { cache } : {}),
    onStep: (s) => progress.tick(++done, `chunk ${s.chunk + 1}/${chunks}`),
  });
  const written = writeOutputs(latent, outputs);
  const perChunk = trace.chunks.map((c) => seconds(c.ms)).join(', ');
  progress.finish(
    `extended ${k} → ${latent.shape[2]} frames in ${seconds(trace.totalMs)} (${mode}, chunks: ${perChunk}; KV cache peak ${(trace.peakKvCacheBytes / 2 ** 20).toFixed(2)} MiB) → ${written.join(', ')}`,
  );
  latent.dispose();
  condition.dispose();
  model.dispose();
  return 0;
}

/** Ca2-VDM's own model: first frames (a picture, a latent, or the caption's scene), then chunks. */
async function extendCa2(values: Values, model: CausalSTDiT2, total: number, outputs: Parameters<typeof writeOutputs>[1]): Promise<number> {
  const cfg = model.config;
  const [, H, W] = cfg.inputSize;
  if (cfg.captionChannels > 0 && !values.prompt) throw new UsageError('--prompt is required: this model reads captions\n\n' + EXTEND_HELP);
  const seed = intOption(values.seed, 'seed', 0)!;
  let condition: Tensor;
  if (values.from?.toLowerCase().endsWith('.png')) {
    condition = tensor(pngToLatent(readFileSync(values.from), { height: H, width: W, channels: cfg.inChannels }), [1, cfg.inChannels, 1, H, W]);
  } else if (values.from) {
    condition = readLatent(values.from);
  } else {
    if (cfg.inChannels !== 3 || H !== SCENE_SIZE || W !== SCENE_SIZE || !values.prompt) {
      throw new UsageError('--from is required: this model does not draw its first frame from the caption');
    }
    condition = tensor(sceneFirstFrame(values.prompt, seed), [1, 3, 1, H, W]);
  }
  const k = condition.shape[2]!;
  if (total <= k) throw new UsageError(`--latent-frames ${total} must exceed the ${k} first frames`);
  const chunk = intOption(values.chunk, 'chunk', cfg.sampling.chunkFrames)!;
  const chunks = Math.ceil((total - k) / chunk);
  const mode = values['kv-cache'] ?? 'stream';
  if (mode !== 'stream' && mode !== 'none') throw new UsageError(`--kv-cache must be stream or none for a CausalSTDiT2, got "${mode}"`);
  const steps = intOption(values.steps, 'steps');
  const cfgScale = numberOption(values['cfg-scale'], 'cfg-scale');
  const capacity = intOption(values['max-cache-frames'], 'max-cache-frames');
  const cache = cacheOption(values.cache);
  let done = 0;
  let progress: ReturnType<typeof createProgress> | undefined;
  const { latent, trace } = await extend(model, {
    condition,
    ...(values.prompt ? { prompt: values.prompt } : {}),
    chunks,
    framesPerChunk: chunk,
    seed,
    kvCache: mode,
    ...(steps !== undefined ? { steps } : {}),
    ...(cfgScale !== undefined ? { cfgScale } : {}),
    ...(capacity !== undefined ? { maxCacheFrames: capacity } : {}),
    ...(cache !== undefined ? { cache } : {}),
    onStep: (s) => {
      progress ??= createProgress({ total: chunks * s.steps, label: `extending (${mode})` });
      progress.tick(++done, `chunk ${s.chunk + 1}/${chunks}`);
    },
  });
  const written = writeOutputs(latent, outputs);
  const summary = `extended ${k} → ${latent.shape[2]} frames in ${seconds(trace.totalMs)} (${mode}, ${seconds(trace.chunks.reduce((a, c) => a + c.ms, 0) / chunks)} per chunk; KV caches ${(trace.peakKvCacheBytes / 2 ** 20).toFixed(2)} MiB) → ${written.join(', ')}`;
  if (progress) progress.finish(summary);
  else console.log(summary);
  latent.dispose();
  condition.dispose();
  model.dispose();
  return 0;
}
