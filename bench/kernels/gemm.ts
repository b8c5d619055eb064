// GEMM on the STDiT3 projection shapes with the epilogues the model uses: qkv (+bias), attention
// output and fc2 (+bias, ×gate, +residual in place), fc1 (+bias, GELU-tanh). Tokens M = 512, 2048,
// 8192 (batch 2 of 256 to 4096 tokens) at hidden 1152 (STDiT3-XL) and 2048 at hidden 128 (the
// tiny model); fp32 weights, and bf16 weights for a few. The reference is the portable build of
// the same kernel (GCC vector extensions, baseline SSE2, no FMA), timed on the same shapes in the
// same process.
import { ops, runtime, tensor, type Activation, type Tensor } from '../../lib/index.js';
import { measure, type BenchContext, type BenchRow, type KernelSuite } from '../harness.js';

interface Shape {
  layer: 'qkv' | 'proj' | 'fc1' | 'fc2';
  M: number;
  hidden: number;
  bf16?: boolean;
}

const LAYERS: Record<Shape['layer'], { n: number; k: number; activation: Activation; gated: boolean }> = {
  qkv: { n: 3, k: 1, activation: 'none', gated: false },
  proj: { n: 1, k: 1, activation: 'none', gated: true },
  fc1: { n: 4, k: 1, activation: 'gelu-tanh', gated: false },
  fc2: { n: 1, k: 4, activation: 'none', gated: true },
};

function shapes(quick: boolean): Shape[] {
  if (quick) return [{ layer: 'qkv', M: 512, hidden: 1152 }, { layer: 'fc2', M: 512, hidden: 1152 }, { layer: 'fc1', M: 512, hidden: 1152, bf16: true }];
  const out: Shape[] = [];
  for (const M of [512, 2048, 8192]) for (const layer of ['qkv', 'proj', 'fc1', 'fc2'] as const) out.push({ layer, M, hidden: 1152 });
  for (const layer of ['qkv', 'fc1', 'fc2'] as const) out.push({ layer, M: 2048, hidden: 128 });
  for (const layer of ['qkv', 'fc1'] as const) out.push({ layer, M: 2048, hidden: 1152, bf16: true });
  return out;
}

function random(n: number, seed: number, scale = 1): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = ((s / 2 ** 32) * 2 - 1) * scale;
  }
  return out;
}

function runShape(s: Shape, ctx: BenchContext): BenchRow {
  const layer = LAYERS[s.layer];
  const N = layer.n * s.hidden;
  const K = layer.k * s.hidden;
  const tensors: Tensor[] = [];
  const keep = (t: Tensor): Tensor => (tensors.push(t), t);
  try {
    const a = keep(tensor(random(s.M * K, 1), [s.M, K]));
    const w32 = keep(tensor(random(N * K, 2, 1 / Math.sqrt(K)), [N, K]));
    const w = s.bf16 ? keep(w32.to('cpu', 'bf16')) : w32;
    const bias = keep(tensor(random(N, 3), [N]));
    const out = keep(tensor(random(s.M * N, 4), [s.M, N]));
    const gate = layer.gated ? keep(tensor(random(2 * N, 5), [2, N])) : undefined;
    const options = { bias, activation: layer.activation, gate, residual: gate ? out : undefined, out };
    const timed = (repeat: number) => ops.timed.gemm(repeat, a, w, options);
    const budget = ctx.quick ? 0.5 : 2;
    const seconds = measure(timed, budget);
    const isa = runtime.isa().active;
    runtime.setIsa('portable');
    let referenceSeconds: number;
    try {
      referenceSeconds = measure(timed, budget, 1);
    } finally {
      runtime.setIsa(isa);
    }
    const epilogue = [layer.activation !== 'none' ? layer.activation : '', gate ? 'gate+residual' : ''].filter(Boolean);
    return {
      op: `gemm ${s.layer}${s.bf16 ? ' bf16 w' : ''} (bias${epilogue.length ? `, ${epilogue.join(', ')}` : ''})`,
      shape: `M=${s.M} N=${N} K=${K}`,
      threads: ctx.threads,
      isa: ctx.isa,
      seconds,
      flops: 2 * s.M * N * K,
      reference: 'portable',
      referenceSeconds,
    };
  } finally {
    for (const t of tensors) t.dispose();
  }
}

export const suite: KernelSuite = {
  name: 'gemm',
  title: 'GEMM',
  notes:
    'out = residual + gate · act(a·wᵀ + bias) on STDiT3 projection shapes, each with the epilogue the model fuses ' +
    'into it; GFLOP/s counts 2·M·N·K. "% FMA peak" is against the multiply-add roof measured for the same thread ' +
    'count in the same run. The reference is the portable build of the same kernel (GCC vector extensions on ' +
    'baseline SSE2, multiply then add), forced with `runtime.setIsa(\'portable\')` in the same process. With bf16 ' +
    'weights and AVX-512 BF16 the products use vdpbf16ps (a rounded to bf16, fp32 accumulation), which can exceed ' +
    'the fp32 roof. Each time is the median of native-timed runs; the two threads of a 2-thread row may share one core ' +
    'on machines with SMT.',
  run(ctx: BenchContext): BenchRow[] {
    return shapes(ctx.quick).map((s) => runShape(s, ctx));
  },
};
