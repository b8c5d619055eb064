// Optional NaN/Inf checks that name the tensor that went bad.
import type { Tensor } from '../tensor.js';

export class NonFiniteError extends Error {
  override name = 'NonFiniteError';
  constructor(
    message: string,
    readonly tensor: string,
    readonly count: number,
  ) {
    super(message);
  }
}

/** Throws NonFiniteError naming `what` when `t` holds a NaN or an infinity. */
export function assertFinite(t: Tensor, what: string): void {
  const data = t.toFloat32Array();
  let count = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      if (first < 0) first = i;
      count++;
    }
  }
  if (count > 0) {
    throw new NonFiniteError(`${what} has ${count} non-finite value${count > 1 ? 's' : ''} (first at element ${first}: ${data[first]}) in [${t.shape}]`, what, count);
  }
}
