// What a caching policy tells the model for one step, and what the model reports back.
import type { Tensor } from '../tensor.js';

export type BlockKind = 'spatial' | 'temporal';
/** 'attn': the gated self-attention residual; 'ca-mlp': cross-attention + gated MLP residual. */
export type Branch = 'attn' | 'ca-mlp';

/** A block branch whose residual change the policy wants measured when the step is computed. */
export interface Probe {
  kind: BlockKind;
  index: number;
  branch: Branch;
  norm: 'l1' | 'l2';
  /** Frame strides of the motion score, when motion is wanted on this step. */
  motionStrides?: readonly number[];
}

export interface StepPlan {
  /**
   * true: every block computes; false: every block reuses its cached residuals. One decision for
   * all blocks is what lets the model keep a single summed residual (see ResidualCache).
   */
  compute: boolean;
  probes: readonly Probe[];
}

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

/**
 * The residual state of one generation. All blocks share one schedule, so a cached step is
 * x_in + Σ cached residuals: the model keeps that sum as one tensor (plus one slot per probe for
 * the distance) instead of two cached residuals per block.
 */
export class ResidualCache {
  sum: Tensor | null = null;
  readonly slots = new Map<string, Tensor>();

  get bytes(): number {
    let b = this.sum ? this.sum.storageBytes : 0;
    for (const s of this.slots.values()) b += s.storageBytes;
    return b;
  }

  dispose(): void {
    this.sum?.dispose();
    this.sum = null;
    for (const s of this.slots.values()) s.dispose();
    this.slots.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}
