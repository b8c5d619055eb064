// The low-frequency part of H×W planes, as FasterCache's CFG-Cache splits a velocity difference:
// after fftshift, the frequencies within a disc of radius min(H, W) / divisor (integer division)
// around (H/2, W/2) are low, the rest high. Frequencies are signed: shifted position p holds
// frequency p − ⌊n/2⌋, so the disc is f_y² + f_x² ≤ r². The disc is symmetric under f → −f, so its
// inverse transform is real; only its columns |f_x| ≤ r and, within them, rows |f_y| ≤ r are ever
// transformed (the disc is a small share of the spectrum).

interface Twiddles {
  cos: Float64Array;
  sin: Float64Array;
}

const twiddleCache = new Map<number, Twiddles>();

function twiddles(n: number): Twiddles {
  let t = twiddleCache.get(n);
  if (!t) {
    t = { cos: new Float64Array(n), sin: new Float64Array(n) };
    for (let k = 0; k < n; k++) {
      t.cos[k] = Math.cos((2 * Math.PI * k) / n);
      t.sin[k] = Math.sin((2 * Math.PI * k) / n);
    }
    twiddleCache.set(n, t);
  }
  return t;
}

/** The signed frequencies of an n-point transform that fftshift places at positions 0..n−1. */
function signedFrequencies(n: number): number[] {
  return Array.from({ length: n }, (_, p) => p - Math.floor(n / 2));
}

/** Low-pass radius of FasterCache for an H×W plane: min(H, W) // divisor. */
export function lowPassRadius(H: number, W: number, divisor: number): number {
  return Math.floor(Math.min(H, W) / divisor);
}

/**
 * The low-frequency part of each of the `planes` consecutive H×W planes of `data`: the real part
 * of ifft2(ifftshift(mask · fftshift(fft2(plane)))) with mask the disc of `radius`.
 */
export function lowPass(data: Float32Array, planes: number, H: number, W: number, radius: number): Float32Array {
  if (data.length !== planes * H * W) throw new RangeError(`lowPass: ${data.length} values are not ${planes} planes of ${H}×${W}`);
  const out = new Float32Array(data.length);
  const fx = signedFrequencies(W).filter((f) => f * f <= radius * radius);
  const fy = signedFrequencies(H);
  // the (f_y, f_x) pairs inside the disc, per column
  const cols = fx.map((f) => ({ f, rows: fy.filter((g) => g * g + f * f <= radius * radius) }));
  const tw = twiddles(W), th = twiddles(H);
  const mod = (k: number, n: number) => ((k % n) + n) % n;
  const re = new Float64Array(H * fx.length), im = new Float64Array(H * fx.length);
  const plane = new Float64Array(H * W);
  for (let p = 0; p < planes; p++) {
    const base = p * H * W;
    // Row transforms, kept columns only: X[y, fx] = Σ_x d[y, x] e^{−2πi fx x / W}.
    for (let y = 0; y < H; y++) {
      cols.forEach(({ f }, c) => {
        let sr = 0, si = 0;
        for (let x = 0; x < W; x++) {
          const v = data[base + y * W + x]!;
          const k = mod(f * x, W);
          sr += v * tw.cos[k]!;
          si -= v * tw.sin[k]!;
        }
        re[y * fx.length + c] = sr;
        im[y * fx.length + c] = si;
      });
    }
    // Column transforms at the disc's rows, then their inverse over y: Z[y, fx] = Σ_fy F[fy, fx] e^{+2πi fy y / H}.
    const zr = new Float64Array(H * fx.length), zi = new Float64Array(H * fx.length);
    cols.forEach(({ rows }, c) => {
      for (const g of rows) {
        let fr = 0, fi = 0;
        for (let y = 0; y < H; y++) {
          const k = mod(g * y, H);
          const a = re[y * fx.length + c]!, b = im[y * fx.length + c]!;
          fr += a * th.cos[k]! + b * th.sin[k]!;
          fi += b * th.cos[k]! - a * th.sin[k]!;
        }
        for (let y = 0; y < H; y++) {
          const k = mod(g * y, H);
          zr[y * fx.length + c] += fr * th.cos[k]! - fi * th.sin[k]!;
          zi[y * fx.length + c] += fr * th.sin[k]! + fi * th.cos[k]!;
        }
      }
    });
    // Inverse over x, real part, 1/(H·W).
    plane.fill(0);
    for (let y = 0; y < H; y++) {
      cols.forEach(({ f }, c) => {
        const a = zr[y * fx.length + c]!, b = zi[y * fx.length + c]!;
        for (let x = 0; x < W; x++) {
          const k = mod(f * x, W);
          plane[y * W + x] += a * tw.cos[k]! - b * tw.sin[k]!;
        }
      });
    }
    const scale = 1 / (H * W);
    for (let i = 0; i < H * W; i++) out[base + i] = plane[i]! * scale;
  }
  return out;
}
