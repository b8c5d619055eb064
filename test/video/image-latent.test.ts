// A picture as a latent frame (the inverse of the preview), and the first frame a caption describes.
import { describe, expect, it } from 'vitest';

import { gaussianNoise } from '../../lib/sampling/noise.js';
import { pngToLatent } from '../../lib/video/image-latent.js';
import { encodePng } from '../../lib/video/png.js';
import { decodePreview } from '../../lib/video/preview.js';
import { SCENE_SIZE, sceneFirstFrame } from '../../lib/video/scene.js';

describe('pngToLatent', () => {
  it('reads back a preview of a latent frame to within its byte quantisation (1/255 of the range)', () => {
    const H = 4, W = 5;
    const latent = Float32Array.from(gaussianNoise(2, 3 * H * W), (v) => Math.max(-1, Math.min(1, v / 2)));
    const preview = decodePreview({ data: latent, shape: [1, 3, 1, H, W] });
    const back = pngToLatent(encodePng(preview.frames[0]!, preview.width, preview.height), { height: H, width: W, channels: 3 });
    const worst = back.reduce((m, v, i) => Math.max(m, Math.abs(v - latent[i]!)), 0);
    expect(worst).toBeLessThanOrEqual(1 / 255 + 1e-6);
  });

  it('refuses a picture of another size, and a latent of more channels than a picture has', () => {
    const png = encodePng(new Uint8Array(16 * 16 * 3), 16, 16);
    expect(() => pngToLatent(png, { height: 3, width: 2, channels: 3 })).toThrow(/needs 16x24/);
    expect(() => pngToLatent(png, { height: 2, width: 2, channels: 4 })).toThrow(/4 channels; a picture gives 3/);
  });
});

describe('sceneFirstFrame', () => {
  it('draws the colour, shape and background a caption names, on the bundled model\'s grid', () => {
    const f = sceneFirstFrame('a red circle moving right quickly on night', 3);
    const n = SCENE_SIZE * SCENE_SIZE;
    expect(f.length).toBe(3 * n);
    const red = Array.from({ length: n }, (_, i) => f[i]! - f[n + i]!);
    expect(Math.max(...red)).toBeCloseTo(0.9 + 0.75, 5); // a fully covered cell: red (0.9, −0.75, ·)
    expect(Math.min(...red)).toBeCloseTo(-0.85 + 0.8, 5); // the night background elsewhere
    expect(sceneFirstFrame('a red circle resting on night', 3)).toEqual(f);
    expect(() => sceneFirstFrame('a purple thing')).toThrow(/does not name a colour/);
  });
});
