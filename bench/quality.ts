// Image quality of cached against uncached results, on the RGB preview channels (0..2) of latents
// [B, C, T, H, W] mapped from [-1, 1] to [0, 1] as the golden manifests define it.

function rgbFrames(latent: Float32Array, shape: readonly number[]): Float32Array[] {
  const [, , T, H, W] = shape as [number, number, number, number, number];
  const plane = H * W;
  const out: Float32Array[] = [];
  for (let c = 0; c < 3; c++) {
    for (let t = 0; t < T; t++) {
      const f = new Float32Array(plane);
      const base = (c * T + t) * plane;
      for (let i = 0; i < plane; i++) f[i] = (Math.min(1, Math.max(-1, latent[base + i]!)) + 1) / 2;
      out.push(f);
    }
  }
  return out;
}

/** 10·log10(1 / MSE) over the RGB channels of video 0. */
export function psnr(a: Float32Array, b: Float32Array, shape: readonly number[]): number {
  const fa = rgbFrames(a, shape), fb = rgbFrames(b, shape);
  let se = 0, n = 0;
  fa.forEach((f, i) => f.forEach((v, j) => {
    se += (v - fb[i]![j]!) ** 2;
    n++;
  }));
  return se === 0 ? Infinity : 10 * Math.log10(n / se);
}

/** Mean SSIM over frames and RGB channels: 7×7 uniform windows, K1 0.01, K2 0.03, data range 1. */
export function ssim(a: Float32Array, b: Float32Array, shape: readonly number[]): number {
  const [, , , H, W] = shape as number[];
  const fa = rgbFrames(a, shape), fb = rgbFrames(b, shape);
  const win = Math.min(7, H!, W!);
  const c1 = 0.01 ** 2, c2 = 0.03 ** 2;
  let total = 0, count = 0;
  fa.forEach((x, f) => {
    const y = fb[f]!;
    for (let r = 0; r + win <= H!; r++) {
      for (let c = 0; c + win <= W!; c++) {
        let mx = 0, my = 0, sxx = 0, syy = 0, sxy = 0;
        for (let i = 0; i < win; i++) {
          for (let j = 0; j < win; j++) {
            const p = (r + i) * W! + c + j;
            mx += x[p]!;
            my += y[p]!;
          }
        }
        const n = win * win;
        mx /= n;
        my /= n;
        for (let i = 0; i < win; i++) {
          for (let j = 0; j < win; j++) {
            const p = (r + i) * W! + c + j;
            sxx += (x[p]! - mx) ** 2;
            syy += (y[p]! - my) ** 2;
            sxy += (x[p]! - mx) * (y[p]! - my);
          }
        }
        sxx /= n - 1;
        syy /= n - 1;
        sxy /= n - 1;
        total += ((2 * mx * my + c1) * (2 * sxy + c2)) / ((mx * mx + my * my + c1) * (sxx + syy + c2));
        count++;
      }
    }
  });
  return total / count;
}
