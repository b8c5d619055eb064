// `ditcache bench <op> --shape ...`: one op on random data, timed inside native code (the op's
// timed form loops in the addon, so JavaScript call overhead is not measured).
import { parseArgs } from 'node:util';

import { ops } from '../ops/index.js';
import { runtime, type Isa } from '../runtime.js';
import { tensor, type Tensor } from '../tensor.js';

export const BENCH_HELP = `ditcache bench <op> --shape DIMS [options]

Times one op on random fp32 data inside native code; prints the median time, the throughput and,
for compute-bound ops, the fraction of this machine's FMA peak measured just before.

  gemm       --shape M,N,K      out[M,N] = act(a[M,K] · w[N,K]ᵀ + bias)
             --activation none|gelu-tanh|silu, --bf16 (bf16 weights)
  attention  --shape B,H,N,D    or B,H,Nq,Nk,D; --causal
  layernorm  --shape R,C        R rows of C channels, with weight and bias

  --repeat N       timed runs (default: as many as fit in 2 s, at least 3)
  --threads N      library threads (default: all)
  --isa avx512|avx2|portable
  --no-peak        skip the FMA peak measurement`;

interface Workload {
  label: string;
  flops?: number;
  bytes?: number;
  timed(repeat: number): Float64Array;
  tensors: Tensor[];
}

class BenchUsageError extends Error {}

function dims(spec: string | undefined, names: string[][]): number[] {
  const want = names.map((n) => n.join(',')).join(' or ');
  if (spec === undefined) throw new BenchUsageError(`--shape ${want} is required`);
  const d = spec.split(/[,x×]/).map(Number);
  if (!names.some((n) => n.length === d.length) || d.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new BenchUsageError(`--shape must be ${want} (positive integers), got "${spec}"`);
  }
  return d;
}

function random(shape: number[], seed: number, scale = 1): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed >>> 0;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return tensor(data, shape);
}

type Values = Record<string, string | boolean | undefined>;

function gemmWorkload(v: Values): Workload {
  const [M, N, K] = dims(v['shape'] as string | undefined, [['M', 'N', 'K']]) as [number, number, number];
  const activation = (v['activation'] as string | undefined) ?? 'none';
  if (!['none', 'gelu-tanh', 'silu'].includes(activation)) {
    throw new BenchUsageError(`--activation must be none, gelu-tanh or silu, got "${activation}"`);
  }
  const a = random([M, K], 1);
  const w32 = random([N, K], 2, 1 / Math.sqrt(K));
  const w = v['bf16'] ? w32.to('cpu', 'bf16') : w32;
  const bias = random([N], 3);
  const out = random([M, N], 4);
  const options = { bias, activation: activation as 'none' | 'gelu-tanh' | 'silu', out };
  return {
    label: `gemm M=${M} N=${N} K=${K}${v['bf16'] ? ' bf16 weights' : ''}${activation !== 'none' ? ` ${activation}` : ''}`,
    flops: 2 * M * N * K,
    timed: (repeat) => ops.timed.gemm(repeat, a, w, options),
    tensors: [a, w32, w, bias, out],
  };
}

function attentionWorkload(v: Values): Workload {
  const d = dims(v['shape'] as string | undefined, [['B', 'H', 'N', 'D'], ['B', 'H', 'Nq', 'Nk', 'D']]);
  const [B, H] = d as [number, number];
  const Nq = d[2]!;
  const Nk = d.length === 5 ? d[3]! : Nq;
  const D = d[d.length - 1]!;
  const q = random([B, H, Nq, D], 1);
  const k = random([B, H, Nk, D], 2);
  const val = random([B, H, Nk, D], 3);
  const out = random([B, H, Nq, D], 4);
  const causal = Boolean(v['causal']);
  return {
    label: `attention B=${B} H=${H} Nq=${Nq} Nk=${Nk} D=${D}${causal ? ' causal' : ''}`,
    flops: 4 * B * H * Nq * Nk * D,
    timed: (repeat) => ops.timed.attention(repeat, q, k, val, { causal, out }),
    tensors: [q, k, val, out],
  };
}

function layernormWorkload(v: Values): Workload {
  const [R, C] = dims(v['shape'] as string | undefined, [['R', 'C']]) as [number, number];
  const x = random([R, C], 1);
  const weight = random([C], 2);
  const bias = random([C], 3);
  const out = random([R, C], 4);
  return {
    label: `layernorm R=${R} C=${C}`,
    bytes: 2 * R * C * 4,
    timed: (repeat) => ops.timed.layerNorm(repeat, x, { weight, bias, out }),
    tensors: [x, weight, bias, out],
  };
}

const WORKLOADS: Record<string, (v: Values) => Workload> = {
  gemm: gemmWorkload,
  attention: attentionWorkload,
  layernorm: layernormWorkload,
};

function median(xs: Float64Array): number {
  const s = Array.from(xs).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function ms(seconds: number): string {
  return `${(seconds * 1e3).toPrecision(4)} ms`;
}

/** Runs `ditcache bench`; returns the exit code (2 for a usage error). */
export async function runBenchCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        shape: { type: 'string' },
        activation: { type: 'string' },
        bf16: { type: 'boolean' },
        causal: { type: 'boolean' },
        repeat: { type: 'string' },
        threads: { type: 'string' },
        isa: { type: 'string' },
        'no-peak': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    console.error(`ditcache bench: ${(e as Error).message}\n\n${BENCH_HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(BENCH_HELP);
    return 0;
  }
  let workload: Workload | undefined;
  try {
    const op = positionals[0];
    const make = op !== undefined ? WORKLOADS[op] : undefined;
    if (!make || positionals.length !== 1) {
      throw new BenchUsageError(`expected one op (${Object.keys(WORKLOADS).join(', ')}), got "${positionals.join(' ')}"`);
    }
    const repeat = values.repeat === undefined ? undefined : Number(values.repeat);
    if (repeat !== undefined && (!Number.isInteger(repeat) || repeat < 1)) {
      throw new BenchUsageError(`--repeat must be a positive integer, got "${values.repeat}"`);
    }
    if (values.threads !== undefined) {
      const threads = Number(values.threads);
      if (!Number.isInteger(threads) || threads < 1) {
        throw new BenchUsageError(`--threads must be a positive integer, got "${values.threads}"`);
      }
      runtime.setThreads(threads);
    }
    if (values.isa !== undefined) {
      if (!['avx512', 'avx2', 'portable'].includes(values.isa)) {
        throw new BenchUsageError(`--isa must be avx512, avx2 or portable, got "${values.isa}"`);
      }
      runtime.setIsa(values.isa as Isa);
    }
    workload = make(values);

    const first = workload.timed(1)[0]!; // warm-up: first touch of the output, caches
    const runs = repeat ?? Math.max(3, Math.min(1000, Math.floor(2 / Math.max(first, 1e-7))));
    const times = workload.timed(runs);
    const t = median(times);
    const threads = runtime.threads();
    const isa = runtime.isa().active;
    const parts = [`median ${ms(t)} (min ${ms(Math.min(...times))}, ${runs} runs)`];
    if (workload.flops !== undefined) {
      const gflops = workload.flops / t / 1e9;
      parts.push(`${gflops.toFixed(1)} GFLOP/s`);
      if (!values['no-peak']) {
        const peak = runtime.fmaPeak(threads, 0.5);
        parts.push(`${((100 * gflops) / peak).toFixed(1)}% of the FMA peak (${peak.toFixed(1)} GFLOP/s)`);
      }
    }
    if (workload.bytes !== undefined) parts.push(`${(workload.bytes / t / 1e9).toFixed(1)} GB/s`);
    console.log(`${workload.label} · ${isa} · ${threads} thread${threads > 1 ? 's' : ''}`);
    console.log(`  ${parts.join(' · ')}`);
    return 0;
  } catch (e) {
    if (e instanceof BenchUsageError) {
      console.error(`ditcache bench: ${e.message}\n\n${BENCH_HELP}`);
      return 2;
    }
    throw e;
  } finally {
    for (const t of workload?.tensors ?? []) t.dispose();
  }
}
