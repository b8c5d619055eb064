// A Linear layer's parameters by the names torch gives them. Generic in its leaves, so the same
// structure can hold tensors or the handles that carry them to a worker thread.
import { ops } from '../../ops/index.js';
import type { Device, Tensor } from '../../tensor.js';

export interface Linear<T = Tensor> {
  weight: T;
  bias: T;
}

/** The matrices of a checkpoint as the GEMMs read them: in `dtype`, packed once on the CPU. */
export function matrixReader(read: (name: string, dtype: 'f32' | 'bf16') => Tensor, device: Device, dtype: 'f32' | 'bf16'): {
  /** a stored matrix [N, K] */
  matrix(name: string): Tensor;
  /** a matrix made from another (a reshaped Conv3d weight, some columns of a Linear) */
  prepare(t: Tensor): Tensor;
} {
  const prepare = (t: Tensor): Tensor => {
    if (device !== 'cpu') return t;
    const p = ops.packWeight(t, { dtype });
    t.dispose();
    return p;
  };
  return { matrix: (name) => prepare(read(name, dtype)), prepare };
}
