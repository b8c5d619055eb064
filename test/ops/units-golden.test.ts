// The unit goldens of the "units" case (test/fixtures/golden/units.safetensors) that are single row
// ops: RMSNorm, LayerNorm, GELU-tanh and RoPE at position offsets, through the ops on every ISA,
// within the manifest's tolerance (atol 1e-5, rtol 1e-5).
import { afterAll, expect, it } from 'vitest';

import { ops } from '../../lib/index.js';
import { compare, goldenCase, openGolden } from '../helpers/golden.js';
import { describeEachIsa } from './isa-cases.js';

const units = goldenCase('units');
const golden = openGolden(units);
afterAll(() => golden.close());

const ropeCases = [...golden.entries.keys()]
  .filter((name) => name.startsWith('rope_') && name.endsWith('.x'))
  .map((name) => name.slice(0, -'.x'.length));

function expectGolden(actual: Float32Array, name: string): void {
  const { maxAbs, ok } = compare(actual, golden.float32(name), units.tolerance);
  expect(ok, `${name}: max |error| ${maxAbs}`).toBe(true);
}

describeEachIsa('unit goldens', () => {
  it('rmsnorm (eps 1e-6, weight)', () => {
    const out = ops.rmsNorm(golden.tensor('rmsnorm.x'), { eps: 1e-6, weight: golden.tensor('rmsnorm.weight') });
    expectGolden(out.toFloat32Array(), 'rmsnorm.out');
  });

  it('layernorm (eps 1e-6, no affine)', () => {
    expectGolden(ops.layerNorm(golden.tensor('layernorm.x'), { eps: 1e-6 }).toFloat32Array(), 'layernorm.out');
  });

  it('gelu, tanh approximation', () => {
    expectGolden(ops.activate(golden.tensor('gelu_tanh.x'), 'gelu-tanh').toFloat32Array(), 'gelu_tanh.out');
  });

  it('covers every rope case of the file', () => {
    expect(ropeCases.length).toBeGreaterThanOrEqual(4);
  });

  for (const name of ropeCases) {
    it(`${name}: positions offset..offset+T-1`, () => {
      const offset = Number(/_off(\d+)$/.exec(name)![1]);
      const out = ops.rope(golden.tensor(`${name}.x`), golden.tensor(`${name}.freqs`), { pos0: offset });
      expectGolden(out.toFloat32Array(), `${name}.out`);
    });
  }
});
