// GEMM on the STDiT3 projection shapes with the epilogues the model uses: qkv (+bias), attention
// output and fc2 (+bias, ×gate, +residual in place), fc1 (+bias, GELU-tanh). Tokens M = 2048 and
// 4096 at hidden 1152 (Open-Sora 1.2), in fp32 (fp32 weights and activations) and in bf16 (bf16
// weights and activations, as a model loaded with dtype bf16 runs them: bf16 out for qkv and fc1,
// fp32 out into the fp32 residual for proj and fc2), weights packed once as the models pack them;
// and M = 2048 at hidden 128 (the tiny model). The reference is PyTorch's
// torch.nn.functional.linear (with bias) in the same dtype, timed in the same run by
// bench/torch.ts when $DITCACHE_TORCH_PYTHON (default python3) imports torch; without it, and for
// the tiny shapes, the portable build of the same kernel (GCC vector extensions, baseline SSE2).
import * as bench from '../../lib/bench.js';
import { ops, runtime, tensor, type Activation, type Tensor } from '../../lib/index.js';
import { measure, median, type BenchContext, type BenchRow, type KernelSuite } from '../harness.js';
import { torchRunner, type LinearCase } from '../torch.js';

interface Shape {
  layer: 'qkv' | 'proj' | 'fc1' | 'fc2';
  M: number;
  hidden: number;
  dtype: 'f32' | 'bf16';
}

const LAYERS: Record<Shape['layer'], { n: number; k: number; activation: Activation; gated: boolean }> = {
  qkv: { n: 3, k: 1, activation: 'none', gated: false },
  proj: { n: 1, k: 1, activation: 'none', gated: true },
  fc1: { n: 4, k: 1, activation: 'gelu-tanh', gated: false },
  fc2: { n: 1, k: 4, activation: 'none', gated: true },
};

function shapes(quick: boolean): Shape[] {
  if (quick) return [{ layer: 'qkv', M: 512, hidden: 1152, dtype: 'f32' }, { layer: 'fc2', M: 512, hidden: 1152, dtype: 'bf16' }];
  const out: Shape[] = [];
  for (const dtype of ['bf16', 'f32'] as const)
    for (const M of [4096, 2048]) for (const layer of ['qkv', 'proj', 'fc1', 'fc2'] as const) out.push({ layer, M, hidden: 1152, dtype });
  for (const layer of ['qkv', 'fc1', 'fc2'] as const) out.push({ layer, M: 2048, hidden: 128, dtype: 'f32' });
  return out;
}

const size = (s: Shape) => ({ N: LAYERS[s.layer].n * s.hidden, K: LAYERS[s.layer].k * s.hidden });
const torchCase = (s: Shape): LinearCase => ({ op: 'linear', M: s.M, ...size(s), dtype: s.dtype, bias: true });
const torchRef = (s: Shape) => s.hidden >= 1152;

function random(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

function runShape(s: Shape, ctx: BenchContext, torch: { name: string; seconds: number } | undefined): BenchRow {
  const layer = LAYERS[s.layer];
  const { N, K } = size(s);
  const tensors: Tensor[] = [];
  const keep = <T extends Tensor>(t: T): T => (tensors.push(t), t);
  try {
    const a = keep(tensor(random(s.M * K, 1), [s.M, K], { dtype: s.dtype }));
    const w = keep(ops.packWeight(keep(tensor(random(N * K, 2, 1 / Math.sqrt(K)), [N, K], { dtype: s.dtype }))));
    const bias = keep(tensor(random(N, 3), [N]));
    // The model's out: the fp32 residual stream for the gated layers, the activation dtype otherwise.
    const out = keep(tensor(random(s.M * N, 4), [s.M, N], { dtype: layer.gated ? 'f32' : s.dtype }));
    const gate = layer.gated ? keep(tensor(random(2 * N, 5), [2, N])) : undefined;
    const options = { bias, activation: layer.activation, gate, residual: gate ? out : undefined, out };
    const timed = (repeat: number) => bench.timed.gemm(repeat, a, w, options);
    const seconds = measure(timed, ctx.quick ? 0.5 : 2);
    let reference = torch?.name ?? 'portable';
    let referenceSeconds = torch?.seconds;
    if (referenceSeconds === undefined) {
      const isa = runtime.isa().active;
      runtime.setIsa('portable');
      try {
        referenceSeconds = measure(timed, ctx.quick ? 0.5 : 2, 1);
      } finally {
        runtime.setIsa(isa);
      }
      reference = 'portable';
    }
    const epilogue = [layer.activation !== 'none' ? layer.activation : '', gate ? 'gate+residual' : ''].filter(Boolean);
    return {
      op: `gemm ${s.layer} ${s.dtype} (bias${epilogue.length ? `, ${epilogue.join(', ')}` : ''})`,
      shape: `M=${s.M} N=${N} K=${K}`,
      threads: ctx.threads,
      isa: ctx.isa,
      seconds,
      flops: 2 * s.M * N * K,
      reference,
      referenceSeconds,
    };
  } finally {
    for (const t of tensors) t.dispose();
  }
}

/** PyTorch's median seconds for the shapes it is the reference of, or why it is absent. */
function torchTimes(list: Shape[], ctx: BenchContext): Map<Shape, { name: string; seconds: number }> | string {
  const runner = torchRunner();
  if ('skipped' in runner) return runner.skipped;
  const mine = list.filter(torchRef);
  const times = runner.time(mine.map(torchCase), { threads: ctx.threads, repeat: 5 });
  return new Map(mine.map((s, i) => [s, { name: `PyTorch ${times.torch} linear ${s.dtype}`, seconds: median(times.seconds[i]!) }]));
}

export const suite: KernelSuite = {
  name: 'gemm',
  title: 'GEMM',
  notes:
    'out = residual + gate · act(a·wᵀ + bias) on STDiT3 projection shapes, each with the epilogue the model fuses ' +
    'into it; GFLOP/s counts 2·M·N·K. Weights are packed once (ops.packWeight), as models pack them at load. ' +
    'bf16 rows: bf16 weights and activations, bf16 out for qkv and fc1 and fp32 out into an fp32 residual for proj ' +
    'and fc2, as a model loaded with dtype bf16 runs them; with AMX the products run on tiles (tdpbf16ps), with ' +
    'AVX-512 BF16 measured faster than FMAs on vdpbf16ps, else on FMAs after widening. "% FMA peak" is against the ' +
    'fp32 multiply-add roof measured for the same thread count in the same run (bf16 rows exceed it on matrix ' +
    'engines). The reference is torch.nn.functional.linear (with bias; it fuses no gate or residual) in the same ' +
    'dtype and thread count, timed in the same run; without PyTorch, and on the tiny shapes, the portable build ' +
    'of the same kernel forced with `runtime.setIsa(\'portable\')`. Each time is the median of timed runs; whether ' +
    'the two threads of a 2-thread row share one core is in the machine line above the tables.',
  run(ctx: BenchContext): BenchRow[] {
    const list = shapes(ctx.quick);
    const torch = ctx.quick ? 'not in --quick runs' : torchTimes(list, ctx);
    if (typeof torch === 'string') console.log(`gemm: no PyTorch reference (${torch})`);
    return list.map((s) => runShape(s, ctx, typeof torch === 'string' ? undefined : torch.get(s)));
  },
};
