// Fused attention (dc_attention) on the STDiT3 shapes: spatial self-attention (S tokens of a
// frame, frames × CFG as batch), temporal self-attention (T frames, one short sequence per token
// and head, with RoPE; causal for the autoregressive model) and cross-attention to a padded caption
// (300 keys, key mask). q, k, v are strided views of the packed projection output, as in the model.
// References, measured in the same process: an unfused implementation built from the library's own
// ops (per (batch, head) a GEMM materialises the scores with the mask added in its epilogue,
// softmax in place, a GEMM with Vᵀ), and onnxruntime's com.microsoft MultiHeadAttention when the
// optional package onnxruntime-node can be imported (it is not a dependency); and PyTorch's
// scaled_dot_product_attention in the same dtype, timed in the same run by bench/torch.ts when
// $DITCACHE_TORCH_PYTHON (default python3) imports torch. bf16 rows take bf16 q/k/v and out.
import { performance } from 'node:perf_hooks';

import { timed } from '../../lib/bench.js';
import { ops, tensor, type Tensor } from '../../lib/index.js';
import { measure, median, type BenchContext, type BenchRow, type KernelSuite } from '../harness.js';
import { torchRunner, type SdpaCase } from '../torch.js';

interface Shape {
  kind: 'spatial' | 'temporal' | 'cross';
  B: number;
  H: number;
  Nq: number;
  Nk: number;
  D: number;
  causal?: boolean;
  rope?: boolean;
  /** visible caption keys of Nk (cross-attention) */
  visible?: number;
  /** of q, k, v and out (default f32) */
  dtype?: 'f32' | 'bf16';
  /**
   * q, k, v and out as dense [B, H, N, D] tensors, each sequence's rows contiguous (the layout a
   * qkv projection writing head-major would leave), instead of strided views of the projection.
   */
  headMajor?: boolean;
}

function shapes(quick: boolean): Shape[] {
  if (quick) {
    return [
      { kind: 'spatial', B: 2, H: 4, Nq: 1024, Nk: 1024, D: 72 },
      { kind: 'spatial', B: 2, H: 4, Nq: 1024, Nk: 1024, D: 72, dtype: 'bf16' },
      { kind: 'temporal', B: 1024, H: 2, Nq: 16, Nk: 16, D: 72, rope: true },
      { kind: 'cross', B: 2, H: 4, Nq: 1024, Nk: 300, D: 72, visible: 120 },
    ];
  }
  const bf16: Shape[] = [
    { kind: 'spatial', B: 2, H: 16, Nq: 1024, Nk: 1024, D: 72 },
    { kind: 'spatial', B: 1, H: 16, Nq: 4096, Nk: 4096, D: 72 },
    { kind: 'spatial', B: 2, H: 16, Nq: 1024, Nk: 1024, D: 64 },
    { kind: 'spatial', B: 2, H: 16, Nq: 1024, Nk: 1024, D: 128 },
    { kind: 'spatial', B: 2, H: 8, Nq: 1024, Nk: 1024, D: 72, causal: true },
    { kind: 'temporal', B: 512, H: 16, Nq: 16, Nk: 16, D: 72, rope: true },
    { kind: 'temporal', B: 4096, H: 16, Nq: 8, Nk: 8, D: 72, rope: true },
    { kind: 'temporal', B: 4096, H: 16, Nq: 8, Nk: 8, D: 72, rope: true, headMajor: true },
    { kind: 'temporal', B: 256, H: 16, Nq: 16, Nk: 16, D: 72, rope: true, causal: true },
    { kind: 'cross', B: 2, H: 16, Nq: 1024, Nk: 300, D: 72, visible: 120 },
  ];
  return [
    ...bf16.map((s): Shape => ({ ...s, dtype: 'bf16' })),
    { kind: 'spatial', B: 1, H: 16, Nq: 4096, Nk: 4096, D: 72 },
    { kind: 'temporal', B: 512, H: 16, Nq: 16, Nk: 16, D: 72, rope: true },
    { kind: 'temporal', B: 4096, H: 16, Nq: 8, Nk: 8, D: 72, rope: true },
    { kind: 'spatial', B: 16, H: 16, Nq: 256, Nk: 256, D: 72 },
    { kind: 'spatial', B: 2, H: 16, Nq: 1024, Nk: 1024, D: 72 },
    { kind: 'spatial', B: 1, H: 4, Nq: 4096, Nk: 4096, D: 72 },
    { kind: 'spatial', B: 2, H: 8, Nq: 1024, Nk: 1024, D: 32 },
    { kind: 'spatial', B: 2, H: 8, Nq: 1024, Nk: 1024, D: 64 },
    { kind: 'spatial', B: 2, H: 4, Nq: 1024, Nk: 1024, D: 128 },
    { kind: 'spatial', B: 2, H: 8, Nq: 1024, Nk: 1024, D: 72, causal: true },
    { kind: 'temporal', B: 256, H: 16, Nq: 8, Nk: 8, D: 72, rope: true },
    { kind: 'temporal', B: 16, H: 16, Nq: 16, Nk: 16, D: 72, rope: true },
    { kind: 'temporal', B: 256, H: 16, Nq: 16, Nk: 16, D: 72, rope: true },
    { kind: 'temporal', B: 256, H: 16, Nq: 16, Nk: 16, D: 72, rope: true, causal: true },
    { kind: 'temporal', B: 128, H: 16, Nq: 32, Nk: 32, D: 72, rope: true },
    { kind: 'temporal', B: 64, H: 16, Nq: 64, Nk: 64, D: 72, rope: true },
    { kind: 'cross', B: 2, H: 16, Nq: 1024, Nk: 300, D: 72, visible: 120 },
  ];
}

function random(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    out[i] = (s / 2 ** 32) * 2 - 1;
  }
  return out;
}

/** Caption key j of batch item b is visible (exactly `visible` keys per item, spread out). */
function captionVisible(s: Shape, b: number, j: number): boolean {
  return (j * 7 + b) % s.Nk < s.visible!;
}

/** Keys each query sees, summed over queries: the useful multiply-adds are 2·D per pair for q·k and p·v. */
function visiblePairs(s: Shape): number {
  if (s.causal) {
    let pairs = 0;
    for (let i = 0; i < s.Nq; i++) pairs += Math.min(s.Nk, i + 1 + s.Nk - s.Nq);
    return pairs;
  }
  return s.Nq * (s.visible ?? s.Nk);
}

function describe(s: Shape): string {
  const parts = [`${s.dtype ?? 'f32'} B=${s.B} H=${s.H}`, s.Nq === s.Nk ? `N=${s.Nq}` : `Nq=${s.Nq} Nk=${s.Nk}`, `D=${s.D}`];
  if (s.visible !== undefined) parts.push(`${s.visible} keys visible`);
  if (s.rope) parts.push('rope');
  if (s.headMajor) parts.push('head-major dense');
  return parts.join(' ');
}

/** [B, H, N, D] views of the packed [B, N, groups, H, D] projection output, one per group. */
function packed(B: number, N: number, groups: number, H: number, D: number, seed: number, keep: (t: Tensor) => Tensor, dtype: 'f32' | 'bf16' = 'f32'): Tensor[] {
  const buf = keep(tensor(random(B * N * groups * H * D, seed), [B * N * groups * H * D], { dtype }));
  return Array.from({ length: groups }, (_, g) =>
    keep(buf.view([B, H, N, D], { offset: g * H * D, strides: [N * groups * H * D, D, groups * H * D, 1] })),
  );
}

/** Seconds of `runs` runs of an async or sync function, median, after one untimed run. */
type Timer = (runs: number) => Promise<number>;

function timer(once: () => unknown): Timer {
  let warm = false;
  return async (runs) => {
    if (!warm) {
      await once();
      warm = true;
    }
    const times: number[] = [];
    for (let r = 0; r < runs; r++) {
      const t0 = performance.now();
      await once();
      times.push((performance.now() - t0) / 1e3);
    }
    return median(times);
  };
}

/** The unfused reference: per (batch, head) GEMM → softmax → GEMM, on dense copies of q, k and Vᵀ. */
function unfused(s: Shape, q: Tensor, k: Tensor, v: Tensor, keep: (t: Tensor) => Tensor): Timer {
  const { B, H, Nq, Nk, D } = s;
  const scaled = keep(ops.mul(keep(q.clone()), keep(tensor(new Float32Array(D).fill(1 / Math.sqrt(D)), [1, D]))));
  const kd = keep(k.clone());
  const vt = keep(v.view([B, H, D, Nk], { offset: 0, strides: [v.strides[0]!, v.strides[1]!, 1, v.strides[2]!] }).clone());
  let additive: Tensor[] = [];
  if (s.causal) {
    const m = new Float32Array(Nq * Nk);
    for (let i = 0; i < Nq; i++) for (let j = 0; j < Nk; j++) m[i * Nk + j] = j <= i + Nk - Nq ? 0 : -Infinity;
    additive = [keep(tensor(m, [Nq, Nk]))];
  } else if (s.visible !== undefined) {
    additive = Array.from({ length: B }, (_, b) => {
      const m = new Float32Array(Nq * Nk);
      for (let j = 0; j < Nk; j++) if (!captionVisible(s, b, j)) for (let i = 0; i < Nq; i++) m[i * Nk + j] = -Infinity;
      return keep(tensor(m, [Nq, Nk]));
    });
  }
  const scores = keep(tensor(new Float32Array(Nq * Nk), [Nq, Nk]));
  const out = keep(tensor(new Float32Array(B * H * Nq * D), [B, H, Nq, D]));
  const heads: { q: Tensor; k: Tensor; vt: Tensor; out: Tensor; mask: Tensor | undefined }[] = [];
  for (let b = 0; b < B; b++)
    for (let h = 0; h < H; h++) {
      const at = (t: Tensor, rows: number, cols: number) =>
        keep(t.view([rows, cols], { offset: (b * H + h) * rows * cols, strides: [cols, 1] }));
      heads.push({ q: at(scaled, Nq, D), k: at(kd, Nk, D), vt: at(vt, D, Nk), out: at(out, Nq, D), mask: additive[additive.length > 1 ? b : 0] });
    }
  return timer(() => {
    for (const x of heads) {
      ops.gemm(x.q, x.k, { out: scores, residual: x.mask });
      ops.softmax(scores, { out: scores });
      ops.gemm(scores, x.vt, { out: x.out });
    }
  });
}

// ---------------------------------------------------------------- optional onnxruntime reference

interface Ort {
  Tensor: new (type: string, data: Float32Array | Int32Array, dims: number[]) => unknown;
  InferenceSession: {
    create(model: Uint8Array, options: Record<string, unknown>): Promise<{ run(feeds: Record<string, unknown>): Promise<unknown> }>;
  };
}

async function loadOrt(): Promise<Ort | undefined> {
  const name = 'onnxruntime-node';
  try {
    return (await import(name)) as Ort;
  } catch {
    return undefined;
  }
}

// A one-node ONNX model written as protobuf by hand: ModelProto{ir_version, opset_import, graph}.
const utf8 = new TextEncoder();
const varint = (n: number): number[] => {
  const out: number[] = [];
  do {
    out.push((n & 0x7f) | (n > 0x7f ? 0x80 : 0));
    n = Math.floor(n / 128);
  } while (n > 0);
  return out;
};
const pbBytes = (field: number, payload: number[]): number[] => [...varint((field << 3) | 2), ...varint(payload.length), ...payload];
const pbString = (field: number, s: string): number[] => pbBytes(field, [...utf8.encode(s)]);
const pbInt = (field: number, n: number): number[] => [...varint(field << 3), ...varint(n)];
const pbTensorInfo = (name: string, elemType: number, dims: number[]): number[] => [
  ...pbString(1, name),
  ...pbBytes(2, pbBytes(1, [...pbInt(1, elemType), ...pbBytes(2, dims.flatMap((d) => pbBytes(1, pbInt(1, d))))])),
];

/** com.microsoft MultiHeadAttention on q [B, Nq, H·D], k/v [B, Nk, H·D], optional key padding mask [B, Nk] int32. */
function mhaModel(s: Shape): Uint8Array {
  const { B, H, Nq, Nk, D } = s;
  const FLOAT = 1;
  const INT32 = 6;
  const INT_ATTRIBUTE = 2;
  const mask = s.visible !== undefined;
  const node = [
    ...['q', 'k', 'v', ...(mask ? ['', 'mask'] : [])].flatMap((n) => pbString(1, n)),
    ...pbString(2, 'out'),
    ...pbString(4, 'MultiHeadAttention'),
    ...pbString(7, 'com.microsoft'),
    ...pbBytes(5, [...pbString(1, 'num_heads'), ...pbInt(20, INT_ATTRIBUTE), ...pbInt(3, H)]),
    ...(s.causal ? pbBytes(5, [...pbString(1, 'unidirectional'), ...pbInt(20, INT_ATTRIBUTE), ...pbInt(3, 1)]) : []),
  ];
  const graph = [
    ...pbBytes(1, node),
    ...pbString(2, 'attention'),
    ...pbBytes(11, pbTensorInfo('q', FLOAT, [B, Nq, H * D])),
    ...pbBytes(11, pbTensorInfo('k', FLOAT, [B, Nk, H * D])),
    ...pbBytes(11, pbTensorInfo('v', FLOAT, [B, Nk, H * D])),
    ...(mask ? pbBytes(11, pbTensorInfo('mask', INT32, [B, Nk])) : []),
    ...pbBytes(12, pbTensorInfo('out', FLOAT, [B, Nq, H * D])),
  ];
  const opset = (domain: string, version: number) => pbBytes(8, [...pbString(1, domain), ...pbInt(2, version)]);
  return Uint8Array.from([...pbInt(1, 8), ...opset('', 17), ...opset('com.microsoft', 1), ...pbBytes(7, graph)]);
}

async function ortReference(ort: Ort, s: Shape, threads: number): Promise<Timer> {
  const { B, H, Nq, Nk, D } = s;
  const session = await ort.InferenceSession.create(mhaModel(s), {
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: 'all',
  });
  const feeds: Record<string, unknown> = {
    q: new ort.Tensor('float32', random(B * Nq * H * D, 4), [B, Nq, H * D]),
    k: new ort.Tensor('float32', random(B * Nk * H * D, 5), [B, Nk, H * D]),
    v: new ort.Tensor('float32', random(B * Nk * H * D, 6), [B, Nk, H * D]),
  };
  if (s.visible !== undefined) {
    feeds.mask = new ort.Tensor('int32', Int32Array.from({ length: B * Nk }, (_, i) => (captionVisible(s, Math.floor(i / Nk), i % Nk) ? 1 : 0)), [B, Nk]);
  }
  return timer(() => session.run(feeds));
}

// ---------------------------------------------------------------- optional PyTorch reference

/** PyTorch SDPA's name and median seconds per shape (same dtype, mask and causality; no RoPE). */
function torchTimes(list: Shape[], ctx: BenchContext): [string, number][] | undefined {
  const runner = torchRunner();
  if ('skipped' in runner) {
    console.log(`attention: no PyTorch reference (${runner.skipped})`);
    return undefined;
  }
  const cases = list.map((s): SdpaCase => ({
    op: 'sdpa',
    B: s.B,
    H: s.H,
    Nq: s.Nq,
    Nk: s.Nk,
    D: s.D,
    dtype: s.dtype ?? 'f32',
    causal: s.causal,
    visible: s.visible,
  }));
  const times = runner.time(cases, { threads: ctx.threads, repeat: 5 });
  return list.map((s, i) => [`PyTorch ${times.torch} SDPA ${s.dtype ?? 'f32'}`, median(times.seconds[i]!)]);
}

// ---------------------------------------------------------------- the suite

// Fused op and references are measured alternately, ROUNDS short rounds each, and each keeps its
// best round's median: on a machine shared with other work, interference then costs rounds, not
// the figure.
const ROUNDS = 5;

async function runShape(s: Shape, ctx: BenchContext, ort: Ort | undefined, torch: [string, number] | undefined): Promise<BenchRow[]> {
  const { B, H, Nq, Nk, D } = s;
  const dtype = s.dtype ?? 'f32';
  const tensors: Tensor[] = [];
  const keep = (t: Tensor): Tensor => (tensors.push(t), t);
  try {
    let q: Tensor, k: Tensor, v: Tensor;
    if (s.headMajor) {
      [q, k, v] = [1, 2, 3].map((seed) => keep(tensor(random(B * H * Nq * D, seed), [B, H, Nq, D], { dtype }))) as [Tensor, Tensor, Tensor];
    } else if (s.kind === 'cross') {
      [q] = packed(B, Nq, 1, H, D, 1, keep, dtype);
      [k, v] = packed(B, Nk, 2, H, D, 2, keep, dtype) as [Tensor, Tensor];
    } else {
      [q, k, v] = packed(B, Nq, 3, H, D, 1, keep, dtype) as [Tensor, Tensor, Tensor];
    }
    const [out] = s.headMajor ? [keep(tensor(random(B * H * Nq * D, 4), [B, H, Nq, D], { dtype }))] : packed(B, Nq, 1, H, D, 3, keep, dtype);
    const keyMask =
      s.visible !== undefined
        ? keep(tensor(Uint8Array.from({ length: B * Nk }, (_, i) => (captionVisible(s, Math.floor(i / Nk), i % Nk) ? 1 : 0)), [B, Nk]))
        : undefined;
    const rope = s.rope ? { freqs: keep(tensor(Float32Array.from({ length: D / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / D)), [D / 2])) } : undefined;
    const options = { causal: s.causal, keyMask, rope, out };
    const fused = (repeat: number) => timed.attention(repeat, q, k, v, options);

    // The unfused and onnxruntime references are fp32 pipelines: bf16 rows compare with PyTorch only.
    const references: [string, Timer][] = dtype === 'f32' ? [['unfused', unfused(s, q, k, v, keep)]] : [];
    if (ort && dtype === 'f32') references.push(['onnxruntime MultiHeadAttention', await ortReference(ort, s, ctx.threads)]);
    const rounds = ctx.quick ? 1 : ROUNDS;
    let seconds = Infinity;
    const referenceSeconds = references.map(() => Infinity);
    for (let round = 0; round < rounds; round++) {
      seconds = Math.min(seconds, measure(fused, ctx.quick ? 0.3 : 0.4));
      for (const [i, [, time]] of references.entries()) referenceSeconds[i] = Math.min(referenceSeconds[i]!, await time(ctx.quick ? 1 : 2));
    }
    const rows: [string, number][] = references.map(([reference], i) => [reference, referenceSeconds[i]!]);
    if (torch) rows.push(torch);
    if (rows.length === 0) rows.push(['', NaN]);
    return rows.map(([reference, refSeconds]) => ({
      op: `attention ${s.kind}${s.causal ? ' causal' : ''}`,
      shape: describe(s),
      threads: ctx.threads,
      isa: ctx.isa,
      seconds,
      flops: 4 * B * H * D * visiblePairs(s),
      // q, k, v read and out written once: the floor of the memory traffic.
      bytes: s.kind === 'temporal' ? (dtype === 'bf16' ? 2 : 4) * B * H * (2 * Nq + 2 * Nk) * D : undefined,
      ...(reference ? { reference, referenceSeconds: refSeconds } : {}),
    }));
  } finally {
    for (const t of tensors) t.dispose();
  }
}

export const suite: KernelSuite = {
  name: 'attention',
  title: 'Attention',
  notes:
    'Fused attention with online softmax (dc_attention) on STDiT3 shapes (head_dim 72 unless stated): spatial ' +
    'self-attention over the S tokens of a frame (batch = frames × CFG), temporal self-attention over T frames (one ' +
    'sequence per token and head: B × H sequences, RoPE on the fly; causal for the autoregressive model) and ' +
    'cross-attention to a 300-token caption with a key mask. q, k, v and out are strided [B, H, N, D] views of ' +
    'packed [B, N, 3, H, D] (or [B, N, H, D]) buffers, as the model passes them. GFLOP/s counts 4·D per visible ' +
    '(query, key) pair (4·Nq·Nk·D per head, about half of it for causal, the visible caption keys for ' +
    'cross-attention). "% FMA peak" is against the multiply-add roof measured for the same thread count in the ' +
    'same run. References, in the same process: "unfused" is built from the library\'s own ops, per (batch, head) a ' +
    'GEMM materialises the scores (mask added in its epilogue), softmax in place, a GEMM with Vᵀ; dense copies ' +
    'of q·scale, k and Vᵀ are made outside the timing, and its time includes one N-API call per op, which ' +
    'dominates for the thousands of short temporal sequences. "onnxruntime MultiHeadAttention" (com.microsoft ' +
    'contrib op, CPU provider, intra-op threads = the row\'s threads) appears when the optional package ' +
    'onnxruntime-node is importable; it takes dense [B, N, H·D] inputs. "PyTorch SDPA" is ' +
    'torch.nn.functional.scaled_dot_product_attention in the row\'s dtype on contiguous [B, H, N, D] tensors ' +
    '(boolean key mask for the caption, bottom-right causal), timed in the same run; bf16 rows have only this ' +
    'reference. With AMX, bf16 attention over 32 queries or more runs on tiles (P rounded to bf16 before P·V); ' +
    'shorter (temporal) sequences widen bf16 to fp32 as they are read. No reference applies RoPE. Fused op ' +
    'and references alternate in five short rounds and each keeps its best round\'s median. Temporal shapes move ' +
    '4 × B·H·T·D floats for 4·T²·D flops per sequence (2 flops per byte at T = 8, 4 at T = 16); the 4096-sequence ' +
    'rows (38 MB to 75 MB of q, k, v, out) stream from memory, each sequence requesting the rows of the one two ' +
    'places later while it computes; the 256-sequence row (4.7 MB) shows the same kernel with its data in cache. ' +
    'bench/probes/strided_rows.cpp measures the floor of that access pattern without any arithmetic (see the ' +
    'profile below the table).',
  async run(ctx: BenchContext): Promise<BenchRow[]> {
    const ort = await loadOrt();
    const list = shapes(ctx.quick);
    const torch = ctx.quick ? undefined : torchTimes(list, ctx);
    const rows: BenchRow[] = [];
    for (const [i, s] of list.entries()) rows.push(...(await runShape(s, ctx, ort, torch?.[i])));
    return rows;
  },
};
