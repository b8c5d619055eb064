// A picture as a latent frame of the bundled models, whose latents are RGB-like (no VAE): the
// inverse of decodePreview. Each latent cell is the mean of its `scale` × `scale` pixel block,
// mapped from [0, 255] to [−1, 1].
import { convertIndexedToRgb, decode } from 'fast-png';

import { shapeError } from '../util/errors.js';

export interface ImageLatentOptions {
  /** latent height and width the picture must cover (`scale` pixels per cell) */
  height: number;
  width: number;
  /** channels of the model's latent: 3 (an image has nothing to put in more) */
  channels: number;
  /** pixels per latent cell (default 8, as decodePreview draws them) */
  scale?: number;
}

/** A PNG as one latent frame, [1, channels, 1, height, width] row-major. */
export function pngToLatent(png: Uint8Array, o: ImageLatentOptions): Float32Array {
  const scale = o.scale ?? 8;
  if (o.channels !== 3) throw shapeError(`the model's latent has ${o.channels} channels; a picture gives 3 (RGB). Pass a latent (.safetensors) instead`);
  const img = decode(png);
  if (img.width !== o.width * scale || img.height !== o.height * scale) {
    throw shapeError(`the picture is ${img.width}x${img.height}; this model needs ${o.width * scale}x${o.height * scale} (${scale} pixels per latent cell)`);
  }
  const data = img.palette ? convertIndexedToRgb(img) : img.data;
  const ch = img.palette ? (img.transparency ? 4 : 3) : img.channels;
  const max = img.depth === 16 ? 65535 : 255;
  const rgb = (p: number, c: number) => (ch >= 3 ? data[p * ch + c]! : data[p * ch]!); // grey images give one value for all three
  const plane = o.height * o.width;
  const out = new Float32Array(3 * plane);
  for (let y = 0; y < o.height; y++) {
    for (let x = 0; x < o.width; x++) {
      for (let c = 0; c < 3; c++) {
        let sum = 0;
        for (let dy = 0; dy < scale; dy++) for (let dx = 0; dx < scale; dx++) sum += rgb((y * scale + dy) * img.width + x * scale + dx, c);
        out[c * plane + y * o.width + x] = (sum / (scale * scale) / max) * 2 - 1;
      }
    }
  }
  return out;
}
