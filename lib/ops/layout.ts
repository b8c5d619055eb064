// Patch embedding layouts between a [B, C, T, H, W] video and its [B, tokens, features] rows. On
// the CPU either side is f32 or bf16 (converted as it moves: bf16 widened exactly, f32 rounded to
// nearest even); on CUDA both have one dtype.
import { binding } from '../native/loader.js';
import type { DType, Tensor } from '../tensor.js';
import { expectFloat, expectInteger, expectRank, expectShape, expectTensor, floatOutput } from './check.js';
import { defineOp, into } from './define.js';
import { argumentError, rangeError, shapeError } from '../util/errors.js';

export type Patch = readonly [number, number, number];

export interface LayoutOptions {
  out?: Tensor;
  /** dtype of a new out (default the input's): on the CPU 'f32' or 'bf16'. */
  dtype?: DType;
}

function checkPatch(patch: unknown): Patch {
  if (!Array.isArray(patch) || patch.length !== 3) throw argumentError('patch must be [pt, ph, pw]');
  for (const [i, p] of patch.entries()) {
    if (expectInteger(p, `patch[${i}]`, undefined, { max: 2 ** 31 - 1 }) < 1) throw rangeError(`patch[${i}] must be >= 1, got ${p}`);
  }
  return patch as unknown as Patch;
}

/** The token grid of a video of T×H×W under `patch` (ceil division: the end is zero-padded). */
export function patchGrid(T: number, H: number, W: number, patch: Patch): [number, number, number] {
  return [Math.ceil(T / patch[0]), Math.ceil(H / patch[1]), Math.ceil(W / patch[2])];
}

/** x [B, C, T, H, W] -> [B, T'·H'·W', C·pt·ph·pw] (columns in Conv3d weight order). */
export const patchify = defineOp('patchify', (x: Tensor, patch: Patch, options: LayoutOptions = {}) => {
  expectTensor(x, 'x');
  expectFloat(x, 'x', x);
  expectRank(x, 'x', 5, '[B, C, T, H, W]');
  const p = checkPatch(patch);
  const [B, C, T, H, W] = x.shape as [number, number, number, number, number];
  const [tp, hp, wp] = patchGrid(T, H, W, p);
  const shape = [B, tp * hp * wp, C * p[0] * p[1] * p[2]];
  const out = floatOutput(x, shape, options.out, options.dtype);
  expectShape(out, 'out', shape);
  return into(out, (mode) => binding().patchify(x.native, [...p], out.native, mode as never));
});

/**
 * tokens [B, T'·H'·W', pt·ph·pw·Cx] -> [B, C, T, H, W] (video shape given), keeping the first C of
 * the Cx channels per patch position and cropping the padding.
 */
export const unpatchify = defineOp('unpatchify', 
  (tokens: Tensor, patch: Patch, videoShape: readonly number[], options: LayoutOptions = {}) => {
    expectTensor(tokens, 'tokens');
    expectFloat(tokens, 'tokens', tokens);
    expectRank(tokens, 'tokens', 3, '[B, tokens, features]');
    const p = checkPatch(patch);
    if (!Array.isArray(videoShape) || videoShape.length !== 5) throw argumentError('videoShape must be [B, C, T, H, W]');
    const [B, C, T, H, W] = videoShape as [number, number, number, number, number];
    const [tp, hp, wp] = patchGrid(T, H, W, p);
    const P = p[0] * p[1] * p[2];
    const features = tokens.shape[2]!;
    if (tokens.shape[0] !== B || tokens.shape[1] !== tp * hp * wp || features % P !== 0 || features / P < C) {
      throw shapeError(
        `tokens: expected [${B}, ${tp * hp * wp}, k·${P}] with k >= ${C}, got [${tokens.shape.join(', ')}]`,
      );
    }
    const out = floatOutput(tokens, videoShape, options.out, options.dtype, 'tokens');
    expectShape(out, 'out', [...videoShape]);
    return into(out, (mode) => binding().unpatchify(tokens.native, [...p], out.native, mode as never));
  },
);
