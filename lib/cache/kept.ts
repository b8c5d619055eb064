// Reading and writing the row tensors a ResidualCache keeps: each holds a value per row of the
// batch, written by the rows that computed it and read back by the same rows on a later step.
import { ops } from '../ops/index.js';
import { empty, type Tensor } from '../tensor.js';
import { probeKey, RowTensor, type Observation, type Probe, type ResidualCache } from './plan.js';
import type { RowPick } from './rows.js';

/** The entry `key` of `map`, created for `rows` rows of fresh's per-row shape when missing. */
export function rowSlot(map: Map<string, RowTensor>, key: string, fresh: Tensor, freshRows: number, rows: number): RowTensor {
  let slot = map.get(key);
  if (!slot) {
    const per = fresh.shape[0]! / freshRows;
    slot = new RowTensor(empty([rows * per, ...fresh.shape.slice(1)], { dtype: fresh.dtype, device: fresh.device }), rows);
    map.set(key, slot);
  }
  return slot;
}

/** Rows of a tensor whose first dimension is `rows` · per-row: [from, to) of them, as a view. */
function rowsView(t: Tensor, rows: number, from: number, to: number): Tensor {
  const per = t.shape[0]! / rows;
  const inner = t.shape.slice(1).reduce((a, b) => a * b, 1);
  return t.view([(to - from) * per, ...t.shape.slice(1)], { offset: from * per * inner });
}

/** A group of rows of a pick: its rows of the full batch and their (consecutive) positions in the pick. */
export interface PickedGroup {
  rows: number[];
  positions: readonly [number, number];
}

/**
 * ‖kept − fresh‖ / ‖kept‖ over the rows of group `g` (fresh holds the rows of `pick`), summed over
 * the group's rows as one tensor; with `update`, kept ← fresh in the same pass. When the group's
 * rows hold nothing yet, they are filled and the result is null.
 */
export function measure(slot: RowTensor, fresh: Tensor, pick: RowPick, g: PickedGroup, norm: 'l1' | 'l2', update: boolean): number | null {
  const total = slot.filled.length;
  if (!slot.has(g.rows)) {
    keepGroup(slot, fresh, pick, g);
    return null;
  }
  let num = 0, den = 0;
  for (const [row, n, at] of runsOf(g)) {
    using kept = rowsView(slot.tensor, total, row, row + n);
    using part = rowsView(fresh, pick.size, at, at + n);
    const d = ops.residualDistance(kept, part, { norm, update });
    if (norm === 'l2') {
      num += d.num * d.num;
      den += d.den * d.den;
    } else {
      num += d.num;
      den += d.den;
    }
  }
  if (norm === 'l2') [num, den] = [Math.sqrt(num), Math.sqrt(den)];
  return den > 0 ? num / den : 0;
}

/** Maximal runs of consecutive rows in a group: [first row, count, first position]. */
function runsOf(g: PickedGroup): [number, number, number][] {
  const runs: [number, number, number][] = [];
  g.rows.forEach((r, i) => {
    const last = runs[runs.length - 1];
    if (last && last[0] + last[1] === r) last[1]++;
    else runs.push([r, 1, g.positions[0] + i]);
  });
  return runs;
}

/** kept ← fresh on the rows of group `g`. */
export function keepGroup(slot: RowTensor, fresh: Tensor, pick: RowPick, g: PickedGroup): void {
  for (const [row, n, at] of runsOf(g)) {
    using dst = rowsView(slot.tensor, slot.filled.length, row, row + n);
    using src = rowsView(fresh, pick.size, at, at + n);
    dst.copyFrom(src);
    slot.filled.fill(1, row, row + n);
  }
}

/**
 * kept ← fresh on every row of `pick` (fresh holds them in order), and on each absent row r with
 * follow[r] in the pick, kept[r] ← fresh[follow[r]].
 */
export function keepRows(slot: RowTensor, fresh: Tensor, pick: RowPick, follow?: readonly (number | undefined)[]): void {
  for (const [row, n, at] of pick.runs) {
    using dst = rowsView(slot.tensor, slot.filled.length, row, row + n);
    using src = rowsView(fresh, pick.size, at, at + n);
    dst.copyFrom(src);
    slot.filled.fill(1, row, row + n);
  }
  for (const [r, src] of followed(pick, follow)) {
    using dst = rowsView(slot.tensor, slot.filled.length, r, r + 1);
    using from = rowsView(fresh, pick.size, src, src + 1);
    dst.copyFrom(from);
    slot.filled[r] = 1;
  }
}

/** [absent row, position in the pick of the row it follows]. */
function followed(pick: RowPick, follow?: readonly (number | undefined)[]): [number, number][] {
  if (!follow) return [];
  const out: [number, number][] = [];
  follow.forEach((src, r) => {
    if (src === undefined || pick.ids.includes(r)) return;
    const at = pick.ids.indexOf(src);
    if (at >= 0) out.push([r, at]);
  });
  return out;
}

/**
 * The last two kept outputs of a branch (`${key}-1` newest, `${key}-0` before it): on every row of
 * `pick` (and each row following one of them) the newest becomes the older and fresh the newest;
 * a row's first kept output fills both.
 */
export function keepHistory(map: Map<string, RowTensor>, key: string, fresh: Tensor, pick: RowPick, rows: number, follow?: readonly (number | undefined)[]): void {
  const newest = rowSlot(map, `${key}-1`, fresh, pick.size, rows);
  const older = rowSlot(map, `${key}-0`, fresh, pick.size, rows);
  const targets: [number, number][] = [...pick.ids.map((r, at): [number, number] => [r, at]), ...followed(pick, follow)];
  for (const [r, at] of targets) {
    using o = rowsView(older.tensor, rows, r, r + 1);
    using n = rowsView(newest.tensor, rows, r, r + 1);
    using src = rowsView(fresh, pick.size, at, at + 1);
    o.copyFrom(newest.filled[r] ? n : src);
    n.copyFrom(src);
    older.filled[r] = 1;
    newest.filled[r] = 1;
  }
}

/** The kept rows `pick` of an entry (a view when consecutive, else a copy); every row must hold a value. */
export function keptRows(slot: RowTensor | undefined, pick: RowPick, what: string): Tensor {
  if (!slot || !slot.has(pick.ids)) {
    throw new Error(`${what} is reused for rows [${pick.ids}] before it was kept for them: a computed step must keep it first`);
  }
  return pick.take(slot.tensor);
}

/**
 * A probe's measurement on the fresh residual [rows · per-row, C] of the rows of `rows` (one group:
 * the probe's rows that ran): the motion score when asked, and the change from what its slot kept.
 */
export function observeProbe(probe: Probe, fresh: Tensor, cache: ResidualCache | undefined, rows: RowPick, T: number): Observation | null {
  const range = probe.rows ?? [0, rows.total];
  const g = rows.within(range);
  if (!g) return null;
  using part = fresh.view([(g.positions[1] - g.positions[0]) * (fresh.shape[0]! / rows.size), fresh.shape[1]!], {
    offset: g.positions[0] * (fresh.shape[0]! / rows.size) * fresh.shape[1]!,
  });
  let motion: number[] | null = null;
  if (probe.motionStrides && probe.motionStrides.length > 0 && T > 1) {
    const n = g.rows.length;
    using r = part.view([n, part.shape[0]! / n, part.shape[1]!]);
    motion = ops.motionScore(r, T, probe.motionStrides);
  }
  if (!cache) return { probe, distance: null, motion };
  const slot = rowSlot(cache.slots, probeKey(probe), fresh, rows.size, rows.total);
  const distance = measure(slot, fresh, rows, g, probe.norm, true);
  return { probe, distance, motion };
}
