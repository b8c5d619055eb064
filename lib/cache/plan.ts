// What a caching policy tells the model for one step, and what the model reports back.
//
// The model runs a batch of rows (with classifier-free guidance: the conditional rows 0..B−1, then
// the unconditional rows B..2B−1). A plan decides per row at three levels:
//   - present: whether the row runs at all (CFG-Cache predicts an absent unconditional row);
//   - compute: whether a present row runs the block stack or adds its cached stack residual;
//   - per block branch, for the rows that compute: compute it, reuse its kept output, or
//     extrapolate it from its last two outputs (PAB, FasterCache).
import type { Tensor } from '../tensor.js';

export type BlockKind = 'spatial' | 'temporal';
/** 'attn': the gated self-attention residual; 'ca-mlp': cross-attention + gated MLP residual; 'block': the whole block's. */
export type Branch = 'attn' | 'ca-mlp' | 'block';
/** Rows [from, to) of the batch. */
export type RowRange = readonly [number, number];

/** A block branch whose residual change the policy wants measured when the step is computed. */
export interface Probe {
  kind: BlockKind;
  index: number;
  branch: Branch;
  norm: 'l1' | 'l2';
  /** Frame strides of the motion score, when motion is wanted on this step. */
  motionStrides?: readonly number[];
  /** The rows measured together (default: every row). */
  rows?: RowRange;
}

/**
 * A signal the model measures before the block stack, on which the policy then decides per group
 * of rows: 'modulated-input' — the first block's timestep-modulated input, compared with the
 * previous step's (TeaCache); 'head-residual' — the residual of the plan's `head` blocks, compared
 * with that of the group's last computed step (First-Block Cache).
 */
export interface Gate {
  signal: 'modulated-input' | 'head-residual';
  /** the decision groups (each row in at most one); rows outside them follow `compute` */
  groups: readonly RowRange[];
  /**
   * ‖prev − now‖₁ / ‖prev‖₁ per group → compute? per group. null: nothing to compare with yet;
   * undefined: no row of the group runs this step (its decision is not used).
   */
  decide(changes: readonly (number | null | undefined)[]): readonly boolean[];
}

/** Per block, for the rows that compute. Absent fields: compute, keep nothing. */
export interface BlockPlan {
  /** self-attention: reuse the kept gated residual, or o₁ + w·(o₁ − o₀) of the last two kept ungated outputs, gated anew */
  attn?: 'reuse' | { extrapolate: number };
  /** cross-attention: reuse the kept output */
  cross?: 'reuse';
  /** what a computed branch keeps for later steps */
  keep?: { attn?: 'gated' | 'history'; cross?: boolean };
}

export interface StepPlan {
  /**
   * Per row (or one value for all): true runs the block stack, false adds the stack residual kept
   * at the row's last computed step. With a gate, the gate's groups decide instead.
   */
  compute: boolean | readonly boolean[];
  probes: readonly Probe[];
  /** Rows that run at all (default all). An absent row's output is zero: the sampler predicts it. */
  present?: readonly boolean[];
  /** Leading blocks (forward order s0, t0, s1, ...) every present row runs before the stack residual applies. */
  head?: number;
  gate?: Gate;
  /** Branch reuse of block ('s<i>' / 't<i>'). */
  blocks?: (kind: BlockKind, index: number) => BlockPlan | undefined;
  /** For an absent row r, `follow[r]` is the present row whose freshly kept branch outputs r's history takes. */
  follow?: readonly (number | undefined)[];
  /**
   * CFG-Cache, done by the sampler: keep the unconditional − conditional velocity split into low and
   * high spatial frequencies (a disc of radius min(H, W) / radiusDivisor), or predict each absent
   * unconditional row as conditional + low·Δlow + high·Δhigh.
   */
  guidance?: { keep: { radiusDivisor: number } } | { predict: { low: number; high: number } };
}

/** What a row of the batch did in a model call. */
export type RowOutcome = 'compute' | 'reuse' | 'absent';

export interface Observation {
  probe: Probe;
  /** ‖cached − fresh‖ / ‖cached‖ (null on the first computed step: nothing was cached yet). */
  distance: number | null;
  /** Motion score per requested stride, on the fresh residual. */
  motion: number[] | null;
}

export function probeKey(p: Probe): string {
  return `${p.kind[0]}${p.index}:${p.branch}`;
}

export function blockName(kind: BlockKind, index: number): string {
  return `${kind[0]}${index}`;
}

/** Per-row flags of a plan field that is one value for all rows or one per row. */
export function rowFlags(v: boolean | readonly boolean[] | undefined, rows: number, fallback: boolean): boolean[] {
  if (v === undefined) return new Array<boolean>(rows).fill(fallback);
  if (typeof v === 'boolean') return new Array<boolean>(rows).fill(v);
  if (v.length !== rows) throw new RangeError(`plan: expected ${rows} row flags, got ${v.length}`);
  return [...v];
}

/** A tensor kept for all rows of the batch, with the rows that hold a value. */
export class RowTensor {
  readonly filled: Uint8Array;
  constructor(readonly tensor: Tensor, rows: number) {
    this.filled = new Uint8Array(rows);
  }
  has(rows: readonly number[]): boolean {
    return rows.every((r) => this.filled[r] === 1);
  }
  dispose(): void {
    this.tensor.dispose();
  }
}

/**
 * The cached state of one generation. Rows that skip the blocks add the stack residual kept at
 * their last computed step: one tensor for the whole stack (x_out − x_in) rather than two cached
 * residuals per block. Probe slots hold the residual measured at a probe, gate slots the gate's
 * previous signal, branch entries what PAB / FasterCache reuse, guidance the CFG-Cache difference.
 */
export class ResidualCache {
  stack: RowTensor | null = null;
  readonly slots = new Map<string, RowTensor>();
  readonly gates = new Map<string, RowTensor>();
  readonly branches = new Map<string, RowTensor>();
  readonly guidance = new Map<string, Tensor>();

  /** The stack residual, as the model keeps it (x_out − x_in over all blocks after the head). */
  get sum(): Tensor | null {
    return this.stack?.tensor ?? null;
  }

  /** Bytes held, by what holds them. */
  get breakdown(): { stack: number; probes: number; gates: number; branches: number; guidance: number } {
    const sum = (xs: Iterable<RowTensor | Tensor>) => {
      let n = 0;
      for (const x of xs) n += (x instanceof RowTensor ? x.tensor : x).storageBytes;
      return n;
    };
    return {
      stack: this.stack ? this.stack.tensor.storageBytes : 0,
      probes: sum(this.slots.values()),
      gates: sum(this.gates.values()),
      branches: sum(this.branches.values()),
      guidance: sum(this.guidance.values()),
    };
  }

  get bytes(): number {
    const b = this.breakdown;
    return b.stack + b.probes + b.gates + b.branches + b.guidance;
  }

  dispose(): void {
    this.stack?.dispose();
    this.stack = null;
    for (const m of [this.slots, this.gates, this.branches]) {
      for (const s of m.values()) s.dispose();
      m.clear();
    }
    for (const t of this.guidance.values()) t.dispose();
    this.guidance.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
