// Pyramid Attention Broadcast (arXiv 2408.12588) as VideoSys decides for Open-Sora 1.2 —
// NUS-HPC-AI-Lab/VideoSys (commit 4cce477):
//   - videosys/core/pab/pab_mgr.py lines 54–91: a branch is broadcast (its output of the last
//     computed step reused) when count % range != 0 and threshold[0] < int(timestep) <
//     threshold[1]; count is the block's call count within the generation, the step index from 0;
//   - videosys/models/transformers/open_sora_transformer_3d.py STDiT3Block.forward lines 186–240:
//     spatial blocks use the spatial setting for self-attention, temporal blocks the temporal one,
//     every block the cross setting for cross-attention; the self-attention output kept and reused
//     is the gated residual gate_msa · attn(...) (lines 219–225, 192–193), the cross-attention's its
//     output (lines 234–240);
//   - videosys/pipelines/open_sora/pipeline_open_sora.py OpenSoraPABConfig lines 32–54: the
//     published settings, spatial 2, temporal 4, cross 6 within (450, 930) ("PAB246"); the paper's
//     slower variants 357 and 579 (eval/pab/experiments/opensora.py lines 18–29) are presets too.
// Deviation: that config also turns on mlp_broadcast for three timesteps (676, 788, 864) that only
// occur with one particular schedule; PAB as published broadcasts attention only, so the MLP always
// computes here. A branch is kept only on computed steps that some later broadcast may read.
import type { BlockKind, BlockPlan, StepPlan } from './plan.js';
import type { CachePolicy, Evaluation, StepContext } from './policy.js';

export interface BroadcastSetting {
  /** broadcast unless the step index (from 0) is a multiple of this */
  interval: number;
  /** only within timesteps (low, high), exclusive, compared as int(timestep) */
  range: [number, number];
}

export interface PabSpec {
  kind: 'pab';
  spatial: BroadcastSetting;
  temporal: BroadcastSetting;
  cross: BroadcastSetting;
}

export function validatePabSpec(spec: PabSpec): void {
  for (const key of ['spatial', 'temporal', 'cross'] as const) {
    const s = spec[key];
    if (typeof s !== 'object' || s === null) throw new TypeError(`pab: ${key} must be { interval, range }`);
    if (!Number.isInteger(s.interval) || s.interval < 1) throw new RangeError(`pab: ${key}.interval must be a positive integer, got ${String(s.interval)}`);
    if (!Array.isArray(s.range) || s.range.length !== 2 || !s.range.every((v) => typeof v === 'number' && !Number.isNaN(v))) {
      throw new TypeError(`pab: ${key}.range must be [low, high] timesteps`);
    }
  }
}

/** pab_mgr.py's if_broadcast_*: reuse at step index `count` (from 0) with diffusion time `timestep`. */
export function broadcasts(s: BroadcastSetting, count: number, timestep: number): boolean {
  const t = Math.trunc(timestep);
  return count % s.interval !== 0 && s.range[0] < t && t < s.range[1];
}

export function createPabPolicy(spec: PabSpec, name = 'pab'): CachePolicy {
  validatePabSpec(spec);
  let timesteps: ArrayLike<number> = [];
  const evaluations: Evaluation[] = [];
  const reuse = (s: BroadcastSetting, step: number) => step <= timesteps.length && broadcasts(s, step - 1, timesteps[step - 1]!);
  // Kept on a computed step when some later step broadcasts it (a step-level policy composed with
  // this one may skip the computed steps in between).
  const readLater = (s: BroadcastSetting, step: number) => {
    for (let q = step + 1; q <= timesteps.length; q++) if (reuse(s, q)) return true;
    return false;
  };
  return {
    name,
    caches: false,
    evaluations,
    start(_totalSteps: number, context?: StepContext) {
      if (!context) throw new TypeError('pab: broadcast ranges are timesteps, so start() needs the context');
      timesteps = context.timesteps;
    },
    plan(step: number): StepPlan {
      const attnOf = (kind: BlockKind) => (kind === 'spatial' ? spec.spatial : spec.temporal);
      const plans = new Map<BlockKind, BlockPlan>();
      for (const kind of ['spatial', 'temporal'] as const) {
        const attn = reuse(attnOf(kind), step);
        const cross = reuse(spec.cross, step);
        plans.set(kind, {
          ...(attn ? { attn: 'reuse' as const } : {}),
          ...(cross ? { cross: 'reuse' as const } : {}),
          keep: { ...(!attn && readLater(attnOf(kind), step) ? { attn: 'gated' as const } : {}), ...(!cross && readLater(spec.cross, step) ? { cross: true } : {}) },
        });
      }
      return { compute: true, probes: [], blocks: (kind) => plans.get(kind) };
    },
    observe: () => {},
  };
}
