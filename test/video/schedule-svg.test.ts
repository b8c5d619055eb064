import { describe, expect, it } from 'vitest';

import { scheduleSvg, type ScheduleTrace } from '../../lib/video/index.js';

const trace: ScheduleTrace = {
  steps: 30,
  computedSteps: [1, 2, 3, 5, 6, 12, 18, 24, 29, 30],
  evaluations: [
    { step: 2, distance: 0.81, distanceReg: 0.81, rate: 1 },
    { step: 3, distance: 0.34, distanceReg: 0.34, rate: 2 },
    { step: 5, distance: 0.23, distanceReg: 1.17, rate: 1 },
    { step: 6, distance: 0.15, distanceReg: 2e-4, rate: 6 },
    { step: 12, distance: 0.07, distanceReg: 1e-4, rate: 6 },
    { step: 18, distance: 0.05, distanceReg: NaN, rate: 6 },
    { step: 24, distance: 0.06, distanceReg: 5e-4, rate: 6 },
    { step: 29, distance: 0.08, distanceReg: 0.21, rate: 4 },
    { step: 30, distance: 0.05, distanceReg: 0.05, rate: 6 },
  ],
  title: 'run <a> & "b"',
};

const count = (svg: string, pattern: RegExp) => svg.match(pattern)?.length ?? 0;

// Every element opened is closed, in order: a cheap well-formedness check without an XML parser.
function expectBalancedTags(svg: string): void {
  const stack: string[] = [];
  for (const [tag, close, name, selfClosing] of svg.matchAll(/<(\/?)([a-zA-Z]+)[^>]*?(\/?)>/g)) {
    if (selfClosing) continue;
    if (close) expect(stack.pop(), tag).toBe(name);
    else stack.push(name!);
  }
  expect(stack).toEqual([]);
}

describe('scheduleSvg', () => {
  it('draws a self-contained, well-formed SVG with axes, legend, lines and the computed-step strip', () => {
    const svg = scheduleSvg(trace);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expectBalancedTags(svg);
    expect(svg).not.toMatch(/href=|<image|<script|@import|url\(/);
    expect(svg).toContain('run &#60;a&#62; &#38; &#34;b&#34;');
    expect(svg).toContain('10 of 30 steps computed, 20 served from the cache (67%)');
    for (const label of ['distance', 'regularised distance', 'cache rate', 'computed step', 'cached step', 'denoising step']) expect(svg).toContain(`>${label}<`);
    // One strip cell per step, dark exactly on the computed steps.
    expect(count(svg, /<rect class="computed" [^>]*fill="#334155"><title>step \d+: computed/g)).toBe(10);
    expect(count(svg, /<rect class="cached" [^>]*><title>step \d+: cached<\/title>/g)).toBe(20);
    // A dot per finite value: 9 distances, 8 regularised distances (the NaN one is skipped, splitting that line).
    expect(count(svg, /<circle class="distance" [^>]*fill="#2563eb"><title>/g)).toBe(9);
    expect(count(svg, /<circle class="distance-reg" [^>]*fill="#ea580c"><title>/g)).toBe(8);
    expect(count(svg, /<polyline class="distance-reg" [^>]*stroke-dasharray/g)).toBe(2);
    expect(svg).toContain('<title>step 12: regularised distance 1.00e-4, rate 6</title>');
  });

  it('places values on the axes: distance left, rate right, steps along the strip', () => {
    const svg = scheduleSvg({ steps: 10, computedSteps: [1, 10], evaluations: [{ step: 4, distance: 1, rate: 3 }] });
    // Plot spans x 72..688 and y 96..328; 10 steps => 61.6 px per step, step 4 centred at 72 + 3.5 * 61.6.
    const dot = /<circle class="distance" cx="([\d.]+)" cy="([\d.]+)"/.exec(svg)!;
    expect(Number(dot[1])).toBeCloseTo(72 + 3.5 * 61.6, 1);
    // Distance ticks run 0..1.5 (1 plus 5% headroom, rounded up to a tick of 0.5).
    expect(Number(dot[2])).toBeCloseTo(328 - (1 / 1.5) * 232, 0);
    expect(svg).toMatch(/>1\.5<\/text>/);
    // Rate 3 with one step of headroom: ticks to 4, the rate line at 3/4 of the height.
    const rate = /<polyline class="rate" points="([\d.]+),([\d.]+) /.exec(svg)!;
    expect(Number(rate[2])).toBeCloseTo(328 - 0.75 * 232, 1);
    expect(count(svg, /<circle class=/g)).toBe(1);
    expect(svg).not.toContain('regularised distance');
  });

  it('takes the rate of the last evaluation within a step and spreads the step’s points', () => {
    const svg = scheduleSvg({
      steps: 4,
      computedSteps: [1, 2, 3, 4],
      evaluations: [
        { step: 2, distance: 0.2, rate: 1 },
        { step: 2, distance: 0.4, rate: 2 },
      ],
    });
    const xs = [...svg.matchAll(/<circle class="distance" cx="([\d.]+)"/g)].map((m) => Number(m[1]));
    expect(xs[0]).toBeLessThan(xs[1]!);
    const rateLine = /<polyline class="rate" points="([^"]+)"/.exec(svg)![1]!.split(' ');
    expect(rateLine.length).toBe(2);
  });

  it('draws a strip per row when rows decide apart, the work per step, the threshold and a line per group', () => {
    const svg = scheduleSvg({
      steps: 4,
      computedSteps: [1, 2, 4],
      evaluations: [
        { step: 2, distance: 0.1, distanceReg: 0.1, threshold: 0.2, group: 'cond 0' },
        { step: 2, distance: 0.3, distanceReg: 0.3, threshold: 0.2, group: 'uncond 0' },
        { step: 3, distance: 0.05, distanceReg: 0.15, threshold: 0.2, group: 'cond 0' },
        { step: 3, distance: 0.02, distanceReg: 0.32, threshold: 0.2, group: 'uncond 0' },
      ],
      rows: [
        { label: 'cond 0', states: ['computed', 'cached', 'cached', 'computed'] },
        { label: 'uncond 0', states: ['computed', 'computed', 'predicted', 'computed'] },
      ],
      work: [1, 0.5, 0.25, 1],
      labels: { distance: 'modulated input change', distanceReg: 'accumulated rescaled change' },
    });
    expectBalancedTags(svg);
    expect(count(svg, /<rect class="(computed|cached|predicted)" /g)).toBe(8);
    expect(svg).toContain('<title>uncond 0, step 3: predicted</title>');
    expect(count(svg, /<rect class="work" /g)).toBe(4);
    expect(svg).toContain('<title>step 3: 25% of the block work</title>');
    expect(count(svg, /<line class="threshold" /g)).toBe(1);
    expect(count(svg, /<polyline class="distance" /g)).toBe(2); // one line per group
    for (const label of ['modulated input change', 'accumulated rescaled change', 'threshold', 'predicted (CFG-Cache)']) expect(svg).toContain(`>${label}<`);
    expect(svg).not.toContain('>cache rate<');
    expect(() => scheduleSvg({ steps: 2, computedSteps: [], evaluations: [], rows: [{ label: 'x', states: ['computed'] }] })).toThrow(/one state per step/);
    expect(() => scheduleSvg({ steps: 2, computedSteps: [], evaluations: [], work: [1] })).toThrow(/one finite share per step/);
  });

  it('draws an empty schedule and rejects inconsistent traces', () => {
    expectBalancedTags(scheduleSvg({ steps: 1, computedSteps: [], evaluations: [] }));
    expect(() => scheduleSvg({ ...trace, steps: 0 })).toThrow(/steps must be a positive integer/);
    expect(() => scheduleSvg({ ...trace, computedSteps: [31] })).toThrow(/computed step 31 is outside 1..30/);
    expect(() => scheduleSvg({ ...trace, evaluations: [{ step: 0, distance: 1, rate: 1 }] })).toThrow(/evaluations\[0\].step 0 is outside/);
    expect(() => scheduleSvg({ ...trace, evaluations: [{ step: 3, distance: 1, rate: NaN }] })).toThrow(/rate must be a finite number/);
    expect(() => scheduleSvg({ ...trace, evaluations: [{ step: 3, distance: 1, rate: 1 }, { step: 2, distance: 1, rate: 1 }] })).toThrow(/in step order/);
  });
});
