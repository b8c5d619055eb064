// Seeded fuzzing of the raw addon, below the TypeScript checks: every op and tensor method gets
// random tensors of every dtype (pooled, zero-copy and copied, strided views in and out of
// bounds, disposed ones, ones over a detached ArrayBuffer) and random numbers (huge, negative,
// fractional, NaN, infinite, beyond 2^53, beyond int32) or junk. Each call returns or throws an
// Error with a message and a core `code`; the process never crashes; and a second run of the
// same calls reaches the system allocator no more than the first (the pool does not grow).
import { describe, expect, it } from 'vitest';

import type { NativeTensor } from '../../lib/native/binding.js';
import { binding } from '../../lib/native/loader.js';
import { runtime } from '../../lib/runtime.js';
import { Xoshiro128 } from '../../lib/sampling/noise.js';

const b = binding();
const CODES = new Set(['DC_ERR_INVALID_ARGUMENT', 'DC_ERR_DTYPE', 'DC_ERR_SHAPE', 'DC_ERR_RANGE', 'DC_ERR_OUT_OF_MEMORY', 'DC_ERR_UNAVAILABLE', 'DC_ERR_DEVICE', 'DC_ERR_INTERNAL']);
const NUMBERS = [0, 1, 2, 3, -1, 0.5, -0, 7, 1e300, -1e300, Number.NaN, Infinity, -Infinity, 2 ** 31, 2 ** 32 + 1, 2 ** 53, 2 ** 63, 3.5e38, 1e-45];
const ARRAYS = [Float32Array, Int32Array, Uint8Array, Uint16Array, BigInt64Array] as const;

function run(seed: number, calls: number): Record<string, number> {
  const rng = new Xoshiro128(seed);
  const pick = <T>(xs: readonly T[]): T => xs[rng.next() % xs.length]!;
  const made: NativeTensor[] = [];
  const keep = (t: NativeTensor) => (made.push(t), t);
  const dim = () => pick([0, 1, 2, 3, 4, 8, 16]);
  const shape = () => Array.from({ length: 1 + (rng.next() % 4) }, dim);
  const count = (s: number[]) => s.reduce((a, x) => a * x, 1);

  const tensor = (): NativeTensor => {
    const s = shape();
    switch (rng.next() % 6) {
      case 0:
      case 1:
        return keep(b.empty(rng.next() % 6, 0, s));
      case 2: { // caller memory, shared or copied, of every typed array kind
        const Kind = pick(ARRAYS);
        const dtype = Kind === Uint16Array ? pick([1, 2]) : [0, 3, 5, -1, 4][ARRAYS.indexOf(Kind)]!;
        return keep(b.fromTypedArray(new Kind(count(s)) as never, dtype, s, rng.next() % 2 === 0));
      }
      case 3: { // a strided view, often out of bounds
        const base = keep(b.zeros(pick([0, 0, 2, 3]), 0, [64]));
        const vs = shape();
        return keep(base.view(pick([0, 1, 5, 60, -1, 64]), vs, rng.next() % 2 ? vs.map(() => pick([0, 1, 2, 3, 8])) : undefined));
      }
      case 4: { // disposed
        const t = b.zeros(0, 0, s);
        t.dispose();
        return t;
      }
      default: { // over a detached ArrayBuffer
        const data = new Float32Array(count(s));
        const t = keep(b.fromTypedArray(data, 0, s, false));
        structuredClone(data.buffer, { transfer: [data.buffer] });
        return t;
      }
    }
  };
  const value = (): unknown => {
    const r = rng.next() % 10;
    if (r < 4) return tensor();
    if (r < 7) return pick(NUMBERS);
    return pick([undefined, null, 'x', {}, [], [1, 2, 3], [1e300, 0.5, NaN], true, 5n, { repeat: pick(NUMBERS) }]);
  };
  const options = (): Record<string, unknown> => {
    const o: Record<string, unknown> = {};
    for (const k of ['bias', 'gate', 'residual', 'activation', 'scale', 'causal', 'keyMask', 'prefixK', 'prefixV', 'prefixStart', 'prefixLen', 'ropeFreqs', 'qPos0', 'kPos0', 'eps', 'weight', 'shift']) {
      if (rng.next() % 4 === 0) o[k] = value();
    }
    return o;
  };

  const ops = ['gemm', 'attention', 'layernorm', 'rmsnorm', 'modulate', 'activate', 'axpby', 'mul', 'softmax', 'rope', 'patchify', 'unpatchify', 'residualDistance', 'motionScore', 'copy', 'fill'] as const;
  // (hostBuffer is left out: its ArrayBuffer holds the tensor until a garbage collection.)
  const methods = ['view', 'read', 'write', 'shape', 'strides', 'storageBytes'] as const;
  const counts: Record<string, number> = { ok: 0 };
  for (let i = 0; i < calls; i++) {
    try {
      if (rng.next() % 3 === 0) {
        const t = tensor();
        const m = pick(methods);
        if (m === 'view') keep(t.view(pick(NUMBERS) as number, shape(), rng.next() % 2 ? (shape() as number[]) : undefined));
        else if (m === 'write') t.write(new (pick(ARRAYS))(count(t.disposed ? [1] : [4])) as never, pick(NUMBERS));
        else if (m === 'read') t.read();
        else void t[m];
      } else {
        const args = Array.from({ length: 2 + (rng.next() % 4) }, value);
        if (rng.next() % 2) args.push(options());
        if (rng.next() % 4 === 0) args.push(pick([true, false, { repeat: pick(NUMBERS) }]));
        const r = (b[pick(ops)] as (...a: unknown[]) => unknown)(...args);
        if (r instanceof Promise) r.catch(() => undefined);
      }
      counts.ok!++;
    } catch (e) {
      const err = e as Error & { code?: string };
      expect(err).toBeInstanceOf(Error);
      expect(err.message.length).toBeGreaterThan(3);
      expect(CODES.has(err.code ?? ''), `${err.message} has code ${err.code}`).toBe(true);
      counts[err.code!] = (counts[err.code!] ?? 0) + 1;
    }
  }
  for (const t of made) t.dispose();
  return counts;
}

describe('raw binding fuzz', () => {
  it('survives 4000 random calls, and the pool does not grow when they repeat', async () => {
    const first = run(21, 4000);
    await new Promise((resolve) => setTimeout(resolve, 50)); // async ops started above settle
    const before = runtime.memoryStats();
    const second = run(21, 4000);
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = runtime.memoryStats();
    console.log(`binding fuzz: ${JSON.stringify(second)}`);
    expect(second).toEqual(first);
    expect(after.bytesInUse).toBe(before.bytesInUse);
    expect(after.systemAllocations).toBe(before.systemAllocations);
    expect(second.ok).toBeGreaterThan(100);
  });
});
