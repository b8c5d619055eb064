// End-to-end timings. The bundled tiny model: one forward (CFG batch of 2), a 30-step generation
// uncached and with adacache-fast, the share of a step by op kind and outside native code, and
// adacache-fast's measured speedup against its ideal. Then one forward at Open-Sora 1.2's real width
// (a random-weight checkpoint written for the run: hidden 1152, 16 heads, a 4096-channel 300-token
// caption, 4 spatial + 4 temporal blocks; CFG batch 2 of an 8×30×40 latent) in fp32 and bf16, on 1 and
// 2 threads, against PyTorch measured in the same run (bench/torch/stdit3.py, when
// $DITCACHE_TORCH_PYTHON or python3 imports torch), with bf16's distance from fp32 on each side and
// PyTorch's agreement with ditcache's fp32 forward on the tiny model and at real width.
//   npm run bench:e2e [-- --quick]
// --quick (CI smoke runs): fewer repeats, one real-width block pair on a 2×8×8 latent, no PyTorch,
// nothing written to RESULTS.md.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';

import type { PresetName } from '../lib/cache/index.js';
import { generateSync } from '../lib/generate.js';
import { SafetensorsReader } from '../lib/io/safetensors.js';
import { loadModel, type STDiT3 } from '../lib/models/stdit3/model.js';
import { packageRoot } from '../lib/native/loader.js';
import { startProfile, stopProfile } from '../lib/ops/profile.js';
import { runtime } from '../lib/runtime.js';
import { tensor } from '../lib/tensor.js';
import { gaussianNoise } from '../lib/sampling/noise.js';
import { Vocabulary } from '../lib/text/vocabulary.js';
import { markdownTable, median, writeResultsSection } from './harness.js';
import { openSora12Config, randomInputs, writeInputs, writeRandomCheckpoint, type ForwardData } from './random-stdit3.js';
import { torchRunner, type TorchDtype, type TorchRunner } from './torch.js';

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

const run = (cache: PresetName) => {
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

const runner = quick ? { skipped: '--quick runs no PyTorch' } : torchRunner();
let torch: TorchRunner | string = 'skipped' in runner ? runner.skipped : runner;
if (typeof torch === 'string') console.log(`PyTorch: skipped (${torch})`);
const work = mkdtempSync(join(tmpdir(), 'ditcache-e2e-'));
try {
  let tinyAgreement: Difference | null = null;
  if (typeof torch !== 'string') {
    const tiny: ForwardData = {
      x: x.toFloat32Array(),
      xShape: x.shape as ForwardData['xShape'],
      timestep: [500, 500],
      y: y.toFloat32Array(),
      yShape: y.shape as ForwardData['yShape'],
      mask,
      fps: 24,
      height: 8 * H,
      width: 8 * W,
    };
    try {
      tinyAgreement = agreement(torch, model, dir, work, tiny);
    } catch (e) {
      torch = `it failed on the tiny model: ${(e as Error).message}`;
      console.log(`PyTorch: ${torch}`);
    }
  }
  caption.dispose();
  model.dispose();
  realWidth(torch, tinyAgreement, work);
} finally {
  rmSync(work, { recursive: true, force: true });
}

// ------------------------------------------------------------------------------------ real width

/** Output differences of b against a (the reference), over every output channel. */
interface Difference {
  maxAbs: number;
  /** max |a| */
  scale: number;
  /** ‖b − a‖₂ / ‖a‖₂ */
  relL2: number;
}

function difference(a: Float32Array, b: Float32Array): Difference {
  if (a.length !== b.length) throw new RangeError(`outputs of ${a.length} and ${b.length} values`);
  let maxAbs = 0, scale = 0, num = 0, den = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    maxAbs = Math.max(maxAbs, d);
    scale = Math.max(scale, Math.abs(a[i]!));
    num += d * d;
    den += a[i]! * a[i]!;
  }
  return { maxAbs, scale, relL2: Math.sqrt(num / den) };
}

function describeDifference(d: Difference): string[] {
  return [d.maxAbs.toExponential(2), d.scale.toFixed(2), d.relL2.toExponential(2)];
}

/** Seconds of each of `runs` forwards (and the output of the first), the inputs made before the timing. */
function timeForward(model: STDiT3, d: ForwardData, runs: number): { seconds: number[]; out: Float32Array } {
  using x = tensor(d.x, d.xShape);
  using y = tensor(d.y, d.yShape);
  const inputs = { x, timestep: d.timestep, y, mask: d.mask, fps: d.fps, height: d.height, width: d.width };
  const seconds: number[] = [];
  let out: Float32Array | undefined;
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    using o = model.forward(inputs);
    seconds.push((performance.now() - t0) / 1e3);
    out ??= o.toFloat32Array();
  }
  return { seconds, out: out! };
}

function readOutput(path: string): Float32Array {
  const reader = SafetensorsReader.open(path);
  try {
    using out = reader.tensor('out');
    return out.toFloat32Array();
  } finally {
    reader.close();
  }
}

/** PyTorch's fp32 forward of checkpoint `dir` against ditcache's `model` on the same inputs. */
function agreement(runner: TorchRunner, model: STDiT3, dir: string, work: string, d: ForwardData): Difference {
  const inputs = join(work, 'tiny-inputs.safetensors');
  const output = join(work, 'tiny-out.safetensors');
  writeInputs(inputs, d);
  runner.time([{ op: 'stdit3', dir, inputs, dtype: 'f32', output }], { threads: runtime.threads(), repeat: 1, warmup: 0 });
  return difference(readOutput(output), timeForward(model, d, 1).out);
}

/** Whether two threads of this process share a core, from /proc/cpuinfo. */
function threadPlacement(): string {
  let text: string;
  try {
    text = readFileSync('/proc/cpuinfo', 'utf8');
  } catch {
    return 'core layout unknown (no /proc/cpuinfo)';
  }
  const cpus = text.split(/\n\s*\n/).filter((b) => /^processor\s*:/m.test(b));
  const field = (b: string, key: string) => new RegExp(`^${key}\\s*:\\s*(.*)$`, 'm').exec(b)?.[1]?.trim() ?? '?';
  const cores = new Set(cpus.map((b) => `${field(b, 'physical id')}/${field(b, 'core id')}`));
  const perCore = cpus.length / cores.size;
  const virtual = /^flags\s*:.*\bhypervisor\b/m.test(text);
  return (
    `${cpus.length} logical CPUs on ${cores.size} cores (${perCore} thread${perCore === 1 ? '' : 's'} per core), ` +
    `${availableParallelism()} available to this process: ` +
    (perCore === 1 ? 'the two threads run on two cores' : 'the two threads may share a core') +
    (virtual ? ' (virtual CPUs: how the hypervisor places them on the host is not visible)' : '')
  );
}

interface Timing {
  threads: number;
  dtype: TorchDtype;
  ditcache: number[];
  torch?: number[];
}

function seconds(runs: number[] | undefined): string {
  if (!runs || runs.length === 0) return '—';
  const m = median(runs);
  return runs.length === 1 ? `${m.toFixed(2)} s` : `${m.toFixed(2)} s (${Math.min(...runs).toFixed(2)}–${Math.max(...runs).toFixed(2)})`;
}

function realWidth(torch: TorchRunner | string, tinyAgreement: Difference | null, work: string): void {
  const depth = quick ? 1 : 4;
  const latent: [number, number, number] = quick ? [2, 8, 8] : [8, 30, 40];
  const runs = quick ? 1 : 3;
  const threadCounts = quick ? [1] : [1, 2];
  const words = 120;
  const load0 = loadavg()[0]!;
  const dir = join(work, 'stdit3-real-width');
  const cfg = writeRandomCheckpoint(dir, openSora12Config(depth));
  const data = randomInputs(cfg, latent, words, 600);
  const inputs = join(work, 'inputs.safetensors');
  writeInputs(inputs, data);

  const timings: Timing[] = [];
  const outputs = new Map<string, Float32Array>();
  for (const dtype of ['f32', 'bf16'] as const) {
    const model = loadModel(dir, { dtype });
    try {
      for (const threads of threadCounts) {
        runtime.setThreads(threads);
        const { seconds: [, ...times], out } = timeForward(model, data, 1 + runs); // the first is the warm-up
        if (threads === 1) outputs.set(`ditcache ${dtype}`, out);
        timings.push({ threads, dtype, ditcache: times });
        console.log(`ditcache ${dtype}, ${threads} thread(s): ${seconds(times)}`);
      }
    } finally {
      model.dispose();
    }
  }

  let torchNote = typeof torch === 'string' ? `PyTorch not measured: ${torch}.` : '';
  let torchVersion = '';
  if (typeof torch !== 'string') {
    try {
      for (const threads of threadCounts) {
        const output = (dtype: TorchDtype) => (threads === 1 ? { output: join(work, `torch-${dtype}.safetensors`) } : {});
        const r = torch.time(
          (['f32', 'bf16'] as const).map((dtype) => ({ op: 'stdit3' as const, dir, inputs, dtype, ...output(dtype) })),
          { threads, repeat: runs, warmup: 1 },
        );
        torchVersion = `PyTorch ${r.torch} (${r.capability})`;
        (['f32', 'bf16'] as const).forEach((dtype, i) => {
          timings.find((t) => t.threads === threads && t.dtype === dtype)!.torch = r.seconds[i]!;
          console.log(`PyTorch ${dtype}, ${threads} thread(s): ${seconds(r.seconds[i])}`);
        });
      }
      for (const dtype of ['f32', 'bf16'] as const) outputs.set(`PyTorch ${dtype}`, readOutput(join(work, `torch-${dtype}.safetensors`)));
    } catch (e) {
      torchNote = `PyTorch failed: ${(e as Error).message}.`;
      console.log(torchNote);
    }
  }
  const load1 = loadavg()[0]!;

  const label = (dtype: TorchDtype) => (dtype === 'f32' ? 'fp32' : 'bf16');
  const rows = timings.map((t) => [
    t.threads,
    label(t.dtype),
    seconds(t.ditcache),
    seconds(t.torch),
    t.torch ? `${(median(t.torch) / median(t.ditcache)).toFixed(2)}×` : '—',
  ]);
  const diffRows: string[][] = [];
  const compare = (what: string, ref: string, other: string) => {
    const a = outputs.get(ref), b = outputs.get(other);
    if (a && b) diffRows.push([what, ...describeDifference(difference(a, b))]);
  };
  compare('ditcache bf16 vs ditcache fp32', 'ditcache f32', 'ditcache bf16');
  compare('PyTorch bf16 vs PyTorch fp32', 'PyTorch f32', 'PyTorch bf16');
  compare('ditcache fp32 vs PyTorch fp32', 'PyTorch f32', 'ditcache f32');
  if (tinyAgreement) diffRows.push(['tiny model: ditcache fp32 vs PyTorch fp32', ...describeDifference(tinyAgreement)]);

  const [T, Hl, Wl] = latent;
  const isa = runtime.isa();
  const body = [
    `Command: \`npm run bench:e2e\` — ${cpus()[0]?.model ?? 'CPU'}; ditcache ISA ${isa.active} (${isa.dispatch}); ${torchVersion || 'no PyTorch'}.`,
    '',
    `One forward of STDiT3 at Open-Sora 1.2's width (hidden ${cfg.hiddenSize}, ${cfg.numHeads} heads, MLP ×${cfg.mlpRatio}, caption ${cfg.captionChannels} channels × ${cfg.modelMaxLength} tokens of which ${words} are words, ` +
      `${depth} spatial + ${depth} temporal blocks, patch ${cfg.patchSize.join('×')}, pred_sigma: ${cfg.predSigma ? 8 : 4} output channels), random weights written for the run; ` +
      `CFG batch 2 of a latent ${cfg.inChannels}×${T}×${Hl}×${Wl} (${T * (Hl / 2) * (Wl / 2)} tokens per sample), caption projection and every block's caption K/V included. ` +
      `ditcache: \`loadModel(dir, { dtype })\` and \`model.forward\`. PyTorch: bench/torch/stdit3.py in a child process, torch.set_num_threads as the row says, ` +
      `bf16 = the module converted with .to(torch.bfloat16) as Open-Sora's inference runs it (bf16 residual stream), attention by scaled_dot_product_attention. ` +
      `Medians of ${runs} run${runs === 1 ? '' : 's'} after one warm-up (min–max in brackets); "speed vs PyTorch" = PyTorch time / ditcache time (> 1: ditcache faster).`,
    '',
    `Threads: ${threadPlacement()}. Load average (1 min) ${load0.toFixed(1)} at the start, ${load1.toFixed(1)} at the end: the machine is shared, so the times carry its noise.`,
    ...(torchNote ? ['', torchNote] : []),
    '',
    markdownTable(['threads', 'dtype', 'ditcache', 'PyTorch', 'speed vs PyTorch'], rows),
    '',
    'Output differences, b against the reference a (the second name of each row), over all output channels of the 1-thread runs: max |b − a|, max |a|, ‖b − a‖₂ / ‖a‖₂:',
    '',
    markdownTable(['outputs', 'max abs difference', 'max abs of the reference', 'relative L2 difference'], diffRows),
  ].join('\n');
  console.log(body);
  if (!quick) writeResultsSection('End to end at Open-Sora 1.2 width, against PyTorch', body);
}
