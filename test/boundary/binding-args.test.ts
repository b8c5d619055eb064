// The binding's own argument checks, called on the raw addon as a user of `Tensor.native` can:
// numbers from JavaScript are checked before they become C values (a double outside the C type's
// range is undefined behaviour), an unknown dtype is refused before its size is divided by, and a
// zero-copy tensor whose ArrayBuffer was detached refuses every use. Every error carries the code
// the core gives for the same kind of mistake.
import { describe, expect, it } from 'vitest';

import { binding } from '../../lib/native/loader.js';
import { ops, tensor, zeros } from '../../lib/index.js';

const b = binding();

function coded(fn: () => unknown, kind: typeof TypeError | typeof RangeError, code: string, message?: RegExp): void {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  expect(thrown, 'expected a throw').toBeInstanceOf(kind);
  expect((thrown as { code?: string }).code).toBe(code);
  if (message) expect((thrown as Error).message).toMatch(message);
}

describe('dtypes the binding is given', () => {
  it('refuses a Uint16Array write with a dtype other than bf16/f16 (it used to divide by zero)', () => {
    const t = zeros([4]);
    coded(() => t.native.write(new Uint16Array(4), 9), TypeError, 'DC_ERR_DTYPE', /bf16 or f16/);
    coded(() => t.native.write(new Uint16Array(4), 0), TypeError, 'DC_ERR_DTYPE');
    t.native.write(new Uint16Array([0x3f80, 0, 0, 0]), 2);
    expect(t.toFloat32Array()[0]).toBe(1);
  });

  it('refuses a typed array of no dtype whatever dtype is asked for', () => {
    coded(() => b.fromTypedArray(new Float64Array(4) as never, -1, [4], false), TypeError, 'DC_ERR_DTYPE');
    coded(() => b.fromTypedArray(new Int16Array(4) as never, -1, [4], true), TypeError, 'DC_ERR_DTYPE');
  });
});

describe('numbers the binding is given', () => {
  const x = zeros([2, 3, 8]);
  const freqs = zeros([4]);
  const out = zeros([2, 3, 8]);

  it('range-checks integers instead of casting them', () => {
    coded(() => b.rope(x.native, freqs.native, 1e300, out.native), RangeError, 'DC_ERR_RANGE', /pos0 = 1e\+300 is outside/);
    coded(() => b.rope(x.native, freqs.native, 1.5, out.native), TypeError, 'DC_ERR_INVALID_ARGUMENT', /pos0 must be an integer/);
    coded(() => b.rope(x.native, freqs.native, Infinity, out.native), TypeError, 'DC_ERR_INVALID_ARGUMENT');
    coded(() => x.native.view(1.5, [2]), TypeError, 'DC_ERR_INVALID_ARGUMENT', /offset must be an integer/);
    coded(() => x.native.view(Number.NaN, [2]), TypeError, 'DC_ERR_INVALID_ARGUMENT', /offset is NaN/);
    coded(() => x.native.view(0, [2 ** 60]), RangeError, 'DC_ERR_RANGE', /shape\[0\]/);
    coded(() => b.empty(0, 0, [2 ** 53 + 2]), RangeError, 'DC_ERR_RANGE');
    coded(() => b.motionScore(x.native, 1e300, [1]), RangeError, 'DC_ERR_RANGE', /frames/);
    coded(() => b.motionScore(x.native, 1, [2 ** 70]), RangeError, 'DC_ERR_RANGE', /strides/);
    coded(() => b.patchify(x.native, [2 ** 31, 1, 1], out.native), RangeError, 'DC_ERR_RANGE', /patch\[0\]/);
    coded(() => b.softmax(x.native, out.native, { repeat: 1e300 }), RangeError, 'DC_ERR_RANGE', /repeat/);
    coded(() => new b.NativeKvRing(0, 0, 1, 1, 1e300, 4), RangeError, 'DC_ERR_RANGE', /capacity/);
  });

  it('does not wrap int codes modulo 2^32', () => {
    // Int32Value would have turned each of these into a valid small value.
    coded(() => b.empty(2 ** 32, 0, [2]), RangeError, 'DC_ERR_RANGE', /dtype/);
    coded(() => b.setThreads(2 ** 32 + 1), RangeError, 'DC_ERR_RANGE', /threads/);
    coded(() => b.memoryStats(2 ** 32), RangeError, 'DC_ERR_RANGE', /device/);
    coded(() => b.activate(x.native, 2 ** 32 + 1, out.native), RangeError, 'DC_ERR_RANGE', /activation/);
  });

  it('refuses floats a float32 cannot hold, and leaves infinities to the core', () => {
    coded(() => b.axpby(1e300, x.native, 1, x.native, out.native), RangeError, 'DC_ERR_RANGE', /alpha .* float32 range/);
    coded(() => b.layernorm(x.native, out.native, { eps: -1e39 }), RangeError, 'DC_ERR_RANGE', /eps/);
    coded(() => b.attention(zeros([1, 1, 2, 8]).native, zeros([1, 1, 2, 8]).native, zeros([1, 1, 2, 8]).native, zeros([1, 1, 2, 8]).native, { scale: 3.5e38 }),
      RangeError, 'DC_ERR_RANGE', /scale/);
    coded(() => b.axpby(Infinity, zeros([2]).native, 0, zeros([2]).native, zeros([2]).native), TypeError, 'DC_ERR_INVALID_ARGUMENT', /finite/);
  });

  it('range-checks integers in the TypeScript layer with the same code', () => {
    coded(() => ops.rope(x, freqs, { pos0: 1e300 }), RangeError, 'DC_ERR_RANGE', /pos0 = 1e\+300 is outside/);
    coded(() => ops.rope(x, freqs, { pos0: 0.5 }), TypeError, 'DC_ERR_INVALID_ARGUMENT');
    coded(() => ops.motionScore(zeros([1, 4, 2]), 2, [2 ** 60]), RangeError, 'DC_ERR_RANGE');
    coded(() => ops.patchify(zeros([1, 1, 1, 2, 2]), [1, 2 ** 40, 1]), RangeError, 'DC_ERR_RANGE');
  });
});

describe('the same mistake gives the same error in either layer', () => {
  // [what the TypeScript layer is given, the same mistake made on the raw binding]
  const cases: [string, () => unknown, () => unknown][] = [
    ['gemm shape', () => ops.gemm(zeros([2, 3]), zeros([4, 5])), () => b.gemm(zeros([2, 3]).native, zeros([4, 5]).native, zeros([2, 4]).native, {})],
    ['dtype', () => ops.softmax(zeros([2, 3], { dtype: 'i32' })), () => b.softmax(zeros([2, 3], { dtype: 'i32' }).native, zeros([2, 3], { dtype: 'i32' }).native)],
    ['disposed', () => { const t = zeros([2]); t.dispose(); return ops.softmax(t); }, () => { const t = zeros([2]); t.native.dispose(); return b.softmax(t.native, t.native); }],
    ['not a tensor', () => ops.softmax({} as never), () => b.softmax({} as never, zeros([2]).native)],
    ['negative dimension', () => zeros([-1]), () => b.zeros(0, 0, [-1])],
    ['attention head_dim', () => ops.attention(zeros([1, 1, 2, 0]), zeros([1, 1, 2, 0]), zeros([1, 1, 2, 0])),
      () => b.attention(zeros([1, 1, 2, 0]).native, zeros([1, 1, 2, 0]).native, zeros([1, 1, 2, 0]).native, zeros([1, 1, 2, 0]).native, {})],
    ['out of range', () => ops.rope(zeros([2, 8]), zeros([4]), { pos0: 2 ** 60 }), () => b.rope(zeros([2, 8]).native, zeros([4]).native, 2 ** 60, zeros([2, 8]).native)],
  ];
  for (const [name, viaTs, viaBinding] of cases) {
    it(name, () => {
      const catchIt = (fn: () => unknown): Error & { code?: string } => {
        try {
          fn();
        } catch (e) {
          return e as Error & { code?: string };
        }
        throw new Error('expected a throw');
      };
      const ts = catchIt(viaTs), native = catchIt(viaBinding);
      expect(ts.constructor).toBe(native.constructor);
      expect(ts.code).toBeDefined();
      expect(ts.code).toBe(native.code);
    });
  }
});

describe('zero-copy tensors and detached buffers', () => {
  it('refuses every use of a tensor whose buffer was detached', () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const t = b.fromTypedArray(data, 0, [4], false); // shares data's memory
    const moved = structuredClone(data.buffer, { transfer: [data.buffer] });
    expect(data.byteLength).toBe(0); // detached: its memory now belongs to `moved`
    coded(() => t.read(), TypeError, 'DC_ERR_INVALID_ARGUMENT', /detached or transferred/);
    coded(() => t.write(new Float32Array(4)), TypeError, 'DC_ERR_INVALID_ARGUMENT', /detached/);
    coded(() => t.view(0, [2]), TypeError, 'DC_ERR_INVALID_ARGUMENT', /detached/);
    coded(() => b.softmax(t, zeros([4]).native), TypeError, 'DC_ERR_INVALID_ARGUMENT', /detached/);
    coded(() => b.fill(t, 1, true), TypeError, 'DC_ERR_INVALID_ARGUMENT', /detached/);
    expect(new Float32Array(moved)[3]).toBe(4);
  });

  it('refuses a tensor over caller memory in an async op, so no worker reads a buffer transferred meanwhile', async () => {
    const data = new Float32Array(64 * 64).fill(1);
    const t = b.fromTypedArray(data, 0, [64, 64], false); // shares data's memory, not marked
    const out = zeros([64, 64]).native;
    coded(() => b.softmax(t, out, true), TypeError, 'DC_ERR_INVALID_ARGUMENT', /^x: a tensor over caller memory/);
    // nor does a buffer over it escape, which the tensor would not keep alive
    coded(() => t.hostBuffer(), TypeError, 'DC_ERR_INVALID_ARGUMENT', /shares caller memory/);
    coded(() => b.gemm(zeros([64, 64]).native, zeros([64, 64]).native, t, {}, true), TypeError, 'DC_ERR_INVALID_ARGUMENT', /^out: .*caller memory/);
    // Had the op been queued, this transfer would free the memory under it on the event loop.
    const moved = structuredClone(data.buffer, { transfer: [data.buffer] });
    coded(() => b.softmax(t, out, true), TypeError, 'DC_ERR_INVALID_ARGUMENT', /detached or transferred/);
    expect(new Float32Array(moved)[0]).toBe(1);
    // An owned copy runs on the worker whatever happens to the array it was made from.
    const source = new Float32Array(64 * 64).fill(1);
    const owned = b.fromTypedArray(source, 0, [64, 64], true);
    const pending = b.softmax(owned, out, true) as Promise<unknown>;
    structuredClone(source.buffer, { transfer: [source.buffer] });
    await pending;
    expect(out.read()[5]).toBeCloseTo(1 / 64, 7);
  });

  it('refuses a tensor whose resizable ArrayBuffer shrank below its data, and serves it again when it grows back', () => {
    const buffer = new ArrayBuffer(64, { maxByteLength: 1 << 20 });
    const data = new Float32Array(buffer, 16, 8).fill(2); // fixed length, bytes 16-48
    const t = tensor(data, [8]);
    const tail = t.view([4], { offset: 4 });
    const all = tensor(new Float32Array(buffer), [16]); // length-tracking
    buffer.resize(40); // detaches nothing, keeps its address: only the length says the bytes are gone
    for (const use of [() => t.toFloat32Array(), () => tail.toFloat32Array(), () => ops.softmax(t), () => t.write(new Float32Array(8))]) {
      coded(use, TypeError, 'DC_ERR_INVALID_ARGUMENT', /shrunk below its data/);
    }
    coded(() => ops.add(all, all), TypeError, 'DC_ERR_INVALID_ARGUMENT', /shrunk/);
    buffer.resize(0); // the pages past the new length may be unmapped: a read there crashed
    coded(() => b.softmax(all.native, zeros([16]).native), TypeError, 'DC_ERR_INVALID_ARGUMENT', /shrunk/);
    buffer.resize(1 << 20); // grown back (zero-filled), and past: each tensor's bytes are there again
    expect([...t.toFloat32Array()]).toEqual(new Array(8).fill(0));
    expect([...all.toFloat32Array()]).toEqual(new Array(16).fill(0));
    data.fill(3);
    expect([...tail.toFloat32Array()]).toEqual([3, 3, 3, 3]);
  });

  it('shares or copies a SharedArrayBuffer like an ArrayBuffer', () => {
    const data = new Float32Array(new SharedArrayBuffer(16));
    const shared = tensor(data, [4]);
    const copied = tensor(data, [4], { copy: true });
    data[1] = 5;
    expect([...shared.toFloat32Array()]).toEqual([0, 5, 0, 0]);
    expect([...copied.toFloat32Array()]).toEqual([0, 0, 0, 0]);
    shared.write(new Float32Array([1, 2, 3, 4]));
    expect([...data]).toEqual([1, 2, 3, 4]);
  });

  it('keeps tensor() safe: postMessage and structuredClone copy its buffer or refuse to transfer it, never detach it', async () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const t = tensor(data, [4]);
    // Node 20 copies a buffer marked untransferable that a transfer list names; Node 22 and later
    // throw a DataCloneError (nodejs/node#47604). Either keeps the tensor's memory in place.
    const copiedOrRefused = <T>(send: () => T): T | undefined => {
      try {
        return send();
      } catch (e) {
        expect((e as Error).name).toBe('DataCloneError');
        return undefined;
      }
    };
    const clone = copiedOrRefused(() => structuredClone(data.buffer, { transfer: [data.buffer] }));
    expect(data.byteLength).toBe(16);
    const { port1, port2 } = new MessageChannel();
    const received = new Promise<ArrayBuffer>((resolve) => port2.once('message', resolve));
    const posted = copiedOrRefused(() => (port1.postMessage(data.buffer, [data.buffer]), true));
    if (posted) expect(new Float32Array(await received)[2]).toBe(3);
    port1.close();
    port2.close();
    expect(data.byteLength).toBe(16);
    data[0] = 9; // still shared with the tensor
    expect([...t.toFloat32Array()]).toEqual([9, 2, 3, 4]);
    if (clone) expect(new Float32Array(clone)[0]).toBe(1);
  });
});
