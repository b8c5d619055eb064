import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// Shared benchmark plumbing: medians of native-timed runs, the FMA roof of this machine, tables
// printed and written into bench/RESULTS.md. Every figure is a ratio against a reference measured
// in the same run.

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
  run(ctx: BenchContext): BenchRow[] | Promise<BenchRow[]>;
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
