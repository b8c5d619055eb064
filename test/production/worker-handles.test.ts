// Native memory that crosses to the worker of generate() as exported handles comes back whatever
// happens to the worker: a worker that dies before adopting the job's handles (its script fails
// to load here: the host is pointed at one that throws at once) leaves them to the caller, which
// gives them back; a result that was sent but never taken (the caller stopped iterating after the
// last step) is given back when the generation is closed. Measured by the host pool's bytes in
// use, which return exactly to their value before the job (the job's tensor options are copies of
// their own; the weights' exports hold storage the model holds as well, which bytes in use do not
// show).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it, vi } from 'vitest';

import { generate, generateSteps } from '../../lib/generate.js';
import { loadModel } from '../../lib/models/stdit3/model.js';
import { runtime } from '../../lib/runtime.js';
import { zeros } from '../../lib/tensor.js';
import { TINY_MODEL } from '../helpers/golden.js';

// The package root the host finds the worker script under: the real one unless a test names another.
const root = vi.hoisted(() => ({ override: undefined as string | undefined }));
vi.mock('../../lib/native/loader.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../lib/native/loader.js')>();
  return { ...real, packageRoot: () => root.override ?? real.packageRoot() };
});

const broken = mkdtempSync(join(tmpdir(), 'ditcache-worker-'));
mkdirSync(join(broken, 'dist', 'lib', 'worker'), { recursive: true });
writeFileSync(join(broken, 'dist', 'lib', 'worker', 'worker.js'), "throw new Error('the worker script failed to load');\n");
afterAll(() => rmSync(broken, { recursive: true, force: true }));

const model = loadModel(TINY_MODEL);
afterAll(() => model.dispose());
const A = { prompt: 'a red circle moving right quickly on night', seed: 1, steps: 4 };
const inUse = () => runtime.memoryStats().bytesInUse;

describe('handles exported to the worker of a generation', () => {
  it('are given back by the caller when the worker dies before adopting them', async () => {
    const noise = zeros([1, 4, 2, 8, 8]); // exported as a copy, like every tensor option
    const before = inUse();
    root.override = broken;
    try {
      await expect(generate(model, { ...A, noise })).rejects.toThrow('the worker script failed to load');
    } finally {
      root.override = undefined;
    }
    expect(inUse()).toBe(before);
    noise.dispose();
  });

  it('give back a result the caller never took', async () => {
    const before = inUse();
    const it = generateSteps(model, A);
    let r = await it.next();
    while (!r.done && r.value.step < A.steps) r = await it.next();
    expect(r.done).toBe(false);
    // The worker sends the result right after the last step, well within this wait.
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await it.return(undefined as never);
    expect(inUse()).toBe(before);
  });
});
