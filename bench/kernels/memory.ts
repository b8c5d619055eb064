// Memory-bound ops on STDiT3-sized tensors (hidden 1152, 2·4096 tokens; 720p latents), each timed
// in native code next to a plain contiguous copy that moves the same number of bytes (half read,
// half written) in the same run: referenceSeconds / seconds is the fraction of copy bandwidth an
// op reaches. Bytes count every tensor read plus every tensor written once.
import { timed } from '../../lib/bench.js';
import { empty, tensor, type Tensor } from '../../lib/index.js';
import { binding } from '../../lib/native/loader.js';
import { measure, type BenchContext, type BenchRow, type KernelSuite } from '../harness.js';

const F32 = 4;

interface Case {
  op: string;
  shape: string;
  bytes: number;
  /** Allocates the operands and returns the timed loop; `dispose` frees them. */
  setup(): { timed: (repeat: number) => Float64Array; dispose: () => void };
}

function filled(shape: number[], seed: number): Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  let s = seed;
  for (let i = 0; i < n; i++) {
    s = (s * 1103515245 + 12345) >>> 0;
    data[i] = (s / 2 ** 32) * 2 - 1;
  }
  return tensor(data, shape);
}

function owning(tensors: Tensor[], timed: (repeat: number) => Float64Array) {
  return { timed, dispose: () => tensors.forEach((t) => t.dispose()) };
}

// x [2·4096, 1152]: the token rows of one STDiT3 block for a batch of 2.
const R = 2 * 4096;
const C = 1152;
const X = R * C * F32;
const ROWS = `[${R}, ${C}]`;

function rowCase(op: string, bytes: number, run: (x: Tensor, y: Tensor, out: Tensor, repeat: number) => Float64Array): Case {
  return {
    op,
    shape: ROWS,
    bytes,
    setup() {
      const x = filled([R, C], 1);
      const y = filled([R, C], 2);
      const out = empty([R, C]);
      return owning([x, y, out], (repeat) => run(x, y, out, repeat));
    },
  };
}

function cases(): Case[] {
  return [
    rowCase('layerNorm', 2 * X, (x, _y, out, n) => timed.layerNorm(n, x, { out })),
    {
      op: 'layerNorm+modulate (G=32)', // one row per frame: the x_mask path
      shape: ROWS,
      bytes: 2 * X,
      setup() {
        const x = filled([R, C], 1);
        const [shift, scale] = [filled([32, C], 3), filled([32, C], 4)];
        const out = empty([R, C]);
        return owning([x, shift, scale, out], (n) => timed.layerNorm(n, x, { shift, scale, out }));
      },
    },
    {
      op: 'rmsNorm q, k in place (qkv)',
      shape: '[2, 4096, 3, 16, 72]',
      bytes: 4 * X,
      setup() {
        const qkv = filled([2, 4096, 3, 16, 72], 5);
        const strides = [4096 * 3 * C, 3 * C, 72, 1];
        const q = qkv.view([2, 4096, 16, 72], { strides });
        const k = qkv.view([2, 4096, 16, 72], { offset: C, strides });
        const weight = filled([72], 6);
        return owning([qkv, q, k, weight], (n) => {
          const tq = timed.rmsNorm(n, q, { weight, out: q });
          const tk = timed.rmsNorm(n, k, { weight, out: k });
          return tq.map((t, i) => t + tk[i]!);
        });
      },
    },
    {
      op: 'modulate (G=2)',
      shape: ROWS,
      bytes: 2 * X,
      setup() {
        const x = filled([R, C], 1);
        const [shift, scale] = [filled([2, C], 3), filled([2, C], 4)]; // one row per sample
        const out = empty([R, C]);
        return owning([x, shift, scale, out], (n) => timed.modulate(n, x, shift, scale, { out }));
      },
    },
    rowCase('gelu-tanh', 2 * X, (x, _y, out, n) => timed.activate(n, x, 'gelu-tanh', { out })),
    rowCase('silu', 2 * X, (x, _y, out, n) => timed.activate(n, x, 'silu', { out })),
    rowCase('add', 3 * X, (x, y, out, n) => timed.add(n, x, y, { out })),
    rowCase('add in place', 3 * X, (x, y, _out, n) => timed.add(n, x, y, { out: x })),
    rowCase('mul', 3 * X, (x, y, out, n) => timed.mul(n, x, y, { out })),
    {
      op: 'axpby (grouped y, G=2)',
      shape: ROWS,
      bytes: 2 * X,
      setup() {
        const x = filled([R, C], 1);
        const y = filled([2, C], 2);
        const out = empty([R, C]);
        return owning([x, y, out], (n) => timed.axpby(n, 0.5, x, 2, y, { out }));
      },
    },
    rowCase('softmax', 2 * X, (x, _y, out, n) => timed.softmax(n, x, { out })),
    {
      op: 'rope (temporal q view of qkv)',
      shape: '[2·256, 16, T=16, 72]',
      bytes: 2 * X,
      setup() {
        // Temporal attention: sequences of T = 16 frames at each of 2·256 token positions.
        const qkv = filled([512, 16, 3, 16, 72], 7);
        const q = qkv.view([512, 16, 16, 72], { strides: [16 * 3 * C, 72, 3 * C, 1] });
        const freqs = tensor(Float32Array.from({ length: 36 }, (_, i) => 1 / 10000 ** (i / 36)), [36]);
        const out = empty([512, 16, 16, 72]);
        return owning([qkv, q, freqs, out], (n) => timed.rope(n, q, freqs, { pos0: 0, out }));
      },
    },
    rowCase('residualDistance L1', 2 * X, (x, y, _out, n) => timed.residualDistance(n, x, y, { norm: 'l1' })),
    rowCase('residualDistance L2 + refresh', 3 * X, (x, y, _out, n) =>
      timed.residualDistance(n, x, y, { norm: 'l2', update: true }),
    ),
    {
      op: 'motionScore (strides 1, 2, 3)',
      shape: '[2, 16·256, 1152]',
      bytes: X,
      setup() {
        const r = filled([2, 16 * 256, C], 8);
        return owning([r], (n) => timed.motionScore(n, r, 16, [1, 2, 3]));
      },
    },
    {
      op: 'patchify (1, 2, 2)',
      shape: '[2, 4, 16, 90, 160]',
      bytes: 2 * 2 * 4 * 16 * 90 * 160 * F32,
      setup() {
        const video = filled([2, 4, 16, 90, 160], 9);
        const out = empty([2, 16 * 45 * 80, 16]);
        return owning([video, out], (n) => timed.patchify(n, video, [1, 2, 2], { out }));
      },
    },
    {
      op: 'unpatchify (1, 2, 2), 8 → 4 channels',
      shape: '[2, 57600, 32]',
      bytes: 3 * 2 * 4 * 16 * 90 * 160 * F32, // all token lines read (twice the video), the video written
      setup() {
        const tokens = filled([2, 16 * 45 * 80, 32], 10);
        const out = empty([2, 4, 16, 90, 160]);
        return owning([tokens, out], (n) => timed.unpatchify(n, tokens, [1, 2, 2], [2, 4, 16, 90, 160], { out }));
      },
    },
    {
      op: 'copy q of qkv (strided rows)',
      shape: '[2, 4096, 1152] of [2, 4096, 3456]',
      bytes: 2 * X,
      setup() {
        const qkv = filled([2, 4096, 3 * C], 11);
        const q = qkv.view([2, 4096, C], { strides: [4096 * 3 * C, 3 * C, 1] });
        const out = empty([2, 4096, C]);
        return owning([qkv, q, out], (n) => binding().copy(out.native, q.native, { repeat: n }));
      },
    },
    {
      op: 'copy f32 → bf16',
      shape: ROWS,
      bytes: X + X / 2,
      setup() {
        const x = filled([R, C], 12);
        const out = empty([R, C], { dtype: 'bf16' });
        return owning([x, out], (n) => binding().copy(out.native, x.native, { repeat: n }));
      },
    },
    {
      op: 'fill',
      shape: ROWS,
      bytes: X,
      setup() {
        const x = empty([R, C]);
        return owning([x], (n) => binding().fill(x.native, 0.5, { repeat: n }));
      },
    },
  ];
}

/** A contiguous f32 copy that reads bytes/2 and writes bytes/2, timed in native code. */
function copyOf(bytes: number) {
  const n = Math.round(bytes / 2 / F32);
  const src = filled([n], 13);
  const dst = empty([n]);
  return owning([src, dst], (repeat) => binding().copy(dst.native, src.native, { repeat }));
}

// Op and copy are measured alternately, ROUNDS short rounds each, and each keeps its best round's
// median: on a machine shared with other work, interference then costs rounds, not the figure.
const ROUNDS = 9;

export const suite: KernelSuite = {
  name: 'memory',
  title: 'Memory-bound ops',
  notes: [
    'Each op is timed in native code next to a plain contiguous f32 copy that moves the same number',
    'of bytes (half read, half written): op and copy alternate in nine short rounds and each keeps',
    "its best round's median. \"speed vs reference\" is copy time / op time, so 1.00× means the op",
    'streams at copy bandwidth. Bytes count each tensor read once plus each tensor written once. The',
    'q/k views are strided rows of a packed qkv buffer, as the model uses them.',
  ].join('\n'),
  run(ctx: BenchContext): BenchRow[] {
    const budget = (ctx.quick ? 0.2 : 2) / ROUNDS;
    const rows: BenchRow[] = [];
    for (const c of cases()) {
      const op = c.setup();
      const copy = copyOf(c.bytes);
      try {
        let seconds = Infinity;
        let referenceSeconds = Infinity;
        for (let round = 0; round < ROUNDS; round++) {
          referenceSeconds = Math.min(referenceSeconds, measure(copy.timed, budget));
          seconds = Math.min(seconds, measure(op.timed, budget));
        }
        rows.push({ op: c.op, shape: c.shape, threads: ctx.threads, isa: ctx.isa, seconds, bytes: c.bytes, reference: 'copy of the same bytes', referenceSeconds });
      } finally {
        op.dispose();
        copy.dispose();
      }
    }
    return rows;
  },
};
