// `npm run bench:kernels`: every suite of bench/kernels/ on 1 and 2 threads. The FMA roof is
// measured in the same run for each thread count, each suite's table is printed and written into
// its section of bench/RESULTS.md together with the command that produced it.
//
//   npm run bench:kernels -- [--only gemm,memory] [--threads 1,2] [--isa avx512] [--quick] [--no-write]
//
// --quick: fewer shapes and runs, nothing written (CI smoke runs).
import { readdirSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';

import { runtime, type Isa } from '../lib/runtime.js';
import { calibratePeak, kernelTable, machineLine, writeResultsSection, type BenchRow, type KernelSuite } from './harness.js';

async function loadSuites(only: string[] | undefined): Promise<KernelSuite[]> {
  const self = fileURLToPath(import.meta.url);
  const ext = extname(self); // .js when run from dist, .ts from source
  const dir = join(dirname(self), 'kernels');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(ext) && !f.endsWith(`.d${ext}`))
    .sort();
  const suites: KernelSuite[] = [];
  for (const f of files) {
    const mod = (await import(pathToFileURL(join(dir, f)).href)) as { suite?: KernelSuite };
    if (!mod.suite) throw new Error(`bench/kernels/${f} exports no \`suite\``);
    suites.push(mod.suite);
  }
  if (!only) return suites;
  const unknown = only.filter((n) => !suites.some((s) => s.name === n));
  if (unknown.length) {
    throw new Error(`unknown suite ${unknown.join(', ')}; suites: ${suites.map((s) => s.name).join(', ')}`);
  }
  return suites.filter((s) => only.includes(s.name));
}

function threadList(v: string): number[] {
  const list = v.split(',').map(Number);
  if (!list.length || list.some((t) => !Number.isInteger(t) || t < 1)) {
    throw new Error(`--threads must be a comma-separated list of thread counts, got "${v}"`);
  }
  return list;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      threads: { type: 'string', default: '1,2' },
      isa: { type: 'string' },
      quick: { type: 'boolean', default: false },
      'no-write': { type: 'boolean', default: false },
    },
    strict: true,
  });
  if (values.isa) runtime.setIsa(values.isa as Isa);
  const threads = threadList(values.threads!);
  const suites = await loadSuites(values.only?.split(','));
  const quick = values.quick!;
  const isa = runtime.isa();
  const savedThreads = runtime.threads();

  const machine = machineLine();
  const peaks = new Map<number, number>();
  const rows = new Map<KernelSuite, BenchRow[]>(suites.map((s) => [s, []]));
  try {
    for (const t of threads) {
      runtime.setThreads(t);
      const peakGflops = calibratePeak(t, quick ? 0.3 : 1);
      peaks.set(t, peakGflops);
      console.log(`${t} thread(s): FMA peak ${peakGflops.toFixed(1)} GFLOP/s (${isa.active})`);
      for (const suite of suites) {
        const got = await suite.run({ threads: t, isa: isa.active, peakGflops, quick });
        rows.get(suite)!.push(...got);
      }
    }
  } finally {
    runtime.setThreads(savedThreads);
  }

  const command = `npm run bench:kernels${argv.length ? ` -- ${argv.join(' ')}` : ''}`;
  const cpu = runtime.backends()[0]?.name ?? 'CPU';
  const peakText = [...peaks].map(([t, g]) => `${g.toFixed(1)} GFLOP/s on ${t} thread${t > 1 ? 's' : ''}`).join(', ');
  for (const suite of suites) {
    const table = kernelTable(rows.get(suite)!, peaks);
    const body = [
      `Command: \`${command}\` (after \`npm run build\`), on ${cpu}, ISA ${isa.active}` +
        `${isa.bf16 ? ' with bf16 dot products' : ''}. FMA peak measured in the same run (dc_cpu_fma_peak): ${peakText}.`,
      `Machine: ${machine}.`,
      ...(suite.notes ? ['', suite.notes.trim()] : []),
      '',
      table,
    ].join('\n');
    console.log(`\n## ${suite.title ?? suite.name}\n\n${body}`);
    if (!quick && !values['no-write']) writeResultsSection(suite.title ?? suite.name, body);
  }
}

main().catch((e: unknown) => {
  console.error(e);
  process.exitCode = 1;
});
