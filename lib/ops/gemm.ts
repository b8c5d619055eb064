import { binding } from '../native/loader.js';
import { empty, type Tensor } from '../tensor.js';
import { expectDtype, expectGrouped, expectRank, expectSameDevice, expectShape, expectTensor, optionalTensor } from './check.js';
import { defineOp, into } from './define.js';
import { argumentError, shapeError } from '../util/errors.js';

export type Activation = 'none' | 'gelu-tanh' | 'silu';
export const ACTIVATION_CODE: Record<Activation, number> = { none: 0, 'gelu-tanh': 1, silu: 2 };

export function activationCode(act: unknown, name = 'activation'): number {
  if (act === undefined) return 0;
  if (typeof act !== 'string' || !(act in ACTIVATION_CODE)) {
    throw argumentError(`${name} must be 'none', 'gelu-tanh' or 'silu', got ${String(act)}`);
  }
  return ACTIVATION_CODE[act as Activation];
}

export interface GemmOptions {
  /** [N] added to every row. */
  bias?: Tensor;
  /** Applied after the bias. */
  activation?: Activation;
  /** Grouped [G, N] multiplier applied after the activation (G divides the rows). */
  gate?: Tensor;
  /** Added last; may be `out` itself (an in-place residual update). */
  residual?: Tensor;
  out?: Tensor;
}

/** out = residual + gate * act(a · wᵀ + bias), a [..., K], w [N, K] (a Linear weight, f32 or bf16). */
export const gemm = defineOp('gemm', (a: Tensor, w: Tensor, options: GemmOptions = {}) => {
  expectTensor(a, 'a');
  expectTensor(w, 'w');
  expectRank(w, 'w', 2, '[N, K]');
  const K = a.shape[a.shape.length - 1];
  if (K === undefined) throw shapeError('a: expected at least one dimension');
  const N = w.shape[0]!;
  expectShape(w, 'w', [N, K]);
  expectDtype(w, 'w', a.dtype, 'bf16');
  expectSameDevice(a, 'a', w, 'w');
  const outShape = [...a.shape.slice(0, -1), N];
  const bias = optionalTensor(options.bias, 'bias');
  if (bias) expectShape(bias, 'bias', [N]);
  const out = optionalTensor(options.out, 'out') ?? empty(outShape, { dtype: a.dtype, device: a.device });
  expectShape(out, 'out', outShape);
  const gate = optionalTensor(options.gate, 'gate');
  if (gate) expectGrouped(gate, 'gate', out);
  const residual = optionalTensor(options.residual, 'residual');
  if (residual) expectShape(residual, 'residual', outShape);
  const activation = activationCode(options.activation);
  return into(out, (mode) =>
    binding().gemm(
      a.native,
      w.native,
      out.native,
      { bias: bias?.native, activation, gate: gate?.native, residual: residual?.native },
      mode as never,
    ),
  );
});
