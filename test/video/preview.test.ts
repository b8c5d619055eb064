import { describe, expect, it } from 'vitest';

import { tensor } from '../../lib/tensor.js';
import { decodePreview } from '../../lib/video/index.js';

// A latent [B, C, T, H, W] whose values sweep [-1.5, 1.5] with the edge cases mixed in.
function latent(shape: [number, number, number, number, number]): { data: Float32Array; shape: number[] } {
  const n = shape.reduce((a, b) => a * b, 1);
  const special = [-1, 1, 0, NaN, Infinity, -Infinity, -0.996, 0.5];
  const data = new Float32Array(n).map((_, i) => (i % 11 === 0 ? special[(i / 11) % special.length]! : Math.sin(i * 0.37) * 1.5));
  return { data, shape };
}

// The documented mapping, written from its formula, with nearest-neighbour upscaling by index.
function referenceFrame(l: { data: Float32Array; shape: number[] }, b: number, t: number, scale: number): Uint8Array {
  const [, C, T, H, W] = l.shape as [number, number, number, number, number];
  const out = new Uint8Array(H * scale * W * scale * 3);
  for (let y = 0; y < H * scale; y++) {
    for (let x = 0; x < W * scale; x++) {
      for (let c = 0; c < 3; c++) {
        const v = l.data[(((b * C + c) * T + t) * H + Math.floor(y / scale)) * W + Math.floor(x / scale)]!;
        const unit = Number.isNaN(v) ? 0 : Math.min(1, Math.max(0, (v + 1) / 2));
        out[(y * W * scale + x) * 3 + c] = Math.round(unit * 255);
      }
    }
  }
  return out;
}

describe('decodePreview', () => {
  it('maps channels 0..2 to RGB bytes and upscales nearest-neighbour (default scale 8)', () => {
    const l = latent([2, 4, 3, 5, 6]);
    const preview = decodePreview(l);
    expect(preview.width).toBe(48);
    expect(preview.height).toBe(40);
    expect(preview.frames.length).toBe(3);
    for (let t = 0; t < 3; t++) expect(preview.frames[t]).toEqual(referenceFrame(l, 0, t, 8));
  });

  it('picks the batch entry and scale', () => {
    const l = latent([3, 5, 2, 4, 3]);
    for (const [batch, scale] of [[2, 1], [1, 3]] as const) {
      const preview = decodePreview(l, { batch, scale });
      expect([preview.width, preview.height]).toEqual([3 * scale, 4 * scale]);
      for (let t = 0; t < 2; t++) expect(preview.frames[t]).toEqual(referenceFrame(l, batch, t, scale));
    }
  });

  it('reads a Tensor like its data', () => {
    const l = latent([1, 4, 2, 3, 3]);
    const fromTensor = decodePreview(tensor(l.data, l.shape), { scale: 2 });
    expect(fromTensor).toEqual(decodePreview(l, { scale: 2 }));
  });

  it('rejects bad input with clear errors', () => {
    const l = latent([1, 4, 2, 3, 3]);
    expect(() => decodePreview({ data: l.data, shape: [4, 2, 3, 3] })).toThrow(/shape \[B, C, T, H, W\], got \[4,2,3,3\]/);
    expect(() => decodePreview({ data: new Float32Array(36), shape: [1, 2, 2, 3, 3] })).toThrow(/at least 3 channels/);
    expect(() => decodePreview({ data: l.data, shape: [1, 4, 2, 3, 4] })).toThrow(/data has 72 elements but shape \[1, 4, 2, 3, 4\] needs 96/);
    expect(() => decodePreview(l, { batch: 1 })).toThrow(/batch must be an integer in \[0, 1\), got 1/);
    for (const scale of [0, 1.5, 65]) expect(() => decodePreview(l, { scale })).toThrow(/scale must be an integer in \[1, 64\]/);
  });
});
