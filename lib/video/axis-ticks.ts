// Axis ticks at "nice" values (1, 2 or 5 times a power of ten), as a person would label a chart.

export interface Ticks {
  /** The axis end: the first tick at or above the data maximum. */
  max: number;
  values: number[];
  /** Decimals that show every tick exactly. */
  decimals: number;
}

/** About `count` ticks from 0 to at least `dataMax` (> 0); `integer` keeps the spacing a whole number. */
export function niceTicks(dataMax: number, count: number, integer = false): Ticks {
  const raw = (dataMax > 0 ? dataMax : 1) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw * (1 - 1e-9))!;
  const spacing = integer ? Math.max(1, Math.round(unit)) : unit;
  const n = Math.max(1, Math.ceil(dataMax / spacing - 1e-9));
  const values = Array.from({ length: n + 1 }, (_, i) => i * spacing);
  return { max: n * spacing, values, decimals: Math.max(0, -Math.floor(Math.log10(spacing) + 1e-9)) };
}
