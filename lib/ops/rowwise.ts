// Norms, modulation, activations, linear combinations, softmax and RoPE.
import { binding } from '../native/loader.js';
import { empty, type Tensor } from '../tensor.js';
import { activationCode, type Activation } from './gemm.js';
import {
  expectGrouped,
  expectInteger,
  expectNumber,
  expectSameDevice,
  expectSameShape,
  expectShape,
  expectTensor,
  optionalTensor,
} from './check.js';
import { defineOp, into } from './define.js';
import { argumentError, shapeError } from '../util/errors.js';

function outputFor(x: Tensor, out: unknown): Tensor {
  const o = optionalTensor(out, 'out') ?? empty(x.shape, { dtype: x.dtype, device: x.device });
  expectSameShape(x, 'x', o, 'out');
  expectSameDevice(x, 'x', o, 'out');
  return o;
}

function lastDim(x: Tensor): number {
  const c = x.shape[x.shape.length - 1];
  if (c === undefined) throw shapeError('x: expected at least one dimension');
  return c;
}

export interface NormOptions {
  /** Default 1e-6. */
  eps?: number;
  /** [C] */
  weight?: Tensor;
  /** [C] (layerNorm only) */
  bias?: Tensor;
  /** Grouped [G, C]: t2i modulate x·(1+scale)+shift after the norm (layerNorm only). */
  shift?: Tensor;
  scale?: Tensor;
  out?: Tensor;
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
    const eps = expectNumber(options.eps, 'eps', 1e-6);
    const out = outputFor(x, options.out);
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

/** x·(1+scale)+shift with grouped [G, C] shift and scale. */
export const modulate = defineOp('modulate', (x: Tensor, shift: Tensor, scale: Tensor, options: { out?: Tensor } = {}) => {
  expectTensor(x, 'x');
  expectGrouped(expectTensor(shift, 'shift'), 'shift', x);
  expectGrouped(expectTensor(scale, 'scale'), 'scale', x);
  const out = outputFor(x, options.out);
  return into(out, (mode) => binding().modulate(x.native, shift.native, scale.native, out.native, mode as never));
});

/** Elementwise activation. */
export const activate = defineOp('activate', (x: Tensor, activation: Activation, options: { out?: Tensor } = {}) => {
  expectTensor(x, 'x');
  const code = activationCode(activation);
  const out = outputFor(x, options.out);
  return into(out, (mode) => binding().activate(x.native, code, out.native, mode as never));
});

function expectSecond(x: Tensor, y: Tensor): void {
  expectTensor(y, 'y');
  const same = y.shape.length === x.shape.length && y.shape.every((d, i) => d === x.shape[i]);
  if (!same) expectGrouped(y, 'y', x);
}

/** alpha·x + beta·y; y has x's shape or is grouped [G, C]. */
export const axpby = defineOp('axpby', (alpha: number, x: Tensor, beta: number, y: Tensor, options: { out?: Tensor } = {}) => {
  expectNumber(alpha, 'alpha');
  expectNumber(beta, 'beta');
  expectTensor(x, 'x');
  expectSecond(x, y);
  const out = outputFor(x, options.out);
  return into(out, (mode) => binding().axpby(alpha, x.native, beta, y.native, out.native, mode as never));
});

/** x + y; y has x's shape or is grouped [G, C]. */
export const add = defineOp('add', (x: Tensor, y: Tensor, options: { out?: Tensor } = {}) => {
  expectTensor(x, 'x');
  expectSecond(x, y);
  const out = outputFor(x, options.out);
  return into(out, (mode) => binding().axpby(1, x.native, 1, y.native, out.native, mode as never));
});

/** x · y; y has x's shape or is grouped [G, C]. */
export const mul = defineOp('mul', (x: Tensor, y: Tensor, options: { out?: Tensor } = {}) => {
  expectTensor(x, 'x');
  expectSecond(x, y);
  const out = outputFor(x, options.out);
  return into(out, (mode) => binding().mul(x.native, y.native, out.native, mode as never));
});

/** Softmax over the last dim. */
export const softmax = defineOp('softmax', (x: Tensor, options: { out?: Tensor } = {}) => {
  expectTensor(x, 'x');
  const out = outputFor(x, options.out);
  return into(out, (mode) => binding().softmax(x.native, out.native, mode as never));
});

/** Rotary embedding on interleaved pairs of x [..., T, D]; index t has position pos0 + t. */
export const rope = defineOp('rope', (x: Tensor, freqs: Tensor, options: { pos0?: number; out?: Tensor } = {}) => {
  expectTensor(x, 'x');
  expectTensor(freqs, 'freqs');
  const D = lastDim(x);
  if (x.shape.length < 2 || D % 2 !== 0) throw shapeError(`x: expected [..., T, D] with even D, got [${x.shape}]`);
  expectShape(freqs, 'freqs', [D / 2]);
  const pos0 = expectInteger(options.pos0, 'pos0', 0);
  const out = outputFor(x, options.out);
  return into(out, (mode) => binding().rope(x.native, freqs.native, pos0, out.native, mode as never));
});
