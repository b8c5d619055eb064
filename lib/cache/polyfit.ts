// Least-squares polynomial fit, np.polyfit(x, y, degree) for TeaCache's rescaling: coefficients
// highest power first. Solved by Householder QR of the Vandermonde matrix with its columns scaled
// to unit norm (the normal equations square its condition number).

export function polyfit(x: readonly number[], y: readonly number[], degree: number): number[] {
  if (x.length !== y.length) throw new RangeError(`polyfit: ${x.length} x values for ${y.length} y values`);
  if (!Number.isInteger(degree) || degree < 0) throw new RangeError(`polyfit: degree must be an integer >= 0, got ${degree}`);
  const m = x.length, n = degree + 1;
  if (m < n) throw new RangeError(`polyfit: a degree-${degree} fit needs at least ${n} points, got ${m}`);
  if (![...x, ...y].every(Number.isFinite)) throw new RangeError('polyfit: x and y must be finite');
  // A[i][j] = x_i^(degree − j), columns scaled to unit norm.
  const a = Array.from({ length: m }, (_, i) => Array.from({ length: n }, (_, j) => x[i]! ** (degree - j)));
  const scale = Array.from({ length: n }, (_, j) => Math.hypot(...a.map((row) => row[j]!)) || 1);
  for (const row of a) for (let j = 0; j < n; j++) row[j]! /= scale[j]!;
  const b = [...y];
  for (let k = 0; k < n; k++) {
    const norm = Math.hypot(...a.slice(k).map((row) => row[k]!));
    if (norm === 0) throw new RangeError('polyfit: the x values do not determine a polynomial of this degree');
    const alpha = a[k]![k]! > 0 ? -norm : norm;
    const v = a.slice(k).map((row) => row[k]!);
    v[0]! -= alpha;
    const vv = v.reduce((s, t) => s + t * t, 0);
    if (vv === 0) continue;
    const reflect = (col: (i: number) => number, set: (i: number, value: number) => void) => {
      let dot = 0;
      for (let i = k; i < m; i++) dot += v[i - k]! * col(i);
      const f = (2 * dot) / vv;
      for (let i = k; i < m; i++) set(i, col(i) - f * v[i - k]!);
    };
    for (let j = k; j < n; j++) reflect((i) => a[i]![j]!, (i, value) => (a[i]![j] = value));
    reflect((i) => b[i]!, (i, value) => (b[i] = value));
  }
  const c = new Array<number>(n).fill(0);
  for (let k = n - 1; k >= 0; k--) {
    let s = b[k]!;
    for (let j = k + 1; j < n; j++) s -= a[k]![j]! * c[j]!;
    c[k] = s / a[k]![k]!;
  }
  return c.map((v, j) => v / scale[j]!);
}
