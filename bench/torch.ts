// PyTorch, measured in the same run as ditcache: bench/torch/reference.py times torch's own ops
// (nn.functional.linear, scaled_dot_product_attention) and an STDiT3 forward (bench/torch/stdit3.py)
// in a child process. PyTorch is optional, never a dependency: the interpreter is
// $DITCACHE_TORCH_PYTHON (default python3), and when it cannot import torch the caller gets the
// reason and skips its PyTorch columns.
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';

import { packageRoot } from '../lib/native/loader.js';

export type TorchDtype = 'f32' | 'bf16';

/** torch.nn.functional.linear(x [M, K], w [N, K], b [N]). */
export interface LinearCase {
  op: 'linear';
  M: number;
  N: number;
  K: number;
  dtype: TorchDtype;
  bias: boolean;
}

/** torch.nn.functional.scaled_dot_product_attention on q [B, H, Nq, D], k and v [B, H, Nk, D]. */
export interface SdpaCase {
  op: 'sdpa';
  B: number;
  H: number;
  Nq: number;
  Nk: number;
  D: number;
  dtype: TorchDtype;
  /** causal, bottom-right aligned as ditcache's (query i sees key j when j <= i + Nk - Nq) */
  causal?: boolean;
  /** only the first `visible` keys of each batch item are attended (a boolean key mask) */
  visible?: number;
}

/** One STDiT3 forward in PyTorch (bench/torch/stdit3.py). */
export interface Stdit3Case {
  op: 'stdit3';
  /** checkpoint folder: config.json + model.safetensors */
  dir: string;
  /** safetensors file holding x, timestep, y and optionally mask, fps, height, width */
  inputs: string;
  /** f32, or the module converted with .to(torch.bfloat16) */
  dtype: TorchDtype;
  /** safetensors file the output ('out', float32) of the last run is written to */
  output?: string;
}

export type TorchCase = LinearCase | SdpaCase | Stdit3Case;

export interface TorchTimeOptions {
  /** torch.set_num_threads */
  threads: number;
  /** timed runs per case */
  repeat: number;
  /** untimed runs per case before the timed ones (default 1) */
  warmup?: number;
}

export interface TorchTimes {
  /** torch.__version__ */
  torch: string;
  /** torch.backends.cpu.get_cpu_capability(), e.g. AVX512 */
  capability: string;
  /** per case, the seconds of each timed run */
  seconds: number[][];
}

export interface TorchRunner {
  python: string;
  version: string;
  /** One child process for all `cases` (torch is imported once); throws when the script fails. */
  time(cases: readonly TorchCase[], options: TorchTimeOptions): TorchTimes;
}

const ENV = 'DITCACHE_TORCH_PYTHON';

/** The PyTorch runner, or why there is none (no interpreter, or no torch in it). */
export function torchRunner(): TorchRunner | { skipped: string } {
  const python = process.env[ENV] || 'python3';
  const probe = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.error) return { skipped: `${python} cannot be run (${probe.error.message}); set ${ENV} to an interpreter with torch` };
  if (probe.status !== 0) return { skipped: `${python} cannot import torch; set ${ENV} to an interpreter with torch` };
  const version = probe.stdout.trim();
  const script = join(packageRoot(), 'bench', 'torch', 'reference.py');
  return {
    python,
    version,
    time(cases, { threads, repeat, warmup = 1 }) {
      if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
      if (!Number.isInteger(repeat) || repeat < 1) throw new RangeError(`repeat must be a positive integer, got ${repeat}`);
      if (!Number.isInteger(warmup) || warmup < 0) throw new RangeError(`warmup must be a non-negative integer, got ${warmup}`);
      const pool = String(threads);
      const run = spawnSync(python, [script], {
        input: JSON.stringify({ threads, repeat, warmup, cases }),
        encoding: 'utf8',
        maxBuffer: 16 << 20,
        // The OpenMP pool is sized before torch.set_num_threads runs: the same count from the start.
        env: { ...process.env, OMP_NUM_THREADS: pool, MKL_NUM_THREADS: pool },
      });
      if (run.error) throw new Error(`${script}: ${run.error.message}`);
      if (run.status !== 0) {
        const last = run.stderr.trim().split('\n').slice(-3).join('\n');
        throw new Error(`${script} failed (exit ${run.status ?? run.signal}):\n${last}`);
      }
      const reply = JSON.parse(run.stdout) as { torch: string; capability: string; cases: { seconds: number[] }[] };
      return { torch: reply.torch, capability: reply.capability, seconds: reply.cases.map((c) => c.seconds) };
    },
  };
}
