// The package's public surface: what the main entry and ditcache/bench export, and the bundled
// models by name.
import { existsSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import * as bench from '../../lib/bench.js';
import * as ditcache from '../../lib/index.js';

describe('the public surface', () => {
  it('keeps benchmark support under ditcache/bench', () => {
    expect('timed' in ditcache.ops).toBe(false);
    expect('fmaPeak' in ditcache.runtime).toBe(false);
    expect(Object.keys(bench.timed).sort()).toEqual(Object.keys(ditcache.ops).filter((k) => k !== 'async' && k !== 'packWeight').sort());
    const x = ditcache.tensor(new Float32Array([1, 2, 3]), [1, 3]);
    const runs = bench.timed.softmax(4, x);
    expect(runs).toHaveLength(4);
    expect([...runs].every((s) => s >= 0)).toBe(true);
    x.dispose();
  });

  it('exports the step iterators under one naming: generateSteps / extendSteps, and their Sync forms', () => {
    for (const name of ['generate', 'generateSync', 'generateSteps', 'generateStepsSync', 'extend', 'extendSync', 'extendSteps', 'extendStepsSync']) {
      expect(typeof (ditcache as Record<string, unknown>)[name], name).toBe('function');
    }
    expect('generationSteps' in ditcache).toBe(false);
    expect('extensionSteps' in ditcache).toBe(false);
  });

  it('names the bundled models and finds their folders', () => {
    for (const name of ditcache.BUNDLED_MODELS) {
      const dir = ditcache.bundledModel(name);
      expect(existsSync(join(dir, 'config.json')), name).toBe(true);
      expect(existsSync(join(dir, 'model.safetensors')), name).toBe(true);
    }
    const model = ditcache.loadModel(ditcache.bundledModel('stdit3-tiny'));
    expect(model.config.depth).toBe(4);
    model.dispose();
    expect(() => ditcache.bundledModel('stdit3-huge' as never)).toThrow(/unknown bundled model "stdit3-huge"; bundled: stdit3-tiny, stdit3-tiny-causal, causal-stdit2-tiny/);
  });
});
