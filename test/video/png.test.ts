import { decode } from 'fast-png';
import { describe, expect, it } from 'vitest';

import { encodePng, encodePngStrip, frameStrip, type Preview } from '../../lib/video/index.js';

function preview(width: number, height: number, count: number): Preview {
  const frames = Array.from({ length: count }, (_, f) => new Uint8Array(width * height * 3).map((_, i) => (i * 7 + f * 50) & 255));
  return { width, height, frames };
}

describe('PNG output', () => {
  it('encodes one RGB image losslessly', () => {
    const p = preview(5, 3, 1);
    const png = decode(encodePng(p.frames[0]!, 5, 3));
    expect([png.width, png.height, png.channels, png.depth]).toEqual([5, 3, 3, 8]);
    expect(Uint8Array.from(png.data)).toEqual(p.frames[0]);
  });

  it('lays frames side by side with a grey gap', () => {
    const p = preview(4, 2, 3);
    const png = decode(encodePngStrip(p, { gap: 2 }));
    expect([png.width, png.height]).toEqual([3 * 4 + 2 * 2, 2]);
    for (let y = 0; y < 2; y++) {
      for (let x = 0; x < png.width; x++) {
        const f = Math.floor(x / 6);
        const inFrame = x % 6 < 4;
        const want = inFrame ? [...p.frames[f]!.subarray((y * 4 + (x % 6)) * 3, (y * 4 + (x % 6)) * 3 + 3)] : [48, 48, 48];
        expect([...png.data.subarray((y * png.width + x) * 3, (y * png.width + x) * 3 + 3)]).toEqual(want);
      }
    }
    expect(frameStrip(p, 0, [0, 0, 0]).width).toBe(12);
  });

  it('rejects malformed previews', () => {
    expect(() => encodePng(new Uint8Array(10), 2, 2)).toThrow(/frame 0 must be a Uint8Array of 12 RGB bytes/);
    expect(() => encodePngStrip({ width: 2, height: 2, frames: [] })).toThrow(/preview has no frames/);
    expect(() => encodePngStrip(preview(2, 2, 2), { gap: -1 })).toThrow(/gap must be a non-negative integer/);
  });
});
