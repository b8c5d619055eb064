// Tensors from every kind of typed array, sharing of the caller's memory, the copy option, the
// getters, disposal (explicit and through `using`) and views.
import { describe, expect, it } from 'vitest';

import { empty, ops, tensor, zeros, type Tensor } from '../../lib/index.js';

describe('tensor creation', () => {
  it('takes every typed array the addon knows, with its dtype', () => {
    const cases: [ArrayLike<number> | BigInt64Array, string, number[]][] = [
      [new Float32Array([1.5, -2, 3, 0.25]), 'f32', [1.5, -2, 3, 0.25]],
      [new Int32Array([7, -8, 2 ** 24, 0]), 'i32', [7, -8, 2 ** 24, 0]],
      [new BigInt64Array([1n, -2n, 3n, 4n]), 'i64', [1, -2, 3, 4]],
      [new Uint8Array([0, 1, 255, 3]), 'u8', [0, 1, 255, 3]],
    ];
    for (const [data, dtype, values] of cases) {
      const t = tensor(data as Float32Array, [2, 2]);
      expect(t.dtype).toBe(dtype);
      expect([...t.toFloat32Array()]).toEqual(values);
    }
  });

  it('reads a Uint16Array as raw bf16 or f16 bits', () => {
    // 1.0, -2.0, 0.5 and 65504 (the largest f16) in each format.
    const bf16 = tensor(new Uint16Array([0x3f80, 0xc000, 0x3f00, 0x477f]), [4], { dtype: 'bf16' });
    expect(bf16.dtype).toBe('bf16');
    expect([...bf16.toFloat32Array()]).toEqual([1, -2, 0.5, 65280]);
    const f16 = tensor(new Uint16Array([0x3c00, 0xc000, 0x3800, 0x7bff]), [2, 2], { dtype: 'f16' });
    expect(f16.dtype).toBe('f16');
    expect([...f16.toFloat32Array()]).toEqual([1, -2, 0.5, 65504]);
  });

  it('converts Float64Array and number arrays to f32, and converts to a requested dtype', () => {
    expect([...tensor(new Float64Array([0.1, 2]), [2]).toFloat32Array()]).toEqual([Math.fround(0.1), 2]);
    const fromArray = tensor([1, 2, 3], [3]);
    expect(fromArray.dtype).toBe('f32');
    expect([...fromArray.toFloat32Array()]).toEqual([1, 2, 3]);
    const asBf16 = tensor(new Float32Array([1, 1.00390625, -3]), [3], { dtype: 'bf16' });
    expect(asBf16.dtype).toBe('bf16');
    // 1 + 2^-8 is halfway between two bf16 values and rounds to even: 1.
    expect([...asBf16.toFloat32Array()]).toEqual([1, 1, -3]);
    const asI32 = tensor(new Float32Array([1, -2, 3]), [3], { dtype: 'i32' });
    expect(asI32.dtype).toBe('i32');
    expect([...asI32.toFloat32Array()]).toEqual([1, -2, 3]);
  });

  it('makes empty() and zeros() of every dtype, and zero-size tensors', () => {
    for (const dtype of ['f32', 'f16', 'bf16', 'i32', 'i64', 'u8'] as const) {
      const z = zeros([3, 2], { dtype });
      expect(z.dtype).toBe(dtype);
      expect([...z.toFloat32Array()]).toEqual([0, 0, 0, 0, 0, 0]);
      expect(empty([2], { dtype }).shape).toEqual([2]);
    }
    const none = zeros([0, 5]);
    expect(none.numel).toBe(0);
    expect(none.toFloat32Array().length).toBe(0);
    const scalar = tensor([4], []);
    expect(scalar.shape).toEqual([]);
    expect([...scalar.toFloat32Array()]).toEqual([4]);
  });
});

describe('memory sharing', () => {
  it('shares a typed array by default: writes on either side are seen by the other', () => {
    const data = new Float32Array([1, 2, 3, 4, 5, 6]);
    const t = tensor(data, [2, 3]);
    data[4] = 50;
    expect(t.toFloat32Array()[4]).toBe(50);
    ops.mul(t, t, { out: t }); // the native side writes into the JavaScript array
    expect([...data]).toEqual([1, 4, 9, 16, 2500, 36]);
  });

  it('shares integer and raw 16-bit arrays too', () => {
    const ints = new Int32Array([1, 2, 3]);
    const ti = tensor(ints, [3]);
    ints[0] = -9;
    expect(ti.toFloat32Array()[0]).toBe(-9);
    const bits = new Uint16Array([0x3f80, 0x4000]);
    const tb = tensor(bits, [2], { dtype: 'bf16' });
    bits[1] = 0x4040; // 3.0
    expect([...tb.toFloat32Array()]).toEqual([1, 3]);
  });

  it('shares a typed array that is a window on a larger buffer', () => {
    const buffer = new Float32Array([0, 1, 2, 3, 4, 5, 6, 7]);
    const window = buffer.subarray(2, 6);
    const t = tensor(window, [2, 2]);
    expect([...t.toFloat32Array()]).toEqual([2, 3, 4, 5]);
    buffer[3] = 30;
    expect(t.toFloat32Array()[1]).toBe(30);
    t.write(new Float32Array([9, 9, 9, 9]));
    expect([...buffer]).toEqual([0, 1, 9, 9, 9, 9, 6, 7]); // nothing outside the window
  });

  it('copies with { copy: true }: later writes do not cross', () => {
    const data = new Float32Array([1, 2, 3, 4]);
    const t = tensor(data, [4], { copy: true });
    data[0] = 100;
    expect(t.toFloat32Array()[0]).toBe(1);
    t.write(new Float32Array([5, 6, 7, 8]));
    expect(data[1]).toBe(2);
  });

  it('copies arrays it has to convert (number arrays, Float64Array)', () => {
    const data = new Float64Array([1, 2]);
    const t = tensor(data, [2]);
    data[0] = 7;
    expect(t.toFloat32Array()[0]).toBe(1);
  });
});

describe('getters', () => {
  it('reports shape, strides, dtype, device, numel and storage size', () => {
    const t = zeros([2, 3, 4]);
    expect(t.shape).toEqual([2, 3, 4]);
    expect(Object.isFrozen(t.shape)).toBe(true);
    expect(t.strides).toEqual([12, 4, 1]);
    expect(t.dtype).toBe('f32');
    expect(t.device).toBe('cpu');
    expect(t.numel).toBe(24);
    expect(t.storageBytes).toBeGreaterThanOrEqual(24 * 4);
    expect(t.disposed).toBe(false);
    expect(String(t)).toBe('Tensor(f32, [2,3,4], cpu)');
  });

  it('returns a fresh Float32Array from toFloat32Array', () => {
    const t = tensor(new Float32Array([1, 2]), [2]);
    const a = t.toFloat32Array();
    a[0] = 42;
    expect(t.toFloat32Array()[0]).toBe(1);
  });
});

describe('disposal', () => {
  it('dispose() releases the tensor, is idempotent, and later use is a TypeError', () => {
    const t = zeros([4]);
    t.dispose();
    t.dispose();
    expect(t.disposed).toBe(true);
    expect(String(t)).toBe('Tensor(disposed)');
    expect(() => t.toFloat32Array()).toThrow(TypeError);
    expect(() => t.toFloat32Array()).toThrow(/disposed/);
    expect(() => t.dtype).toThrow(/disposed/);
  });

  it('`using` disposes at the end of the block', () => {
    let seen: Tensor | undefined;
    {
      using t = zeros([2, 2]);
      seen = t;
      expect(t.disposed).toBe(false);
    }
    expect(seen.disposed).toBe(true);
  });

  it('[Symbol.dispose] is dispose', () => {
    const t = zeros([1]);
    t[Symbol.dispose]();
    expect(t.disposed).toBe(true);
  });

  it('a view keeps the storage alive after its base is disposed', () => {
    const base = tensor(new Float32Array([1, 2, 3, 4]), [4], { copy: true });
    const v = base.view([2], { offset: 2 });
    base.dispose();
    expect([...v.toFloat32Array()]).toEqual([3, 4]);
  });
});

describe('views and reshape', () => {
  const values = (n: number): Float32Array => Float32Array.from({ length: n }, (_, i) => i);

  it('views a window with an offset and strides, sharing memory both ways', () => {
    const base = tensor(values(12), [3, 4]);
    const v = base.view([2, 2], { offset: 1, strides: [4, 1] });
    expect(v.shape).toEqual([2, 2]);
    expect(v.strides).toEqual([4, 1]);
    expect([...v.toFloat32Array()]).toEqual([1, 2, 5, 6]);
    v.write(new Float32Array([-1, -2, -5, -6]));
    expect([...base.toFloat32Array()]).toEqual([0, -1, -2, 3, 4, -5, -6, 7, 8, 9, 10, 11]);
  });

  it('views a column with a stride and a transposed layout', () => {
    const base = tensor(values(6), [2, 3]);
    expect([...base.view([2], { offset: 1, strides: [3] }).toFloat32Array()]).toEqual([1, 4]);
    expect([...base.view([3, 2], { strides: [1, 3] }).toFloat32Array()]).toEqual([0, 3, 1, 4, 2, 5]);
  });

  it('reshapes contiguous tensors without copying', () => {
    const data = values(6);
    const r = tensor(data, [2, 3]).reshape([3, 2]);
    expect(r.shape).toEqual([3, 2]);
    data[5] = 50;
    expect(r.toFloat32Array()[5]).toBe(50);
    expect(tensor(values(6), [6]).reshape([1, 6, 1]).strides).toEqual([6, 1, 1]);
  });

  it('refuses a reshape that changes the element count or needs a copy', () => {
    const t = tensor(values(6), [2, 3]);
    expect(() => t.reshape([4, 2])).toThrow(RangeError);
    expect(() => t.reshape([4, 2])).toThrow('reshape: cannot view [2,3] (6 elements) as [4,2] (8)');
    const transposed = t.view([3, 2], { strides: [1, 3] });
    expect(() => transposed.reshape([6])).toThrow(/not contiguous/);
  });

  it('refuses a view outside the storage with a RangeError naming the bounds', () => {
    const t = tensor(values(6), [2, 3]);
    expect(() => t.view([4], { offset: 3 })).toThrow(RangeError);
    expect(() => t.view([4], { offset: 3 })).toThrow(/outside the storage of 6 elements/);
    expect(() => t.view([2], { offset: -1 })).toThrow(RangeError);
    expect(() => t.view([2, 2], { strides: [5, 1] })).toThrow(RangeError);
  });
});
