import { describe, expect, it } from 'vitest';

import { decodePreview, encodeGif, type Preview } from '../../lib/video/index.js';

interface GifStructure {
  version: string;
  width: number;
  height: number;
  palette: number[][];
  /** Loop count from the NETSCAPE2.0 extension (0 = forever), undefined when absent (play once). */
  loop: number | undefined;
  /** Per frame: delay in hundredths of a second and the frame rectangle. */
  frames: { delay: number; left: number; top: number; width: number; height: number }[];
}

// Walks the GIF block structure (GIF89a specification) without decoding pixels.
function parseGif(bytes: Uint8Array): GifStructure {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const u16 = (at: number) => view.getUint16(at, true);
  const version = new TextDecoder().decode(bytes.subarray(0, 6));
  const flags = bytes[10]!;
  let p = 13;
  const palette: number[][] = [];
  if (flags & 0x80) {
    const size = 2 << (flags & 7);
    for (let i = 0; i < size; i++) palette.push([...bytes.subarray(p + 3 * i, p + 3 * i + 3)]);
    p += 3 * size;
  }
  const skipSubBlocks = () => {
    while (bytes[p]! !== 0) p += bytes[p]! + 1;
    p++;
  };
  const out: GifStructure = { version, width: u16(6), height: u16(8), palette, loop: undefined, frames: [] };
  let delay = 0;
  for (;;) {
    const block = bytes[p++];
    if (block === 0x3b) break;
    if (block === 0x21) {
      const label = bytes[p++];
      if (label === 0xf9) delay = u16(p + 2);
      if (label === 0xff && new TextDecoder().decode(bytes.subarray(p + 1, p + 12)) === 'NETSCAPE2.0') out.loop = u16(p + 14);
      skipSubBlocks();
    } else if (block === 0x2c) {
      out.frames.push({ delay, left: u16(p), top: u16(p + 2), width: u16(p + 4), height: u16(p + 6) });
      const local = bytes[p + 8]!;
      p += 9 + (local & 0x80 ? 3 * (2 << (local & 7)) : 0) + 1; // descriptor, local palette, LZW code size
      skipSubBlocks();
    } else {
      throw new Error(`unexpected GIF block 0x${block?.toString(16)} at ${p - 1}`);
    }
  }
  expect(p).toBe(bytes.length);
  return out;
}

function gradientPreview(): Preview {
  const T = 5;
  const data = new Float32Array(1 * 4 * T * 6 * 7).map((_, i) => Math.cos(i * 0.11) * 1.2);
  return decodePreview({ data, shape: [1, 4, T, 6, 7] }, { scale: 3 });
}

describe('encodeGif', () => {
  it('writes an animated, looping GIF89a with one frame per preview frame at the requested fps', () => {
    const preview = gradientPreview();
    const gif = parseGif(encodeGif(preview, { fps: 10 }));
    expect(gif.version).toBe('GIF89a');
    expect([gif.width, gif.height]).toEqual([21, 18]);
    expect(gif.loop).toBe(0);
    expect(gif.frames.length).toBe(5);
    for (const f of gif.frames) expect(f).toEqual({ delay: 10, left: 0, top: 0, width: 21, height: 18 });
  });

  it('plays once when loop is false and rounds delays to hundredths', () => {
    const gif = parseGif(encodeGif(gradientPreview(), { fps: 8, loop: false }));
    expect(gif.loop).toBeUndefined();
    expect(gif.frames.map((f) => f.delay)).toEqual([13, 13, 13, 13, 13]);
  });

  it('builds a shared palette close to every colour of the video', () => {
    const preview = gradientPreview();
    const { palette } = parseGif(encodeGif(preview));
    let worst = 0;
    for (const frame of preview.frames) {
      for (let p = 0; p < frame.length; p += 3) {
        const nearest = Math.min(...palette.map(([r, g, b]) => Math.max(Math.abs(r! - frame[p]!), Math.abs(g! - frame[p + 1]!), Math.abs(b! - frame[p + 2]!))));
        worst = Math.max(worst, nearest);
      }
    }
    // The 5-6-5 bit colour binning used for quantisation bounds the error per channel.
    expect(worst).toBeLessThanOrEqual(8);
  });

  it('rejects bad fps and malformed previews', () => {
    const preview = gradientPreview();
    for (const fps of [0, -1, 51, NaN]) expect(() => encodeGif(preview, { fps })).toThrow(/fps must be in \(0, 50\]/);
    expect(() => encodeGif({ ...preview, frames: [] })).toThrow(/preview has no frames/);
    expect(() => encodeGif({ ...preview, width: 0 })).toThrow(/width and height must be positive integers/);
  });
});
