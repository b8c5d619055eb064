// GPU benchmarks: attention TFLOP/s against torch's scaled_dot_product_attention at head_dim
// 64/72/128, and GEMM against torch.matmul, both references timed in the same run by
// bench/gpu_reference.py when python3 can import torch with CUDA. Each figure is the median over
// `samples` of (wall time of `runs` back-to-back calls and one device synchronisation) / runs,
// measured the same way on both sides. The table is printed and written into the GPU section of
// bench/RESULTS.md. Without a CUDA device it says why, leaves RESULTS.md alone and exits 0.
//
//   npm run bench:gpu            (add --quick for fewer shapes and runs)
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { markdownTable, median, writeResultsSection } from './harness.js';
import { timed } from '../lib/bench.js';
import { empty, runtime, tensor, type Tensor } from '../lib/index.js';
import { binding, packageRoot } from '../lib/native/loader.js';

type Dtype = 'f32' | 'f16' | 'bf16';

interface AttentionCase {
  op: 'attention';
  B: number;
  H: number;
  N: number;
  D: number;
  dtype: Dtype;
}

interface GemmCase {
  op: 'gemm';
  M: number;
  N: number;
  K: number;
  dtype: Dtype;
}

type Case = AttentionCase | GemmCase;

const CUDA = 1;

function flops(c: Case): number {
  return c.op === 'attention' ? 4 * c.B * c.H * c.N * c.N * c.D : 2 * c.M * c.N * c.K;
}

function describeCase(c: Case): string {
  return c.op === 'attention' ? `B=${c.B} H=${c.H} N=${c.N} D=${c.D}` : `M=${c.M} N=${c.N} K=${c.K}`;
}

function cases(quick: boolean): Case[] {
  const attention: Case[] = [];
  for (const D of [64, 72, 128]) {
    for (const dtype of ['bf16', 'f16'] as const) {
      attention.push({ op: 'attention', B: 2, H: 16, N: quick ? 1024 : 4096, D, dtype });
    }
  }
  // STDiT3-XL projections over 2 x 4096 tokens: qkv, attention output, MLP in and out.
  const shapes: [number, number][] = quick ? [[3456, 1152]] : [[3456, 1152], [1152, 1152], [4608, 1152], [1152, 4608]];
  const gemm: Case[] = [];
  for (const dtype of ['bf16', 'f16', 'f32'] as const) {
    for (const [N, K] of shapes) gemm.push({ op: 'gemm', M: 8192, N, K, dtype });
  }
  return [...attention, ...gemm];
}

function random(shape: number[], dtype: Dtype, seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    data[i] = (s / 2 ** 32) * 2 - 1;
  }
  return tensor(data, shape, { device: 'cuda', dtype });
}

/** Median seconds per call: `runs` queued calls then a synchronisation, `samples` times. */
function measure(c: Case, runs: number, samples: number): number {
  let call: (repeat: number) => void;
  let operands: Tensor[];
  if (c.op === 'attention') {
    const shape = [c.B, c.H, c.N, c.D];
    const [q, k, v] = [1, 2, 3].map((seed) => random(shape, c.dtype, seed)) as [Tensor, Tensor, Tensor];
    const out = empty(shape, { device: 'cuda', dtype: c.dtype });
    operands = [q, k, v, out];
    call = (repeat) => timed.attention(repeat, q, k, v, { out });
  } else {
    const a = random([c.M, c.K], c.dtype, 4);
    const w = random([c.N, c.K], c.dtype, 5);
    const out = empty([c.M, c.N], { device: 'cuda', dtype: c.dtype });
    operands = [a, w, out];
    call = (repeat) => timed.gemm(repeat, a, w, { out });
  }
  call(1);
  binding().synchronize(CUDA);
  const perRun: number[] = [];
  for (let s = 0; s < samples; s++) {
    const start = performance.now();
    call(runs);
    binding().synchronize(CUDA);
    perRun.push((performance.now() - start) / 1e3 / runs);
  }
  operands.forEach((t) => t.dispose());
  return median(perRun);
}

interface Reference {
  device: string;
  torch: string;
  seconds: number[];
}

/** torch timings of the same cases, or the reason there are none. */
function reference(all: Case[], runs: number, samples: number): Reference | string {
  const script = join(packageRoot(), 'bench', 'gpu_reference.py');
  const probe = spawnSync('python3', ['-c', 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else 3)'], {
    encoding: 'utf8',
  });
  if (probe.error) return `python3 not found (${probe.error.message})`;
  if (probe.status === 3) return 'torch is installed but sees no CUDA device';
  if (probe.status !== 0) return 'torch is not importable by python3';
  const run = spawnSync('python3', [script], {
    input: JSON.stringify({ cases: all, runs, samples }),
    encoding: 'utf8',
    maxBuffer: 1 << 20,
  });
  if (run.status !== 0) return `${script} failed: ${run.stderr.trim().split('\n').pop() ?? 'no message'}`;
  return JSON.parse(run.stdout) as Reference;
}

function main(): void {
  const reason = runtime.deviceUnavailableReason('cuda');
  if (reason !== null) {
    console.log(`bench:gpu: no CUDA device can run (${reason}); nothing to measure.`);
    return;
  }
  const quick = process.argv.includes('--quick');
  const runs = quick ? 5 : 20;
  const samples = quick ? 3 : 7;
  const device = runtime.backends().find((b) => b.device === 'cuda')!;
  const all = cases(quick);
  const ours = all.map((c) => measure(c, runs, samples));
  const ref = reference(all, runs, samples);

  const rows = all.map((c, i) => {
    const s = ours[i]!;
    const r = typeof ref === 'string' ? undefined : ref.seconds[i];
    const tf = (sec: number) => (flops(c) / sec / 1e12).toFixed(1);
    const refCells = r === undefined ? ['–', '–', '–'] : [(r * 1e3).toFixed(3), tf(r), (r / s).toFixed(2)];
    return [c.op, describeCase(c), c.dtype, (s * 1e3).toFixed(3), tf(s), ...refCells];
  });
  const table = markdownTable(
    ['op', 'shape', 'dtype', 'ditcache ms', 'ditcache TFLOP/s', 'torch ms', 'torch TFLOP/s', 'torch / ditcache time'],
    rows,
  );
  const body = [
    `${device.name} (compute capability ${device.computeCapability / 10}), ${runtime.buildInfo()}.`,
    typeof ref === 'string' ? `Reference: none (${ref}).` : `Reference: torch ${ref.torch} on ${ref.device}, same run.`,
    `Median over ${samples} samples of (${runs} back-to-back calls + one device synchronisation) / ${runs}; ` +
      'attention is non-causal [B, H, N, D] with 4·B·H·N²·D flops, GEMM is out = a·wᵀ with 2·M·N·K flops. ' +
      'Command: `npm run test:gpu && npm run bench:gpu`.',
    table,
  ].join('\n\n');
  console.log(body);
  writeResultsSection('GPU', body);
}

main();
