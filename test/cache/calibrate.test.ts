// Calibration of the threshold policies: the degree-4 fit against the normal equations solved
// here; each fit reaches its target on the runs it replays; recording an uncached run gives every
// signal at every step; the CLI writes a spec --cache accepts.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { fitFirstBlockCache, fitMagCache, fitTeaCache, recordRuns, replaySpec, type CalibrationRun } from '../../lib/cache/calibrate.js';
import { polyfit } from '../../lib/cache/polyfit.js';
import { polyval } from '../../lib/cache/index.js';
import { packageRoot } from '../../lib/native/loader.js';
import { disposeTinyModel, tinyModel } from '../helpers/policy-runs.js';

afterAll(disposeTinyModel);

/** Least squares by the normal equations (VᵀV) c = Vᵀy and Gaussian elimination with partial pivoting. */
function normalEquations(x: number[], y: number[], degree: number): number[] {
  const n = degree + 1;
  const v = x.map((xi) => Array.from({ length: n }, (_, j) => xi ** (degree - j)));
  const a = Array.from({ length: n }, (_, i) => [...Array.from({ length: n }, (_, j) => v.reduce((s, r) => s + r[i]! * r[j]!, 0)), v.reduce((s, r, k) => s + r[i]! * y[k]!, 0)]);
  for (let k = 0; k < n; k++) {
    const p = a.slice(k).reduce((best, row, i) => (Math.abs(row[k]!) > Math.abs(a[best]![k]!) ? k + i : best), k);
    [a[k], a[p]] = [a[p]!, a[k]!];
    for (let i = k + 1; i < n; i++) {
      const f = a[i]![k]! / a[k]![k]!;
      for (let j = k; j <= n; j++) a[i]![j]! -= f * a[k]![j]!;
    }
  }
  const c = new Array<number>(n).fill(0);
  for (let k = n - 1; k >= 0; k--) c[k] = (a[k]![n]! - a[k]!.slice(k + 1, n).reduce((s, t, j) => s + t * c[k + 1 + j]!, 0)) / a[k]![k]!;
  return c;
}

const synthetic = (i: number, steps = 30): CalibrationRun => {
  const x = Array.from({ length: steps }, (_, s) => (s === 0 ? null : 0.02 + 0.1 * Math.abs(Math.sin(0.7 * s + i))));
  return {
    prompt: `run ${i}`,
    seed: i,
    distance: x,
    motion: x,
    input: x,
    output: x.map((v) => (v === null ? null : polyval([3, -2, 1.5, 0.4, 0.01], v))),
    head: x.map((v) => (v === null ? null : v / 2)),
    magnitude: Array.from({ length: steps }, (_, s) => (s === 0 ? null : 0.995 - 0.001 * s)),
  };
};

describe('calibration', () => {
  it('fits a degree-4 polynomial as least squares does', () => {
    const x = Array.from({ length: 40 }, (_, i) => 0.01 + 0.3 * ((i * 37) % 40) / 40);
    const exact = [217.5, -118.3, 26.87, -0.046, 0.048];
    const recovered = polyfit(x, x.map((v) => polyval(exact, v)), 4);
    recovered.forEach((c, i) => expect(c).toBeCloseTo(exact[i]!, 6));
    const y = x.map((v, i) => polyval(exact, v) + 0.01 * Math.sin(i * 2.3));
    const ref = normalEquations(x, y, 4);
    polyfit(x, y, 4).forEach((c, i) => expect(Math.abs(c - ref[i]!)).toBeLessThan(1e-6 * (1 + Math.abs(ref[i]!))));
    expect(() => polyfit([1, 2], [1, 2], 4)).toThrow(/at least 5 points/);
  });

  it('fits TeaCache, First-Block Cache and MagCache to a target speedup on the runs they replay', () => {
    const runs = [0, 1, 2].map((i) => synthetic(i));
    const tea = fitTeaCache(runs, 30, 2.5);
    tea.spec.coefficients.forEach((c, i) => expect(c).toBeCloseTo([3, -2, 1.5, 0.4, 0.01][i]!, 6));
    for (const r of [tea, fitFirstBlockCache(runs, 30, 2.5), fitMagCache(runs, 30, 2.5)]) {
      expect(r.predictedSpeedup).toBeGreaterThan(2.2);
      expect(r.predictedSpeedup).toBeLessThan(2.8);
      // the prediction is the replay of the fitted spec
      expect(r.predictedComputedSteps).toEqual(runs.map((run) => replaySpec(r.spec as Parameters<typeof replaySpec>[0], run, 30).length));
    }
    // MagCache's ratios are the first run's, from step 2
    expect(fitMagCache(runs, 30, 2).spec.ratios).toEqual(runs[0]!.magnitude!.slice(1));
  });

  it('records every signal at every step of an uncached run', () => {
    const [run] = recordRuns(tinyModel(), { prompts: ['a white circle moving right quickly on desert'], seeds: [2], steps: 8 });
    for (const key of ['distance', 'motion', 'input', 'output', 'head', 'magnitude'] as const) {
      const v = run![key]!;
      expect(v.length).toBe(8);
      if (key !== 'motion') expect(v[0]).toBeNull();
      expect(v.slice(1).every((x) => typeof x === 'number' && Number.isFinite(x) && x > 0)).toBe(true);
    }
  });

  it('writes a spec from the command line that --cache accepts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ditcache-calibrate-'));
    try {
      const main = join(packageRoot(), 'dist', 'lib', 'cli', 'main.js');
      writeFileSync(join(dir, 'prompts.txt'), 'a red circle resting on night\na blue square moving down quickly on forest\n');
      const cal = spawnSync(process.execPath, [main, 'calibrate', '--policy', 'teacache', '--prompts', 'prompts.txt', '--target-speedup', '2', '--steps', '8'], { cwd: dir, encoding: 'utf8' });
      expect(cal.status, cal.stderr).toBe(0);
      const spec = JSON.parse(readFileSync(join(dir, 'teacache.json'), 'utf8')) as { kind: string; coefficients: number[] };
      expect(spec.kind).toBe('teacache');
      expect(spec.coefficients.length).toBe(5);
      const gen = spawnSync(process.execPath, [main, 'generate', '--prompt', 'a red circle resting on night', '--steps', '8', '--cache', 'teacache.json', '--out', 'v.gif', '--plot', 's.svg'], { cwd: dir, encoding: 'utf8' });
      expect(gen.status, gen.stderr).toBe(0);
      expect(gen.stderr + gen.stdout).toMatch(/steps computed \(teacache\)/);
      expect(readFileSync(join(dir, 's.svg'), 'utf8')).toMatch(/class="threshold"/);
      expect(spawnSync(process.execPath, [main, 'calibrate', '--policy', 'pab', '--prompts', 'prompts.txt', '--target-speedup', '2'], { cwd: dir, encoding: 'utf8' }).status).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
