// The residual branches a DiT block closes with an adaLN-style gate.
import { ops } from '../../ops/index.js';
import type { DType, Tensor } from '../../tensor.js';
import { Scope } from '../../util/scope.js';
import type { Linear } from './linear.js';

/**
 * x += gate · proj(a), in place (the sum in x's dtype). With `keep`, the gated residual is returned
 * too (owned by the caller) for a caching policy to measure.
 */
export function gatedProjection(x: Tensor, a: Tensor, proj: Linear, gate: Tensor, keep = false): Tensor | undefined {
  if (!keep) {
    ops.gemm(a, proj.weight, { bias: proj.bias, gate, residual: x, out: x });
    return undefined;
  }
  const res = ops.gemm(a, proj.weight, { bias: proj.bias, gate, dtype: x.dtype });
  ops.add(x, res, { out: x });
  return res;
}

/** x += gate · fc2(GELU_tanh(fc1(LayerNorm(x)·(1 + scale) + shift))), in place; the MLP input and hidden in `dtype`. */
export function modulatedMlp(x: Tensor, fc1: Linear, fc2: Linear, shift: Tensor, scale: Tensor, gate: Tensor, dtype: DType): void {
  using scope = new Scope();
  const m = scope.add(ops.layerNorm(x, { shift, scale, dtype }));
  const h = scope.add(ops.gemm(m, fc1.weight, { bias: fc1.bias, activation: 'gelu-tanh' }));
  ops.gemm(h, fc2.weight, { bias: fc2.bias, gate, residual: x, out: x });
}
