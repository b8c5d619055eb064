import { binding } from '../native/loader.js';
import { dtypeCode, empty, Tensor, type DType } from '../tensor.js';
import { CPU_FLOATS, expectDtype, expectDtypeValue, expectGrouped, expectRank, expectSameDevice, expectShape, expectTensor, optionalTensor } from './check.js';
import { defineOp, into } from './define.js';
import { argumentError, deviceError, shapeError } from '../util/errors.js';

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
  /** dtype of the new `out` (default a's); on the CPU 'f32' or 'bf16'. */
  dtype?: DType;
}

/**
 * out = residual + gate * act(a · wᵀ + bias), a [..., K], w [N, K] (a Linear weight, or one packed by
 * packWeight). On the CPU every operand is f32 or bf16 independently; a bf16 weight multiplies
 * bf16 × bf16 (a rounded to bf16) with fp32 sums, an f32 weight multiplies in fp32.
 */
export const gemm = defineOp('gemm', (a: Tensor, w: Tensor, options: GemmOptions = {}) => {
  expectTensor(a, 'a');
  expectTensor(w, 'w');
  expectRank(w, 'w', 2, '[N, K]');
  const K = a.shape[a.shape.length - 1];
  if (K === undefined) throw shapeError('a: expected at least one dimension');
  const N = w.shape[0]!;
  expectShape(w, 'w', [N, K]);
  const cpu = a.device === 'cpu';
  if (cpu) {
    expectDtype(a, 'a', ...CPU_FLOATS);
    expectDtype(w, 'w', ...CPU_FLOATS);
  } else {
    expectDtype(w, 'w', a.dtype, 'bf16');
  }
  expectSameDevice(a, 'a', w, 'w');
  const outShape = [...a.shape.slice(0, -1), N];
  const bias = optionalTensor(options.bias, 'bias');
  if (bias) expectShape(bias, 'bias', [N]);
  const given = optionalTensor(options.out, 'out');
  const outDtype = given?.dtype ?? options.dtype ?? a.dtype;
  if (cpu) expectDtypeValue(outDtype, 'out', ...CPU_FLOATS);
  const out = given ?? empty(outShape, { dtype: outDtype, device: a.device });
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

/**
 * w [N, K] (f32 or bf16, on the CPU) packed once into the layout the GEMM kernels read, as
 * `dtype` (default w's): a tensor only ops.gemm reads, as its weight. Each later gemm skips
 * repacking the weight, and the AMX kernels read its tiles in place.
 */
export function packWeight(w: Tensor, options: { dtype?: 'f32' | 'bf16' } = {}): Tensor {
  expectTensor(w, 'w');
  expectRank(w, 'w', 2, '[N, K]');
  expectDtype(w, 'w', ...CPU_FLOATS);
  const dtype = options.dtype ?? (w.dtype as 'f32' | 'bf16');
  expectDtypeValue(dtype, 'dtype', ...CPU_FLOATS);
  if (w.device !== 'cpu') throw deviceError(`w: packed weights are a CPU layout; w is on ${w.device}`);
  const native = binding().packWeight(w.native, dtypeCode(dtype));
  return new Tensor(native, { shape: w.shape, dtype, device: 'cpu', packed: true });
}
