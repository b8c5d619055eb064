import { describe, expect, it } from 'vitest';
import { ops, tensor } from '../lib/index.js';

describe('smoke', () => {
  it('runs a gemm', async () => {
    const a = tensor(new Float32Array([1, 2, 3, 4, 5, 6]), [2, 3]);
    const w = tensor([1, 0, 0, 0, 1, 0], [2, 3]);
    expect([...ops.gemm(a, w).toFloat32Array()]).toEqual([1, 2, 4, 5]);
    expect([...(await ops.async.gemm(a, w)).toFloat32Array()]).toEqual([1, 2, 4, 5]);
  });
});
