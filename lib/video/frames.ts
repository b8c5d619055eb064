// Checks and layouts shared by the image encoders.
import type { Preview } from './preview.js';

export type { Preview } from './preview.js';

/** Throws unless `preview` holds at least one frame of exactly width * height * 3 bytes. */
export function checkPreview(preview: Preview, caller: string): void {
  const { width, height, frames } = preview;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`${caller}: width and height must be positive integers, got ${width}x${height}`);
  }
  if (!Array.isArray(frames) || frames.length === 0) throw new RangeError(`${caller}: preview has no frames`);
  for (const [i, frame] of frames.entries()) {
    if (!(frame instanceof Uint8Array) || frame.length !== width * height * 3) {
      throw new RangeError(`${caller}: frame ${i} must be a Uint8Array of ${width * height * 3} RGB bytes`);
    }
  }
}

/** All frames left to right, `gap` pixels of `gapColor` between them, as one RGB image. */
export function frameStrip(preview: Preview, gap: number, gapColor: readonly [number, number, number]): Preview {
  checkPreview(preview, 'frameStrip');
  if (!Number.isInteger(gap) || gap < 0) throw new RangeError(`frameStrip: gap must be a non-negative integer, got ${gap}`);
  const { width, height, frames } = preview;
  const stripWidth = frames.length * width + (frames.length - 1) * gap;
  const strip = new Uint8Array(stripWidth * height * 3);
  for (let p = 0; p < strip.length; p += 3) strip.set(gapColor, p);
  for (const [i, frame] of frames.entries()) {
    const x0 = i * (width + gap);
    for (let y = 0; y < height; y++) {
      strip.set(frame.subarray(y * width * 3, (y + 1) * width * 3), (y * stripWidth + x0) * 3);
    }
  }
  return { width: stripWidth, height, frames: [strip] };
}
