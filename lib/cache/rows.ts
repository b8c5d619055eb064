// Some rows of a batch, picked for one computation: the rows that run the blocks on a step, or
// the rows present at all. Tensors whose first dimension is the batch (times a fixed count per row)
// are taken in the picked rows' order: a view when the rows are consecutive, else a gathered copy.
import { empty, type Tensor } from '../tensor.js';

export class RowPick {
  /** maximal runs of consecutive rows: [first row, count, position in the pick] */
  readonly runs: [number, number, number][] = [];

  constructor(
    /** ascending rows of the full batch */
    readonly ids: readonly number[],
    readonly total: number,
  ) {
    ids.forEach((r, i) => {
      if (!Number.isInteger(r) || r < 0 || r >= total || (i > 0 && r <= ids[i - 1]!)) throw new RangeError(`rows must ascend within [0, ${total}), got [${ids}]`);
      const last = this.runs[this.runs.length - 1];
      if (last && last[0] + last[1] === r) last[1]++;
      else this.runs.push([r, 1, i]);
    });
  }

  static all(total: number): RowPick {
    return new RowPick(Array.from({ length: total }, (_, i) => i), total);
  }

  static where(flags: readonly boolean[]): RowPick {
    return new RowPick(flags.flatMap((f, i) => (f ? [i] : [])), flags.length);
  }

  get size(): number {
    return this.ids.length;
  }

  get isAll(): boolean {
    return this.ids.length === this.total;
  }

  /** Picks of the rows of `range` [from, to) that are in this pick, as positions in the pick. */
  within(range: readonly [number, number]): { rows: number[]; positions: [number, number] } | null {
    const rows = this.ids.filter((r) => r >= range[0] && r < range[1]);
    if (rows.length === 0) return null;
    const first = this.ids.indexOf(rows[0]!);
    return { rows, positions: [first, first + rows.length] };
  }

  /** This pick's rows of `full` (first dimension total · k): a view of consecutive rows, else a copy. */
  take(full: Tensor): Tensor {
    const { per, tail, inner } = layout(full, this.total);
    if (this.runs.length === 1) {
      const [r, n] = this.runs[0]!;
      return full.view([n * per, ...tail], { offset: r * per * inner });
    }
    const out = empty([this.size * per, ...tail], { dtype: full.dtype, device: full.device });
    for (const [r, n, at] of this.runs) {
      using src = full.view([n * per, ...tail], { offset: r * per * inner });
      using dst = out.view([n * per, ...tail], { offset: at * per * inner });
      dst.copyFrom(src);
    }
    return out;
  }

  /** Writes `part` (this pick's rows, as take() gives them) into its rows of `full`. */
  put(full: Tensor, part: Tensor): void {
    const { per, tail, inner } = layout(full, this.total);
    for (const [r, n, at] of this.runs) {
      using dst = full.view([n * per, ...tail], { offset: r * per * inner });
      using src = part.view([n * per, ...tail], { offset: at * per * inner });
      dst.copyFrom(src);
    }
  }

  /** Whether take() gives a view (the rows are consecutive) rather than a copy. */
  get consecutive(): boolean {
    return this.runs.length === 1;
  }

  /** The rows of this pick at positions `positions` of a pick made over this pick's rows. */
  map(inner: RowPick): RowPick {
    return new RowPick(inner.ids.map((p) => this.ids[p]!), this.total);
  }
}

function layout(full: Tensor, total: number): { per: number; tail: number[]; inner: number } {
  const d0 = full.shape[0]!;
  if (d0 % total !== 0) throw new RangeError(`a batch of ${total} rows does not divide the first dimension of [${full.shape}]`);
  const tail = full.shape.slice(1);
  return { per: d0 / total, tail, inner: tail.reduce((a, b) => a * b, 1) };
}
