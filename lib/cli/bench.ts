// `ditcache bench <op> --shape ...`: one op on random data, timed inside native code (the op's
// timed form loops in the addon, so JavaScript call overhead is not measured), reported with the
// same figures as `npm run bench:kernels`: GFLOP/s against the FMA peak for the compute-bound ops,
// GB/s against a plain copy of the same bytes for the memory-bound ones.
import { parseArgs } from 'node:util';

import { binding } from '../native/loader.js';
import { fmaPeak } from '../bench.js';
import { ISAS, runtime, type Isa } from '../runtime.js';
import { empty, type Tensor } from '../tensor.js';
import { BenchUsageError, buildWorkload, OPS, opHelp, type Workload } from './bench-workloads.js';

export const BENCH_HELP = `ditcache bench <op> --shape DIMS [options]

Times one op on random fp32 data inside native code; prints the median time and the throughput:
for gemm and attention GFLOP/s and the fraction of this machine's FMA peak measured just before,
for the other ops GB/s and the speed against a contiguous copy of the same bytes timed alongside.

${opHelp()}

  --repeat N       timed runs (default: as many as fit in 2 s, at least 3)
  --threads N      library threads (default: all)
  --isa amx|avx512_bf16|avx512|avx2|portable
  --no-peak        skip the FMA peak measurement
  --no-copy        skip the copy of the same bytes`;

const F32 = 4;

function median(xs: Float64Array): number {
  const s = Array.from(xs).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function ms(seconds: number): string {
  return `${(seconds * 1e3).toPrecision(4)} ms`;
}

/** Runs `timed` as many times as fit in `budget` seconds (at least 3) unless `repeat` is given. */
function sample(timed: (repeat: number) => Float64Array, repeat: number | undefined, budget = 2): Float64Array {
  const first = timed(1)[0]!; // warm-up: first touch of the output, caches
  return timed(repeat ?? Math.max(3, Math.min(1000, Math.floor(budget / Math.max(first, 1e-7)))));
}

/** Median seconds of a contiguous f32 copy reading bytes/2 and writing bytes/2. */
function copySeconds(bytes: number, repeat: number | undefined): number {
  const n = Math.max(1, Math.round(bytes / 2 / F32));
  const tensors: Tensor[] = [empty([n]), empty([n])];
  try {
    const [src, dst] = tensors as [Tensor, Tensor];
    binding().fill(src.native, 1);
    return median(sample((r) => binding().copy(dst.native, src.native, { repeat: r }), repeat, 1));
  } finally {
    for (const t of tensors) t.dispose();
  }
}

function positiveInteger(spec: string | undefined, name: string): number | undefined {
  if (spec === undefined) return undefined;
  const v = Number(spec);
  if (!Number.isInteger(v) || v < 1) throw new BenchUsageError(`--${name} must be a positive integer, got "${spec}"`);
  return v;
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
        rope: { type: 'boolean' },
        visible: { type: 'string' },
        groups: { type: 'string' },
        norm: { type: 'string' },
        refresh: { type: 'boolean' },
        strides: { type: 'string' },
        patch: { type: 'string' },
        repeat: { type: 'string' },
        threads: { type: 'string' },
        isa: { type: 'string' },
        'no-peak': { type: 'boolean' },
        'no-copy': { type: 'boolean' },
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
    if (op === undefined || !(op in OPS) || positionals.length !== 1) {
      throw new BenchUsageError(`expected one op (${Object.keys(OPS).join(', ')}), got "${positionals.join(' ')}"`);
    }
    const repeat = positiveInteger(values.repeat, 'repeat');
    const threads = positiveInteger(values.threads, 'threads');
    if (threads !== undefined) runtime.setThreads(threads);
    if (values.isa !== undefined) {
      if (!(ISAS as readonly string[]).includes(values.isa)) {
        throw new BenchUsageError(`--isa must be one of ${ISAS.join(', ')}, got "${values.isa}"`);
      }
      runtime.setIsa(values.isa as Isa);
    }
    workload = buildWorkload(op, values);

    const times = sample(workload.timed, repeat);
    const t = median(times);
    const used = runtime.threads();
    const parts = [`median ${ms(t)} (min ${ms(Math.min(...times))}, ${times.length} runs)`];
    if (workload.flops !== undefined) {
      const gflops = workload.flops / t / 1e9;
      parts.push(`${gflops.toFixed(1)} GFLOP/s`);
      if (!values['no-peak']) {
        const peak = fmaPeak(used, 0.5);
        parts.push(`${((100 * gflops) / peak).toFixed(1)}% of the FMA peak (${peak.toFixed(1)} GFLOP/s)`);
      }
    }
    if (workload.bytes !== undefined) {
      parts.push(`${(workload.bytes / t / 1e9).toFixed(1)} GB/s`);
      if (!values['no-copy']) {
        const copy = copySeconds(workload.bytes, repeat);
        parts.push(`${(copy / t).toFixed(2)}× the speed of a copy of the same bytes (${ms(copy)})`);
      }
    }
    console.log(`${workload.label} · ${runtime.isa().active} · ${used} thread${used > 1 ? 's' : ''}`);
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
