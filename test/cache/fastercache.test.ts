// FasterCache: its schedule against the authors' counters (Vchitect/FasterCache
// scripts/opensora/fastercache_sample_opensora.py lines 73–94 and 158–193) written out here; the
// frequency split against a full 2-D DFT with the published fftshift mask; the predicted
// unconditional velocity against the formula; no reuse equals the uncached run bit for bit; the
// cache holds two outputs per block and the split difference.
import { afterAll, describe, expect, it } from 'vitest';

import { lowPass, lowPassRadius } from '../../lib/cache/frequency.js';
import { createPolicy, fasterCachePreset, type FasterCacheSpec } from '../../lib/cache/index.js';
import { resolveGeneration } from '../../lib/generate.js';
import { denoise } from '../../lib/sampling/denoise.js';
import { gaussianNoise } from '../../lib/sampling/noise.js';
import { samplingSchedule } from '../../lib/sampling/rflow.js';
import { SHAPE, STEPS, disposeTinyModel, generateSmall, maxAbsDiff, rowTensorBytes, tinyModel } from '../helpers/policy-runs.js';

afterAll(disposeTinyModel);

/** The authors' counters over 30 model calls: which steps run the conditional rows only, which extrapolate attention, and the weights. */
function publishedSchedule() {
  const out: { step: number; condOnly: boolean; extrapolate: number | null; low: number; high: number }[] = [];
  let deltaLow = 1, deltaHigh = 1; // the kept parts' scale, as the authors multiply them in place
  for (let counter = 1; counter <= 30; counter++) {
    const extrapolate = counter > 7 && counter % 2 === 0 ? ((counter - 7) / 20.0) * 0.9 : null;
    if (counter % 5 !== 0 && counter > 11) {
      if (counter >= 20) deltaHigh *= 1.15;
      if (counter <= 25) deltaLow *= 1.15;
      out.push({ step: counter, condOnly: true, extrapolate, low: deltaLow, high: deltaHigh });
    } else {
      if (counter >= 10) deltaLow = deltaHigh = 1;
      out.push({ step: counter, condOnly: false, extrapolate, low: 1, high: 1 });
    }
  }
  return out;
}

/** Re(ifft2(ifftshift(mask · fftshift(fft2(x))))) by the definition, O((HW)²). */
function naiveLowPass(x: Float64Array | Float32Array, H: number, W: number, r: number): Float64Array {
  const out = new Float64Array(H * W);
  for (let py = 0; py < H; py++) {
    for (let px = 0; px < W; px++) {
      if ((px - Math.floor(W / 2)) ** 2 + (py - Math.floor(H / 2)) ** 2 > r * r) continue;
      const ky = py - Math.floor(H / 2), kx = px - Math.floor(W / 2); // fftshift position → frequency
      let re = 0, im = 0;
      for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) {
        const a = -2 * Math.PI * (ky * y / H + kx * xx / W);
        re += x[y * W + xx]! * Math.cos(a);
        im += x[y * W + xx]! * Math.sin(a);
      }
      for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) {
        const a = 2 * Math.PI * (ky * y / H + kx * xx / W);
        out[y * W + xx] += (re * Math.cos(a) - im * Math.sin(a)) / (H * W);
      }
    }
  }
  return out;
}

/**
 * The authors' prediction for one plane (lines 164–176): with F the shifted 2-D DFT and M the disc,
 * Re(F⁻¹(M·F(c) + w_l·M·F(d) + (1 − M)·F(c) + w_h·(1 − M)·F(d))), every frequency by the definition.
 */
function authorsPrediction(c: Float32Array, d: Float32Array, H: number, W: number, r: number, wl: number, wh: number): Float64Array {
  const out = new Float64Array(H * W);
  for (let py = 0; py < H; py++) {
    for (let px = 0; px < W; px++) {
      const low = (px - Math.floor(W / 2)) ** 2 + (py - Math.floor(H / 2)) ** 2 <= r * r;
      const ky = py - Math.floor(H / 2), kx = px - Math.floor(W / 2);
      let cr = 0, ci = 0, dr = 0, di = 0;
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
        const a = -2 * Math.PI * (ky * y / H + kx * x / W);
        cr += c[y * W + x]! * Math.cos(a); ci += c[y * W + x]! * Math.sin(a);
        dr += d[y * W + x]! * Math.cos(a); di += d[y * W + x]! * Math.sin(a);
      }
      const w = low ? wl : wh;
      const [re, im] = [cr + w * dr, ci + w * di];
      for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) {
        const a = 2 * Math.PI * (ky * y / H + kx * x / W);
        out[y * W + x] += (re * Math.cos(a) - im * Math.sin(a)) / (H * W);
      }
    }
  }
  return out;
}

describe('FasterCache', () => {
  it('plans the authors\' schedule: conditional-only steps, extrapolated attention, growing weights', () => {
    const p = createPolicy('fastercache', 30, 4);
    p.start(30, { rows: 2, cfg: true, timesteps: new Float32Array(30) });
    for (const e of publishedSchedule()) {
      const plan = p.plan(e.step);
      expect(plan.present ?? [true, true]).toEqual([true, !e.condOnly]);
      const attn = plan.blocks?.('spatial', 0)?.attn as { extrapolate: number } | undefined;
      if (e.extrapolate === null) expect(attn).toBeUndefined();
      else expect(attn!.extrapolate).toBeCloseTo(e.extrapolate, 12);
      if (e.condOnly) {
        const g = plan.guidance as { predict: { low: number; high: number } };
        expect(g.predict.low).toBeCloseTo(e.low, 12);
        expect(g.predict.high).toBeCloseTo(e.high, 12);
        expect(plan.follow).toEqual([undefined, 0]);
      }
    }
    // onFullSteps false: the full steps 20 and 30 compute attention instead of extrapolating
    const own = createPolicy({ ...fasterCachePreset(30), attention: { ...fasterCachePreset(30).attention!, onFullSteps: false } }, 30, 4);
    own.start(30, { rows: 2, cfg: true, timesteps: new Float32Array(30) });
    const extrapolated = Array.from({ length: 30 }, (_, i) => i + 1).filter((s) => own.plan(s).blocks?.('temporal', 1)?.attn);
    expect(extrapolated).toEqual(publishedSchedule().filter((e) => e.extrapolate !== null && (e.condOnly || e.step <= 11)).map((e) => e.step));
    expect(fasterCachePreset(30)).toEqual({
      kind: 'fastercache',
      attention: { keepFrom: 5, after: 7, every: 2, slope: 0.9 / 20 },
      cfg: { fullUntil: 11, fullEvery: 5, keepFrom: 10, highFrom: 20, lowUntil: 25, boost: 1.15, radiusDivisor: 5 },
    });
  });

  it('splits low and high frequencies as the published fftshift mask does', () => {
    for (const [H, W] of [[8, 8], [9, 12], [16, 10]] as const) {
      const r = lowPassRadius(H, W, 5);
      const x = Float32Array.from(gaussianNoise(H * W, 2 * H * W));
      const fast = lowPass(x, 2, H, W, r);
      for (let p = 0; p < 2; p++) {
        const ref = naiveLowPass(x.subarray(p * H * W, (p + 1) * H * W), H, W, r);
        // float64 sums of H·W terms, stored as float32: relative 1e-6
        ref.forEach((v, i) => expect(Math.abs(fast[p * H * W + i]! - v)).toBeLessThan(1e-6 * (1 + Math.abs(v))));
      }
    }
  });

  it('runs the published schedule, predicts the unconditional rows and holds its formula of memory', () => {
    const { trace } = generateSmall('fastercache');
    const depth = tinyModel().config.depth;
    for (const e of publishedSchedule()) {
      const d = trace.decisions[e.step - 1]!;
      expect(d.rows).toEqual(e.condOnly ? ['compute', 'predicted'] : ['compute', 'compute']);
      expect(d.attnExtrapolated?.length ?? 0).toBe(e.extrapolate === null ? 0 : 2 * depth);
    }
    const velocity = 4 * (SHAPE.numFrames / 4) * (SHAPE.height / 8) * (SHAPE.width / 8) * 4;
    expect(trace.cacheBreakdown).toEqual({ stack: 0, probes: 0, gates: 0, branches: 2 * 2 * depth * rowTensorBytes(), guidance: 2 * velocity });
    console.log(`fastercache: computed ${(100 * trace.computedFraction).toFixed(1)}% of the block work`);
  });

  it("predicts the unconditional velocity as the authors' spectral form does, from the last full step's difference", () => {
    const model = tinyModel();
    const r = resolveGeneration(model, { prompt: 'a blue square moving down quickly on night', seed: 7, steps: STEPS, ...SHAPE });
    const { timesteps, dt } = samplingSchedule({ steps: STEPS, ...SHAPE });
    const seen = new Map<number, Float32Array>();
    const it = denoise(model, {
      z: r.z, caption: r.caption, timesteps, dt, cfgScale: r.cfgScale, fps: r.fps, height: r.height, width: r.width,
      policy: createPolicy('fastercache', STEPS, model.config.depth),
      inspect: (step, v) => seen.set(step, v.toFloat32Array()),
    });
    while (!it.next().done && !seen.has(13));
    const [, C, T, H, W] = r.z.shape as number[];
    const n = C! * T! * H! * W!, plane = H! * W!;
    const v11 = seen.get(11)!, v13 = seen.get(13)!;
    const d = v11.subarray(n).map((u, i) => u - v11[i]!);
    const rad = lowPassRadius(H!, W!, 5);
    // step 13 is the second conditional-only step after the full step 11: low ×1.15², high ×1.
    // Against the authors' spectral form, every frequency by the definition; float64 sums of
    // H·W terms over float32 velocities: 1e-5 relative.
    for (let p = 0; p < C! * T!; p++) {
      const at = (v: Float32Array) => v.subarray(p * plane, (p + 1) * plane);
      const expected = authorsPrediction(at(v13), at(d), H!, W!, rad, 1.15 * 1.15, 1);
      const got = v13.subarray(n + p * plane, n + (p + 1) * plane);
      expected.forEach((e, i) => expect(Math.abs(got[i]! - e)).toBeLessThan(1e-5 * (1 + Math.abs(e))));
    }
    it.return(undefined as never);
    r.caption.dispose();
    r.z.dispose();
    r.y.dispose();
  });

  it('equals the uncached run when nothing is reused', () => {
    const spec: FasterCacheSpec = { ...fasterCachePreset(30), attention: { keepFrom: 5, after: 30, every: 2, slope: 0.045 } };
    spec.cfg = { ...spec.cfg!, fullUntil: 30 };
    const idle = generateSmall(spec);
    expect(idle.trace.decisions.every((d) => d.computed === 1)).toBe(true);
    expect(maxAbsDiff(idle.latent, generateSmall('none').latent)).toBe(0);
  });
});
