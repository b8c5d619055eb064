// A quick look at a latent video without a VAE: channels 0..2 of the tiny models' latents are
// RGB-like colours in [-1, 1] (channel 3 is object coverage), so mapping them to bytes and scaling up
// gives frames a person can judge.
import { Tensor } from '../tensor.js';

/** Frames of one video, each `width * height * 3` bytes of RGB, row-major. */
export interface Preview {
  width: number;
  height: number;
  frames: Uint8Array[];
}

/** A latent [B, C, T, H, W] as host data. */
export interface LatentData {
  data: Float32Array;
  shape: readonly number[];
}

export interface PreviewOptions {
  /** Which video of the batch (default 0). */
  batch?: number;
  /** Integer nearest-neighbour upscaling factor, 1..64 (default 8: one latent cell per 8x8 pixels). */
  scale?: number;
}

export const MAX_PREVIEW_SCALE = 64;

/** The frames of `latent` [B, C>=3, T, H, W]: byte = round(clamp((x + 1) / 2, 0, 1) * 255), NaN as 0, upscaled by `scale`. */
export function decodePreview(latent: Tensor | LatentData, options: PreviewOptions = {}): Preview {
  const { data, shape } = latent instanceof Tensor ? { data: latent.toFloat32Array(), shape: latent.shape } : latent;
  if (!(data instanceof Float32Array)) throw new TypeError('decodePreview: latent data must be a Float32Array');
  if (!Array.isArray(shape) || shape.length !== 5) {
    throw new RangeError(`decodePreview: latent must have shape [B, C, T, H, W], got [${String(shape)}]`);
  }
  const [B, C, T, H, W] = shape as [number, number, number, number, number];
  if (C < 3) throw new RangeError(`decodePreview: latent needs at least 3 channels (RGB), got ${C}`);
  if (data.length !== B * C * T * H * W) {
    throw new RangeError(`decodePreview: data has ${data.length} elements but shape [${shape.join(', ')}] needs ${B * C * T * H * W}`);
  }
  const batch = options.batch ?? 0;
  if (!Number.isInteger(batch) || batch < 0 || batch >= B) {
    throw new RangeError(`decodePreview: batch must be an integer in [0, ${B}), got ${batch}`);
  }
  const scale = options.scale ?? 8;
  if (!Number.isInteger(scale) || scale < 1 || scale > MAX_PREVIEW_SCALE) {
    throw new RangeError(`decodePreview: scale must be an integer in [1, ${MAX_PREVIEW_SCALE}], got ${scale}`);
  }
  const width = W * scale;
  const height = H * scale;
  const plane = H * W;
  const channelStride = T * plane;
  const frames: Uint8Array[] = [];
  for (let t = 0; t < T; t++) {
    const frame = new Uint8Array(width * height * 3);
    const base = (batch * C * T + t) * plane;
    for (let y = 0; y < H; y++) {
      // Fill the first pixel row of this latent row, then copy it down `scale` times.
      const rowStart = y * scale * width * 3;
      for (let x = 0; x < W; x++) {
        const src = base + y * W + x;
        const r = toByte(data[src]!);
        const g = toByte(data[src + channelStride]!);
        const b = toByte(data[src + 2 * channelStride]!);
        for (let k = 0, p = rowStart + x * scale * 3; k < scale; k++, p += 3) {
          frame[p] = r;
          frame[p + 1] = g;
          frame[p + 2] = b;
        }
      }
      for (let k = 1; k < scale; k++) frame.copyWithin(rowStart + k * width * 3, rowStart, rowStart + width * 3);
    }
    frames.push(frame);
  }
  return { width, height, frames };
}

function toByte(x: number): number {
  const v = ((x + 1) / 2) * 255;
  return v > 0 ? (v < 255 ? Math.round(v) : 255) : 0;
}
