// Animated GIF of preview frames, through the gifenc package: one palette shared by all frames (so
// colours do not flicker between frames), looping by default.
import { createRequire } from 'node:module';

import type { Gifenc } from 'gifenc';

import { checkPreview, type Preview } from './frames.js';

// gifenc ships a CommonJS build and an ESM build whose default exports differ; loading the CommonJS
// build by require gives the same object under Node and under bundling test runners.
const gifenc = createRequire(import.meta.url)('gifenc') as Gifenc;

export interface GifOptions {
  /** Frames per second, in (0, 50] (GIF stores delays in hundredths of a second; default 8). */
  fps?: number;
  /** Loop forever (default) or play once. */
  loop?: boolean;
}

/** Pixels sampled to build the palette: enough for a faithful palette, bounded for long videos. */
const PALETTE_SAMPLES = 1 << 20;

export function encodeGif(preview: Preview, options: GifOptions = {}): Uint8Array {
  checkPreview(preview, 'encodeGif');
  const fps = options.fps ?? 8;
  if (!(fps > 0 && fps <= 50)) throw new RangeError(`encodeGif: fps must be in (0, 50], got ${fps}`);
  const { width, height, frames } = preview;
  if (width > 65535 || height > 65535) throw new RangeError(`encodeGif: ${width}x${height} exceeds the GIF limit of 65535`);
  const palette = gifenc.quantize(paletteSample(preview), 256);
  const gif = gifenc.GIFEncoder();
  const rgba = new Uint8Array(width * height * 4);
  for (const [i, frame] of frames.entries()) {
    toRgba(frame, rgba);
    const index = gifenc.applyPalette(rgba, palette);
    gif.writeFrame(index, width, height, {
      delay: 1000 / fps,
      ...(i === 0 ? { palette, repeat: options.loop === false ? -1 : 0 } : {}),
    });
  }
  gif.finish();
  return gif.bytes();
}

function toRgba(rgb: Uint8Array, rgba: Uint8Array): void {
  for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
    rgba[q] = rgb[p]!;
    rgba[q + 1] = rgb[p + 1]!;
    rgba[q + 2] = rgb[p + 2]!;
    rgba[q + 3] = 255;
  }
}

// Every k-th pixel of every frame as RGBA, with k chosen so at most PALETTE_SAMPLES pixels are taken.
function paletteSample({ width, height, frames }: Preview): Uint8Array {
  const pixels = width * height;
  const stride = Math.max(1, Math.ceil((pixels * frames.length) / PALETTE_SAMPLES));
  const perFrame = Math.ceil(pixels / stride);
  const out = new Uint8Array(perFrame * frames.length * 4);
  let q = 0;
  for (const frame of frames) {
    for (let p = 0; p < pixels; p += stride, q += 4) {
      out[q] = frame[3 * p]!;
      out[q + 1] = frame[3 * p + 1]!;
      out[q + 2] = frame[3 * p + 2]!;
      out[q + 3] = 255;
    }
  }
  return out;
}
