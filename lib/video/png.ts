// PNG images of preview frames, through the fast-png package.
import { encode } from 'fast-png';

import { checkPreview, frameStrip, type Preview } from './frames.js';

/** One RGB image (`width * height * 3` bytes, row-major) as PNG bytes. */
export function encodePng(rgb: Uint8Array, width: number, height: number): Uint8Array {
  checkPreview({ width, height, frames: [rgb] }, 'encodePng');
  return encode({ width, height, data: rgb, channels: 3, depth: 8 });
}

export interface PngStripOptions {
  /** Pixels between frames (default 2), drawn in dark grey so frame borders show on any content. */
  gap?: number;
}

/** All frames of `preview` side by side, left to right, as one PNG. */
export function encodePngStrip(preview: Preview, options: PngStripOptions = {}): Uint8Array {
  const strip = frameStrip(preview, options.gap ?? 2, [48, 48, 48]);
  return encodePng(strip.frames[0]!, strip.width, strip.height);
}
