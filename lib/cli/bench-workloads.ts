// The ops `ditcache bench` can time: each builds its operands for a shape given on the command line
// and returns the op's native-timed loop with the work it does (flops for the compute-bound ops,
// bytes moved for the memory-bound ones).
import * as bench from '../bench.js';
import { ops } from '../ops/index.js';
import { empty, tensor, type Tensor } from '../tensor.js';

export class BenchUsageError extends Error {}

export interface Workload {
  label: string;
  /** multiply-adds count 2: the op is reported in GFLOP/s against the FMA peak */
  flops?: number;
  /** every operand read once plus every output written once: reported in GB/s against a copy */
  bytes?: number;
  timed(repeat: number): Float64Array;
  tensors: Tensor[];
}

export interface BenchOptions {
  shape?: string;
  activation?: string;
  bf16?: boolean;
  causal?: boolean;
  rope?: boolean;
  visible?: string;
  groups?: string;
  norm?: string;
  refresh?: boolean;
  strides?: string;
  patch?: string;
}

interface OpSpec {
  shapes: string[][];
  help: string;
  build(d: number[], o: BenchOptions): Workload;
}

const F32 = 4;

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

/** Rotary frequencies of an even head_dim D, base 10000. */
function ropeFreqs(D: number): Tensor {
  return tensor(Float32Array.from({ length: D / 2 }, (_, i) => 1 / 10000 ** ((2 * i) / D)), [D / 2]);
}

function gcd(a: number, b: number): number {
  return b === 0 ? a : gcd(b, a % b);
}

function positiveList(spec: string, name: string, length?: number): number[] {
  const v = spec.split(',').map(Number);
  if (v.some((x) => !Number.isInteger(x) || x < 1) || (length !== undefined && v.length !== length)) {
    throw new BenchUsageError(`--${name} must be ${length ? `${length} ` : 'a list of '}positive integers, got "${spec}"`);
  }
  return v;
}

function positive(spec: string | undefined, name: string, fallback: number): number {
  return spec === undefined ? fallback : positiveList(spec, name, 1)[0]!;
}

/** One shape of [R, C] rows for the row-wise ops. */
function rowOp(help: string, bytesPerElement: number, run: (x: Tensor, y: Tensor, out: Tensor, repeat: number) => Float64Array): OpSpec {
  return {
    shapes: [['R', 'C']],
    help,
    build([R, C]) {
      const x = random([R!, C!], 1);
      const y = random([R!, C!], 2);
      const out = empty([R!, C!]);
      return { label: `R=${R} C=${C}`, bytes: bytesPerElement * R! * C!, timed: (n) => run(x, y, out, n), tensors: [x, y, out] };
    },
  };
}

function norm(rms: boolean): OpSpec {
  return {
    shapes: [['R', 'C']],
    help: rms ? 'R rows of C channels, with weight' : 'R rows of C channels, with weight and bias',
    build([R, C]) {
      const x = random([R!, C!], 1);
      const weight = random([C!], 2);
      const bias = rms ? undefined : random([C!], 3);
      const out = empty([R!, C!]);
      const timed = rms
        ? (n: number) => bench.timed.rmsNorm(n, x, { weight, out })
        : (n: number) => bench.timed.layerNorm(n, x, { weight, bias, out });
      return { label: `R=${R} C=${C}`, bytes: 2 * R! * C! * F32, timed, tensors: [x, weight, ...(bias ? [bias] : []), out] };
    },
  };
}

function patchOf(o: BenchOptions): [number, number, number] {
  return positiveList(o.patch ?? '1,2,2', 'patch', 3) as [number, number, number];
}

export const OPS: Record<string, OpSpec> = {
  gemm: {
    shapes: [['M', 'N', 'K']],
    help: 'out[M,N] = act(a[M,K] · w[N,K]ᵀ + bias); --activation none|gelu-tanh|silu, --bf16 (bf16 weights)',
    build([M, N, K], o) {
      const activation = o.activation ?? 'none';
      if (!['none', 'gelu-tanh', 'silu'].includes(activation)) {
        throw new BenchUsageError(`--activation must be none, gelu-tanh or silu, got "${activation}"`);
      }
      const a = random([M!, K!], 1);
      const w32 = random([N!, K!], 2, 1 / Math.sqrt(K!));
      const w = o.bf16 ? w32.to('cpu', 'bf16') : w32;
      const bias = random([N!], 3);
      const out = empty([M!, N!]);
      const options = { bias, activation: activation as 'none' | 'gelu-tanh' | 'silu', out };
      return {
        label: `M=${M} N=${N} K=${K}${o.bf16 ? ' bf16 weights' : ''}${activation !== 'none' ? ` ${activation}` : ''}`,
        flops: 2 * M! * N! * K!,
        timed: (n) => bench.timed.gemm(n, a, w, options),
        tensors: [a, w32, w, bias, out],
      };
    },
  },
  attention: {
    shapes: [['B', 'H', 'N', 'D'], ['B', 'H', 'Nq', 'Nk', 'D']],
    help: 'q, k, v [B, H, N, D]; --causal, --rope (rotary on the fly), --visible K (a key mask showing K keys)',
    build(d, o) {
      const [B, H] = d as [number, number];
      const Nq = d[2]!;
      const Nk = d.length === 5 ? d[3]! : Nq;
      const D = d[d.length - 1]!;
      const visible = o.visible === undefined ? undefined : positive(o.visible, 'visible', Nk);
      if (visible !== undefined && visible > Nk) throw new BenchUsageError(`--visible must be at most Nk = ${Nk}, got ${visible}`);
      if (o.rope && D % 2 !== 0) throw new BenchUsageError(`--rope needs an even head_dim, got ${D}`);
      const tensors = [random([B, H, Nq, D], 1), random([B, H, Nk, D], 2), random([B, H, Nk, D], 3), empty([B, H, Nq, D])];
      const [q, k, v, out] = tensors as [Tensor, Tensor, Tensor, Tensor];
      // Exactly `visible` keys per batch item, spread over the Nk positions: j ↦ (j·m + b) mod Nk is a
      // permutation for m coprime to Nk.
      let m = 7;
      while (gcd(m, Nk) !== 1) m += 2;
      const keyMask =
        visible === undefined ? undefined : tensor(Uint8Array.from({ length: B * Nk }, (_, i) => ((i % Nk) * m + Math.floor(i / Nk)) % Nk < visible ? 1 : 0), [B, Nk]);
      const rope = o.rope ? { freqs: ropeFreqs(D) } : undefined;
      if (keyMask) tensors.push(keyMask);
      if (rope) tensors.push(rope.freqs);
      const causal = Boolean(o.causal);
      let pairs = Nq * (visible ?? Nk);
      if (causal) {
        pairs = 0;
        for (let i = 0; i < Nq; i++) pairs += Math.max(0, Math.min(Nk, i + 1 + Nk - Nq));
      }
      const flags = [causal ? 'causal' : '', rope ? 'rope' : '', visible !== undefined ? `${visible} keys visible` : ''].filter(Boolean);
      return {
        label: `B=${B} H=${H} Nq=${Nq} Nk=${Nk} D=${D}${flags.length ? ` ${flags.join(', ')}` : ''}`,
        flops: 4 * B * H * D * pairs,
        timed: (n) => bench.timed.attention(n, q, k, v, { causal, keyMask, rope, out }),
        tensors,
      };
    },
  },
  layernorm: norm(false),
  rmsnorm: norm(true),
  modulate: {
    shapes: [['R', 'C']],
    help: 'x·(1+scale)+shift, shift and scale [G, C]; --groups G (default 1)',
    build([R, C], o) {
      const G = positive(o.groups, 'groups', 1);
      if (R! % G !== 0) throw new BenchUsageError(`--groups ${G} must divide the ${R} rows`);
      const x = random([R!, C!], 1);
      const shift = random([G, C!], 2);
      const scale = random([G, C!], 3);
      const out = empty([R!, C!]);
      return {
        label: `R=${R} C=${C} G=${G}`,
        bytes: 2 * R! * C! * F32,
        timed: (n) => bench.timed.modulate(n, x, shift, scale, { out }),
        tensors: [x, shift, scale, out],
      };
    },
  },
  'gelu-tanh': rowOp('elementwise GELU (tanh form)', 2 * F32, (x, _y, out, n) => bench.timed.activate(n, x, 'gelu-tanh', { out })),
  silu: rowOp('elementwise SiLU', 2 * F32, (x, _y, out, n) => bench.timed.activate(n, x, 'silu', { out })),
  softmax: rowOp('softmax over each row', 2 * F32, (x, _y, out, n) => bench.timed.softmax(n, x, { out })),
  add: rowOp('out = x + y', 3 * F32, (x, y, out, n) => bench.timed.add(n, x, y, { out })),
  mul: rowOp('out = x · y', 3 * F32, (x, y, out, n) => bench.timed.mul(n, x, y, { out })),
  axpby: rowOp('out = 0.5·x + 2·y', 3 * F32, (x, y, out, n) => bench.timed.axpby(n, 0.5, x, 2, y, { out })),
  rope: {
    shapes: [['B', 'H', 'N', 'D']],
    help: 'rotary embedding on interleaved pairs of x [B, H, N, D]',
    build([B, H, N, D]) {
      if (D! % 2 !== 0) throw new BenchUsageError(`rope needs an even D, got ${D}`);
      const x = random([B!, H!, N!, D!], 1);
      const freqs = ropeFreqs(D!);
      const out = empty([B!, H!, N!, D!]);
      return {
        label: `B=${B} H=${H} N=${N} D=${D}`,
        bytes: 2 * B! * H! * N! * D! * F32,
        timed: (n) => bench.timed.rope(n, x, freqs, { out }),
        tensors: [x, freqs, out],
      };
    },
  },
  'residual-distance': {
    shapes: [['R', 'C']],
    help: '‖a − b‖ / ‖a‖ in one pass; --norm l1|l2, --refresh (a ← b in the same pass)',
    build([R, C], o) {
      const normName = o.norm ?? 'l1';
      if (normName !== 'l1' && normName !== 'l2') throw new BenchUsageError(`--norm must be l1 or l2, got "${normName}"`);
      const a = random([R!, C!], 1);
      const b = random([R!, C!], 2);
      const update = Boolean(o.refresh);
      return {
        label: `R=${R} C=${C} ${normName}${update ? ', refresh' : ''}`,
        bytes: (update ? 3 : 2) * R! * C! * F32,
        timed: (n) => bench.timed.residualDistance(n, a, b, { norm: normName, update }),
        tensors: [a, b],
      };
    },
  },
  'motion-score': {
    shapes: [['B', 'T', 'S', 'C']],
    help: 'frame-difference score of r [B, T·S, C]; --strides 1,2,3 (frame strides, each < T)',
    build([B, T, S, C], o) {
      const strides = positiveList(o.strides ?? '1', 'strides');
      if (strides.some((s) => s >= T!)) throw new BenchUsageError(`--strides must each be below T = ${T}, got "${o.strides}"`);
      const r = random([B!, T! * S!, C!], 1);
      return {
        label: `B=${B} T=${T} S=${S} C=${C} strides ${strides.join(',')}`,
        bytes: B! * T! * S! * C! * F32,
        timed: (n) => bench.timed.motionScore(n, r, T!, strides),
        tensors: [r],
      };
    },
  },
  patchify: {
    shapes: [['B', 'C', 'T', 'H', 'W']],
    help: 'video [B, C, T, H, W] to token rows; --patch 1,2,2',
    build([B, C, T, H, W], o) {
      const patch = patchOf(o);
      const video = random([B!, C!, T!, H!, W!], 1);
      const out = ops.patchify(video, patch);
      return {
        label: `B=${B} C=${C} T=${T} H=${H} W=${W} patch ${patch.join(',')}`,
        bytes: (video.numel + out.numel) * F32,
        timed: (n) => bench.timed.patchify(n, video, patch, { out }),
        tensors: [video, out],
      };
    },
  },
  unpatchify: {
    shapes: [['B', 'C', 'T', 'H', 'W']],
    help: 'token rows back to a video [B, C, T, H, W]; --patch 1,2,2',
    build([B, C, T, H, W], o) {
      const patch = patchOf(o);
      const shape = [B!, C!, T!, H!, W!];
      const video = random(shape, 1);
      const tokens = ops.patchify(video, patch);
      const out = empty(shape);
      return {
        label: `B=${B} C=${C} T=${T} H=${H} W=${W} patch ${patch.join(',')}`,
        bytes: (tokens.numel + out.numel) * F32,
        timed: (n) => bench.timed.unpatchify(n, tokens, patch, shape, { out }),
        tensors: [video, tokens, out],
      };
    },
  },
};

export function opHelp(): string {
  const width = Math.max(...Object.keys(OPS).map((n) => n.length)) + 2;
  return Object.entries(OPS)
    .map(([name, op]) => `  ${name.padEnd(width)}--shape ${op.shapes.map((s) => s.join(',')).join(' or ')}\n  ${''.padEnd(width)}${op.help}`)
    .join('\n');
}

/** The op's workload for `--shape` and the op's options. */
export function buildWorkload(name: string, o: BenchOptions): Workload {
  const op = OPS[name]!;
  const want = op.shapes.map((n) => n.join(',')).join(' or ');
  if (o.shape === undefined) throw new BenchUsageError(`--shape ${want} is required`);
  const d = o.shape.split(/[,x×]/).map(Number);
  if (!op.shapes.some((n) => n.length === d.length) || d.some((v) => !Number.isInteger(v) || v < 1)) {
    throw new BenchUsageError(`--shape must be ${want} (positive integers), got "${o.shape}"`);
  }
  const w = op.build(d, o);
  return { ...w, label: `${name} ${w.label}` };
}
