// Parameter-free embeddings, computed on the host in float32 exactly as the reference does.
const f32 = Math.fround;

/** Sinusoidal timestep embedding [n, dim]: [cos(t·f) | sin(t·f)], f_i = exp(−ln(10000)·i/half). */
export function timestepEmbedding(t: ArrayLike<number>, dim = 256, maxPeriod = 10000): Float32Array {
  const half = dim / 2;
  const negLog = f32(-Math.log(maxPeriod));
  const freqs = new Float32Array(half);
  for (let i = 0; i < half; i++) freqs[i] = f32(Math.exp(f32(f32(negLog * i) / half)));
  const out = new Float32Array(t.length * dim);
  for (let b = 0; b < t.length; b++) {
    const tb = f32(t[b]!);
    for (let i = 0; i < half; i++) {
      const arg = f32(tb * freqs[i]!);
      out[b * dim + i] = Math.cos(arg);
      out[b * dim + half + i] = Math.sin(arg);
    }
  }
  return out;
}

/** Python's round(): half to even. */
function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * 2D sin-cos position embedding [gridH·gridW, dim] of Open-Sora 1.2: scale = sqrt(h·w)/inputSq from
 * the nominal pixel size, base_size = round(sqrt(tokens)); the first half encodes the column.
 */
export function positionEmbedding2D(
  dim: number,
  gridH: number,
  gridW: number,
  height: number,
  width: number,
  inputSqSize: number,
): Float32Array {
  const scale = Math.sqrt(height * width) / inputSqSize;
  const baseSize = roundHalfEven(Math.sqrt(gridH * gridW));
  const coord = (i: number, n: number) => f32(f32(i / f32(scale)) * f32(baseSize / n));
  const quarter = dim / 4;
  const omega = new Float64Array(quarter);
  for (let i = 0; i < quarter; i++) omega[i] = 1 / Math.pow(10000, i / quarter);
  const out = new Float32Array(gridH * gridW * dim);
  for (let r = 0; r < gridH; r++) {
    const pr = coord(r, gridH);
    for (let c = 0; c < gridW; c++) {
      const pc = coord(c, gridW);
      const o = (r * gridW + c) * dim;
      for (let i = 0; i < quarter; i++) {
        out[o + i] = Math.sin(pc * omega[i]!);
        out[o + quarter + i] = Math.cos(pc * omega[i]!);
        out[o + 2 * quarter + i] = Math.sin(pr * omega[i]!);
        out[o + 3 * quarter + i] = Math.cos(pr * omega[i]!);
      }
    }
  }
  return out;
}
