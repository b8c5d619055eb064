// Device enumeration, transfers and conversions, strided copies, fills and the caching allocator.
// Copies are exact: every value is compared with the CPU's conversion of the same data.
import { describe, expect, it } from 'vitest';

import { runtime, tensor, zeros, type DType } from '../../lib/index.js';
import { binding } from '../../lib/native/loader.js';
import { gpuUnavailable, random } from './device.js';

const ALL_DTYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'i32', 'i64', 'u8'];

/** Integers and halves in [-100, 100]: exact in every dtype but u8 (which keeps non-zero = 1). */
function values(n: number, seed: number): Float32Array {
  return random(n, seed, 100).map((v) => Math.round(v * 2) / 2);
}

describe.skipIf(gpuUnavailable !== null)('cuda device and copies', () => {
  it('lists the device with its memory and compute capability', () => {
    const cuda = runtime.backends().filter((b) => b.device === 'cuda');
    expect(cuda.length).toBeGreaterThan(0);
    expect(cuda[0]!.name.length).toBeGreaterThan(0);
    expect(cuda[0]!.memoryBytes).toBeGreaterThan(0);
    expect(cuda[0]!.computeCapability).toBeGreaterThanOrEqual(80);
    expect(runtime.buildInfo()).toContain('cuda');
  });

  it.each(ALL_DTYPES)('round-trips %s through the device, converting as the CPU does', (dtype) => {
    const data = values(1000, 7);
    const host = tensor(data, [10, 100]).to('cpu', dtype);
    const viaDevice = tensor(data, [10, 100]).to('cuda', dtype);
    expect(viaDevice.dtype).toBe(dtype);
    expect(viaDevice.toFloat32Array()).toEqual(host.toFloat32Array());
    for (const to of ALL_DTYPES) {
      expect(viaDevice.to('cuda', to).toFloat32Array(), `${dtype} -> ${to} on the device`).toEqual(
        host.to('cpu', to).toFloat32Array(),
      );
      expect(viaDevice.to('cpu', to).toFloat32Array(), `${dtype} -> ${to} to the host`).toEqual(
        host.to('cpu', to).toFloat32Array(),
      );
    }
  });

  it('copies strided views in every direction', () => {
    const data = values(4 * 6 * 8, 11);
    const host = tensor(data, [4, 6, 8]);
    const transposed = host.view([8, 6, 4], { strides: [1, 8, 48] });
    const expected = transposed.clone().toFloat32Array();

    const up = transposed.to('cuda', 'bf16');
    expect(up.toFloat32Array()).toEqual(expected);

    const device = host.to('cuda');
    const deviceView = device.view([8, 6, 4], { strides: [1, 8, 48] });
    expect(deviceView.toFloat32Array()).toEqual(expected);
    expect(deviceView.to('cuda', 'f16').toFloat32Array()).toEqual(expected);

    const target = zeros([8, 12, 4], { device: 'cuda' });
    const strided = target.view([8, 6, 4], { strides: [48, 8, 1] });
    strided.write(expected);
    expect(strided.toFloat32Array()).toEqual(expected);
    const hostTarget = zeros([8, 12, 4]);
    const hostStrided = hostTarget.view([8, 6, 4], { strides: [48, 8, 1] });
    hostStrided.write(strided.toFloat32Array());
    expect(target.toFloat32Array()).toEqual(hostTarget.toFloat32Array());
  });

  it('fills dense and strided tensors', () => {
    for (const dtype of ALL_DTYPES) {
      const t = zeros([5, 7], { device: 'cuda', dtype });
      expect(t.toFloat32Array().every((v) => v === 0)).toBe(true);
      binding().fill(t.native, 3);
      expect(t.toFloat32Array().every((v) => v === (dtype === 'u8' ? 1 : 3))).toBe(true);
    }
    const t = zeros([6, 10], { device: 'cuda', dtype: 'bf16' });
    const host = zeros([6, 10]);
    const everyOther = { strides: [10, 2] };
    binding().fill(t.view([6, 5], everyOther).native, -2.5);
    binding().fill(host.view([6, 5], everyOther).native, -2.5);
    expect(t.toFloat32Array()).toEqual(host.toFloat32Array());
  });

  it('serves repeated allocations of one shape from the cache', () => {
    zeros([1024, 1024], { device: 'cuda' }).dispose();
    const before = runtime.memoryStats('cuda');
    zeros([1024, 1024], { device: 'cuda' }).dispose();
    const after = runtime.memoryStats('cuda');
    expect(after.cacheHits).toBeGreaterThan(before.cacheHits);
    expect(after.systemAllocations).toBe(before.systemAllocations);
    runtime.memoryTrim('cuda');
    expect(runtime.memoryStats('cuda').bytesCached).toBe(0);
  });
});
