import { extend, type KvCacheMode } from '../causal/extend.js';
import { frames } from '../sampling/denoise.js';
import { generate } from '../generate.js';
import { SafetensorsReader } from '../io/safetensors.js';
import type { Tensor } from '../tensor.js';
import { BUNDLED_CAUSAL_MODEL, MACHINE_OPTIONS, UsageError, applyMachineOptions, loadCliModel, cacheOption, checkOutputs, intOption, parse, seconds, writeOutputs } from './common.js';
import { createProgress } from './progress.js';

export const EXTEND_HELP = `ditcache extend --prompt "..." --latent-frames N [options]

Extends a video chunk by chunk with a causal STDiT3 (Ca2-VDM).

  --prompt TEXT          caption (required)
  --latent-frames N      latent frames of the whole video
  --from FILE            first frames: a latent safetensors (tensor "latent", [1, C, k, H, W]);
                         default: a text-to-video clip of the model's default size, of which the last --cond-frames are kept
  --cond-frames K        conditioning frames taken from the clip (default 4)
  --chunk N              frames per chunk (default 4)
  --kv-cache MODE        stream (default), window or none
  --max-cache-frames N   KV cache capacity / conditioning window in frames (default 8)
  --model DIR            a causal STDiT3 folder (default: the bundled causal tiny model)
  --steps N, --seed N, --cache NAME|FILE (residual caching inside each chunk)
  --out FILE.gif (default extended.gif), --strip FILE.png, --latent FILE.safetensors
  --dtype f32|bf16     weights and GEMM/attention operands (default f32; bf16 runs on AMX tiles where the CPU has them)
  --threads N, --isa amx|avx512_bf16|avx512|avx2|portable`;

export async function extendCommand(argv: string[]): Promise<number> {
  const { values } = parse(argv, {
    prompt: { type: 'string' },
    'latent-frames': { type: 'string' },
    from: { type: 'string' },
    'cond-frames': { type: 'string' },
    chunk: { type: 'string' },
    'kv-cache': { type: 'string' },
    'max-cache-frames': { type: 'string' },
    model: { type: 'string' },
    steps: { type: 'string' },
    seed: { type: 'string' },
    cache: { type: 'string' },
    out: { type: 'string' },
    strip: { type: 'string' },
    latent: { type: 'string' },
    ...MACHINE_OPTIONS,
  });
  if (values.help) {
    console.log(EXTEND_HELP);
    return 0;
  }
  if (!values.prompt) throw new UsageError('--prompt is required\n\n' + EXTEND_HELP);
  const total = intOption(values['latent-frames'], 'latent-frames');
  if (total === undefined) throw new UsageError('--latent-frames is required\n\n' + EXTEND_HELP);
  const outputs = { out: values.out ?? 'extended.gif', strip: values.strip, latent: values.latent };
  checkOutputs(outputs);
  applyMachineOptions(values);
  const model = loadCliModel(values.model ?? BUNDLED_CAUSAL_MODEL(), values.dtype);
  const seed = intOption(values.seed, 'seed', 0)!;
  const steps = intOption(values.steps, 'steps', model.config.scheduler.numSamplingSteps)!;
  const chunk = intOption(values.chunk, 'chunk', 4)!;
  const mode = (values['kv-cache'] ?? 'stream') as KvCacheMode;
  const capacity = intOption(values['max-cache-frames'], 'max-cache-frames', 8)!;
  let condition: Tensor;
  if (values.from) {
    const reader = SafetensorsReader.open(values.from);
    condition = reader.tensor('latent');
    reader.close();
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
