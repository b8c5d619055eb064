// Shared benchmark plumbing: medians of native-timed runs, the FMA roof of this machine, tables
// printed and written into bench/RESULTS.md. Every figure is a ratio against a reference measured
// in the same run.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { fmaPeak } from '../lib/bench.js';
import { runtime } from '../lib/index.js';

/** One line of a benchmark table. */
export interface BenchRow {
  /** e.g. 'gemm', 'attention/spatial' */
  op: string;
  /** human-readable shape, e.g. 'M=4096 N=1152 K=1152' */
  shape: string;
  threads: number;
  isa: string;
  /** median seconds per run */
  seconds: number;
  /** useful work per run: floating point operations (compute-bound ops) */
  flops?: number;
  /** bytes moved per run (memory-bound ops) */
  bytes?: number;
  /** name of the reference measured in the same run, and its median seconds */
  reference?: string;
  referenceSeconds?: number;
}

export interface BenchContext {
  threads: number;
  isa: string;
  /** measured FMA peak in GFLOP/s for `threads` threads */
  peakGflops: number;
  /** fewer shapes and repeats (CI smoke runs) */
  quick: boolean;
}

/** A group of benchmark lines: bench/kernels/<name>.ts exports one as `suite`. */
export interface KernelSuite {
  name: string;
  /** heading of its section in bench/RESULTS.md (default: name) */
  title?: string;
  /** markdown written above its table: what is timed, and what the reference is */
  notes?: string;
  run(ctx: BenchContext): BenchRow[] | Promise<BenchRow[]>;
}

/**
 * The machine a table was measured on: CPU model, cores and hardware threads per core (whether two
 * threads of a 2-thread row share a core), the kernel dispatch, and the load average at the time,
 * since a figure measured on a busy machine is worth less.
 */
export function machineLine(): string {
  let model = runtime.backends()[0]?.name ?? 'CPU';
  let smt = '';
  if (existsSync('/proc/cpuinfo')) {
    const info = readFileSync('/proc/cpuinfo', 'utf8');
    const field = (name: string) => info.match(new RegExp(`^${name}\\s*:\\s*(.*)$`, 'm'))?.[1]?.trim();
    model = field('model name') ?? model;
    const siblings = Number(field('siblings')), cores = Number(field('cpu cores'));
    if (siblings > 0 && cores > 0) {
      smt = siblings > cores ? `, ${siblings / cores} hardware threads per core: two threads may share one core` : ', one hardware thread per core as the OS sees it';
    }
  }
  const load = loadavg().map((x) => x.toFixed(1)).join(' ');
  return `${model} (${cpus().length} logical CPUs${smt}); dispatch: ${runtime.isa().dispatch}; load average ${load}`;
}

export function median(xs: ArrayLike<number>): number {
  const s = Array.from(xs).sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Replaces (or appends) the section `## heading` of bench/RESULTS.md with `body`. */
export function writeResultsSection(heading: string, body: string): void {
  const path = join(dirname(fileURLToPath(import.meta.url)).replace(/[/\\]dist[/\\]bench$/, '/bench'), 'RESULTS.md');
  const text = existsSync(path) ? readFileSync(path, 'utf8') : '# Benchmark results\n';
  const start = text.indexOf(`\n## ${heading}\n`);
  const section = `\n## ${heading}\n\n${body.trim()}\n`;
  if (start < 0) {
    writeFileSync(path, text.trimEnd() + '\n' + section);
    return;
  }
  const next = text.indexOf('\n## ', start + 1);
  writeFileSync(path, text.slice(0, start) + section + (next < 0 ? '' : text.slice(next)));
}

/** A markdown table. */
export function markdownTable(header: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`;
  return [line(header), line(header.map(() => '---')), ...rows.map(line)].join('\n');
}

/**
 * The fp32 multiply-add roof of the active ISA on `threads` threads, in GFLOP/s: independent FMA
 * chains timed in native code (dc_cpu_fma_peak), best of a few trials within `seconds`.
 */
export function calibratePeak(threads: number, seconds = 1): number {
  return fmaPeak(threads, seconds);
}

/**
 * Median seconds of a native-timed op. One untimed run first (first touch, caches, and an estimate
 * of the time), then as many runs as fit in `budgetSeconds`, between `minRuns` and 50. With
 * minRuns 1, a first run that alone exceeds the budget is the result.
 */
export function measure(timed: (repeat: number) => Float64Array, budgetSeconds: number, minRuns = 3): number {
  const first = timed(1)[0]!;
  if (minRuns <= 1 && first >= budgetSeconds) return first;
  const runs = Math.max(minRuns, Math.min(50, Math.floor(budgetSeconds / Math.max(first, 1e-7))));
  return median(timed(runs));
}

function fixed(x: number, digits = 3): string {
  return x >= 100 ? x.toFixed(0) : x.toPrecision(digits);
}

/**
 * Rows as a markdown table: median time, GFLOP/s and % of the FMA peak of the row's thread count
 * (`peaks`: threads -> GFLOP/s) for compute-bound rows, GB/s for memory-bound rows, and the speed
 * ratio against the row's reference (> 1: faster than the reference).
 */
export function kernelTable(rows: BenchRow[], peaks: ReadonlyMap<number, number>): string {
  const body = rows.map((r) => {
    const gflops = r.flops !== undefined ? r.flops / r.seconds / 1e9 : undefined;
    const peak = peaks.get(r.threads);
    return [
      r.op,
      r.shape,
      r.threads,
      r.isa,
      fixed(r.seconds * 1e3),
      gflops !== undefined ? fixed(gflops) : '',
      gflops !== undefined && peak ? `${(100 * gflops / peak).toFixed(1)}%` : '',
      r.bytes !== undefined ? fixed(r.bytes / r.seconds / 1e9) : '',
      r.reference !== undefined && r.referenceSeconds !== undefined ? `${r.reference} (${fixed(r.referenceSeconds * 1e3)} ms)` : '',
      r.referenceSeconds !== undefined ? `${(r.referenceSeconds / r.seconds).toFixed(2)}×` : '',
    ];
  });
  return markdownTable(['op', 'shape', 'threads', 'isa', 'ms', 'GFLOP/s', '% FMA peak', 'GB/s', 'reference', 'speed vs reference'], body);
}
