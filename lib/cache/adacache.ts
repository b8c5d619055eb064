// AdaCache (arXiv 2411.02397) with MoReg, exactly as the authors' Open-Sora 1.2 blocks decide:
// one shared rate; a step recomputes at prev_compute + rate and always at steps 1, N−1 and N; on a
// recomputed step each probe block measures how much its residual changed since the last one, and
// the codebook maps that change (per step, motion-regularised) to the next rate.
import type { Branch, Observation, Probe, StepPlan } from './plan.js';
import { probeKey } from './plan.js';
import type { AdaCacheSpec, CachePolicy, Evaluation } from './policy.js';

export function validateAdaCacheSpec(spec: AdaCacheSpec): void {
  const cb = spec.codebook;
  if (!Array.isArray(cb) || cb.length === 0) throw new TypeError('adaCache: codebook must be a non-empty list of [threshold, rate] pairs');
  cb.forEach((pair, i) => {
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((v) => typeof v === 'number' && Number.isFinite(v))) {
      throw new TypeError(`adaCache: codebook[${i}] must be a [threshold, rate] pair of numbers`);
    }
    if (!Number.isInteger(pair[1]) || pair[1] < 1) throw new RangeError(`adaCache: codebook[${i}] rate must be a positive integer, got ${pair[1]}`);
    if (i > 0 && pair[0] <= cb[i - 1]![0]) throw new RangeError('adaCache: codebook thresholds must increase');
  });
  if (!['t-attn', 's-attn', 'ca-mlp'].includes(spec.cacheRes)) throw new TypeError(`adaCache: cacheRes must be 't-attn', 's-attn' or 'ca-mlp', got ${String(spec.cacheRes)}`);
  if (!Array.isArray(spec.cacheLoc) || spec.cacheLoc.length === 0 || !spec.cacheLoc.every((i) => Number.isInteger(i) && i >= 0)) {
    throw new TypeError('adaCache: cacheLoc must be a non-empty list of block indices');
  }
  if (spec.distance !== 'l1' && spec.distance !== 'l2') throw new TypeError(`adaCache: distance must be 'l1' or 'l2', got ${String(spec.distance)}`);
  const m = spec.moreg;
  if (m) {
    if (!Array.isArray(m.strides) || m.strides.length === 0 || !m.strides.every((s) => Number.isInteger(s) && s >= 1)) {
      throw new TypeError('adaCache: moreg.strides must be positive integers');
    }
    if (!Array.isArray(m.steps) || m.steps.length !== 2 || !(m.steps[0] <= m.steps[1])) throw new TypeError('adaCache: moreg.steps must be [from, to]');
    if (!Array.isArray(m.hyp) || m.hyp.length < 3 || !m.hyp.slice(0, 3).every((v) => typeof v === 'number' && v > 0)) {
      throw new TypeError('adaCache: moreg.hyp must be [a, b, c] of positive numbers');
    }
    if (typeof m.mogradMul !== 'number' || !Number.isFinite(m.mogradMul)) throw new TypeError('adaCache: moreg.mogradMul must be a number');
  }
}

/** The rate for a (regularised) distance: strict < against each threshold but the last. */
export function codebookRate(codebook: readonly [number, number][], d: number): number {
  for (let i = 0; i < codebook.length - 1; i++) if (d < codebook[i]![0]) return codebook[i]![1];
  return codebook[codebook.length - 1]![1];
}

export function createAdaCachePolicy(spec: AdaCacheSpec, name = 'adacache'): CachePolicy {
  validateAdaCacheSpec(spec);
  const kinds = spec.cacheRes === 'ca-mlp' ? (['spatial', 'temporal'] as const) : ([spec.cacheRes === 's-attn' ? 'spatial' : 'temporal'] as const);
  const branch: Branch = spec.cacheRes === 'ca-mlp' ? 'ca-mlp' : 'attn';
  let total = 0;
  let rate = 1;
  let prevCompute = 0;
  const prevMoreg = new Map<string, number>();
  const evaluations: Evaluation[] = [];

  const inMoregWindow = (step: number) => !!spec.moreg && spec.moreg.steps[0] <= step && step <= spec.moreg.steps[1];
  const probes = (step: number): Probe[] =>
    spec.cacheLoc.flatMap((index) =>
      kinds.map((kind) => ({
        kind,
        index,
        branch,
        norm: spec.distance,
        ...(inMoregWindow(step) ? { motionStrides: spec.moreg!.strides } : {}),
      })),
    ).sort((a, b) => a.index - b.index || (a.kind === 'spatial' ? -1 : 1));

  return {
    name,
    caches: true,
    evaluations,
    start(totalSteps: number) {
      total = totalSteps;
      rate = 1;
      prevCompute = 0;
      prevMoreg.clear();
      evaluations.length = 0;
    },
    plan(step: number): StepPlan {
      const compute = step === prevCompute + rate || step === 1 || step === total - 1 || step === total;
      return { compute, probes: compute ? probes(step) : [] };
    },
    observe(step: number, observations: readonly Observation[]) {
      prevCompute = step;
      let count = 0;
      let avg = 0;
      let newRate = rate;
      for (const o of observations) {
        if (o.distance === null) continue;
        let d = o.distance / rate;
        d = (d + count * avg) / (count + 1);
        avg = d;
        count++;
        const key = probeKey(o.probe);
        let moreg = 1;
        const record: Evaluation = { step, block: `${o.probe.kind[0]}${o.probe.index}`, distance: d, distanceReg: d, prevRate: rate, newRate: rate };
        if (spec.moreg) {
          const [a, b, c] = spec.moreg.hyp as [number, number, number];
          let raw = 1;
          if (inMoregWindow(step) && o.motion) {
            const m = o.motion.reduce((s, v) => s + v, 0) / o.motion.length;
            raw = Math.pow(m / a, b) / c;
            record.motion = m;
          }
          const mograd = (spec.moreg.mogradMul * (raw - (prevMoreg.get(key) ?? 1))) / rate;
          prevMoreg.set(key, raw);
          moreg = raw + Math.abs(mograd);
          Object.assign(record, { moregRaw: raw, mograd, moreg });
        }
        record.distanceReg = d * moreg;
        newRate = codebookRate(spec.codebook, record.distanceReg);
        record.newRate = newRate;
        evaluations.push(record);
      }
      rate = newRate;
    },
  };
}
