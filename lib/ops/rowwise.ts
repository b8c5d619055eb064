// Norms, modulation, activations, linear combinations, softmax and RoPE. On the CPU, x and out are
// f32 or bf16 each (fp32 arithmetic inside, a bf16 out rounded once); the other float operands are
// f32 or bf16 as each op says. On CUDA every float operand has x's dtype.
import { binding } from '../native/loader.js';
import type { DType, Tensor } from '../tensor.js';
import { activationCode, type Activation } from './gemm.js';
import {
  expectDtype,
  expectFloat,
  expectGrouped,
  expectInteger,
  expectNumber,
  expectSameShape,
  expectShape,
  expectTensor,
  floatOutput,
  optionalTensor,
} from './check.js';
import { defineOp, into } from './define.js';
import { argumentError, shapeError } from '../util/errors.js';

export interface OutOptions {
  /** Written in place of a new tensor; may be x itself (same shape and dtype). */
  out?: Tensor;
  /** dtype of a new out (default x's): on the CPU 'f32' or 'bf16'. */
  dtype?: DType;
}

function outputFor(x: Tensor, options: OutOptions): Tensor {
  expectFloat(x, 'x', x);
  const o = floatOutput(x, x.shape, options.out, options.dtype);
  expectSameShape(x, 'x', o, 'out');
  return o;
}

function lastDim(x: Tensor): number {
  const c = x.shape[x.shape.length - 1];
  if (c === undefined) throw shapeError('x: expected at least one dimension');
  return c;
}

/** Every parameter is f32 or bf16 on the CPU, whatever x's dtype. */
export interface NormOptions extends OutOptions {
  /** Default 1e-6. */
  eps?: number;
  /** [C] */
  weight?: Tensor;
  /** [C] (layerNorm only) */
  bias?: Tensor;
  /** Grouped [G, C]: t2i modulate x·(1+scale)+shift after the norm (layerNorm only). */
  shift?: Tensor;
  scale?: Tensor;
}

function normOp(rms: boolean) {
  return defineOp(rms ? 'rmsNorm' : 'layerNorm', (x: Tensor, options: NormOptions = {}) => {
    expectTensor(x, 'x');
    const C = lastDim(x);
    const weight = optionalTensor(options.weight, 'weight');
    const bias = optionalTensor(options.bias, 'bias');
    const shift = optionalTensor(options.shift, 'shift');
    const scale = optionalTensor(options.scale, 'scale');
    if (weight) expectShape(weight, 'weight', [C]);
    if (bias) expectShape(bias, 'bias', [C]);
    if (!shift !== !scale) throw argumentError('shift and scale must be given together');
    if (shift) expectGrouped(shift, 'shift', x);
    if (scale) expectGrouped(scale, 'scale', x);
    for (const [p, name] of [[weight, 'weight'], [bias, 'bias'], [shift, 'shift'], [scale, 'scale']] as const) {
      if (p) expectFloat(p, name, x);
    }
    const eps = expectNumber(options.eps, 'eps', 1e-6);
    const out = outputFor(x, options);
    const opts = { eps, weight: weight?.native, bias: bias?.native, shift: shift?.native, scale: scale?.native };
    return into(out, (mode) =>
      rms ? binding().rmsnorm(x.native, out.native, opts, mode as never) : binding().layernorm(x.native, out.native, opts, mode as never),
    );
  });
}

/** LayerNorm over the last dim, with optional affine and fused t2i modulation. */
export const layerNorm = normOp(false);
/** RMSNorm over the last dim: weight · x / sqrt(mean(x²) + eps). */
export const rmsNorm = normOp(true);

/** x·(1+scale)+shift with grouped [G, C] shift and scale (f32 or bf16 on the CPU, whatever x's dtype). */
export const modulate = defineOp('modulate', (x: Tensor, shift: Tensor, scale: Tensor, options: OutOptions = {}) => {
  expectTensor(x, 'x');
  expectGrouped(expectTensor(shift, 'shift'), 'shift', x);
  expectGrouped(expectTensor(scale, 'scale'), 'scale', x);
  expectFloat(shift, 'shift', x);
  expectFloat(scale, 'scale', x);
  const out = outputFor(x, options);
  return into(out, (mode) => binding().modulate(x.native, shift.native, scale.native, out.native, mode as never));
});

/** Elementwise activation. */
export const activate = defineOp('activate', (x: Tensor, activation: Activation, options: OutOptions = {}) => {
  expectTensor(x, 'x');
  const code = activationCode(activation);
  const out = outputFor(x, options);
  return into(out, (mode) => binding().activate(x.native, code, out.native, mode as never));
});

/** y: x's shape and dtype, or grouped [G, C] (f32 or bf16 on the CPU, whatever x's dtype). */
function expectSecond(x: Tensor, y: Tensor): void {
  expectTensor(y, 'y');
  const same = y.shape.length === x.shape.length && y.shape.every((d, i) => d === x.shape[i]);
  if (same) {
    expectDtype(y, 'y', x.dtype);
  } else {
    expectGrouped(y, 'y', x);
    expectFloat(y, 'y', x);
  }
}

/** alpha·x + beta·y; y has x's shape and dtype or is grouped [G, C]. */
export const axpby = defineOp('axpby', (alpha: number, x: Tensor, beta: number, y: Tensor, options: OutOptions = {}) => {
  expectNumber(alpha, 'alpha');
  expectNumber(beta, 'beta');
  expectTensor(x, 'x');
  expectSecond(x, y);
  const out = outputFor(x, options);
  return into(out, (mode) => binding().axpby(alpha, x.native, beta, y.native, out.native, mode as never));
});

/** x + y; y has x's shape and dtype or is grouped [G, C]. */
export const add = defineOp('add', (x: Tensor, y: Tensor, options: OutOptions = {}) => {
  expectTensor(x, 'x');
  expectSecond(x, y);
  const out = outputFor(x, options);
  return into(out, (mode) => binding().axpby(1, x.native, 1, y.native, out.native, mode as never));
});

/** x · y; y has x's shape and dtype or is grouped [G, C]. */
export const mul = defineOp('mul', (x: Tensor, y: Tensor, options: OutOptions = {}) => {
  expectTensor(x, 'x');
  expectSecond(x, y);
  const out = outputFor(x, options);
  return into(out, (mode) => binding().mul(x.native, y.native, out.native, mode as never));
});

/** Softmax over the last dim. */
export const softmax = defineOp('softmax', (x: Tensor, options: OutOptions = {}) => {
  expectTensor(x, 'x');
  const out = outputFor(x, options);
  return into(out, (mode) => binding().softmax(x.native, out.native, mode as never));
});

/** Rotary embedding on interleaved pairs of x [..., T, D]; index t has position pos0 + t; freqs f32. */
export const rope = defineOp('rope', (x: Tensor, freqs: Tensor, options: OutOptions & { pos0?: number } = {}) => {
  expectTensor(x, 'x');
  expectTensor(freqs, 'freqs');
  const D = lastDim(x);
  if (x.shape.length < 2 || D % 2 !== 0) throw shapeError(`x: expected [..., T, D] with even D, got [${x.shape}]`);
  expectShape(freqs, 'freqs', [D / 2]);
  expectDtype(freqs, 'freqs', 'f32');
  const pos0 = expectInteger(options.pos0, 'pos0', 0);
  const out = outputFor(x, options);
  return into(out, (mode) => binding().rope(x.native, freqs.native, pos0, out.native, mode as never));
});
