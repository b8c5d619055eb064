// ops.async.* run the same native kernels off the event loop: every op resolves with exactly what
// its synchronous form returns, and bad input rejects (never throws synchronously) with the same
// error class as the synchronous form.
import { describe, expect, it } from 'vitest';

import { ops, tensor, zeros, type Tensor } from '../../lib/index.js';
import { uniform } from '../ops/isa-cases.js';

// Copies: an async op refuses a tensor over caller memory (see the rejections below).
const t = (shape: number[], seed: number): Tensor => tensor(uniform(shape.reduce((a, b) => a * b, 1), seed), shape, { copy: true });

type SyncOps = Omit<typeof ops, 'async'>;

// One set of valid arguments per op (B = 2 rows groups, C = 8 features, head_dim 8).
const CASES: { [K in keyof SyncOps]: () => Parameters<SyncOps[K]> } = {
  gemm: () => [t([2, 3, 8], 1), t([5, 8], 2), { bias: t([5], 3), activation: 'gelu-tanh', gate: t([2, 5], 4) }],
  attention: () => [t([2, 2, 5, 8], 5), t([2, 2, 7, 8], 6), t([2, 2, 7, 8], 7), { causal: true }],
  layerNorm: () => [t([4, 8], 8), { weight: t([8], 9), bias: t([8], 10), shift: t([2, 8], 11), scale: t([2, 8], 12) }],
  rmsNorm: () => [t([4, 8], 13), { weight: t([8], 14) }],
  modulate: () => [t([4, 8], 15), t([2, 8], 16), t([2, 8], 17)],
  activate: () => [t([4, 8], 18), 'silu'],
  add: () => [t([4, 8], 19), t([4, 8], 20)],
  axpby: () => [0.5, t([4, 8], 21), -2, t([1, 8], 22)],
  mul: () => [t([4, 8], 23), t([2, 8], 24)],
  softmax: () => [t([4, 8], 25)],
  rope: () => [t([2, 3, 8], 26), t([4], 27), { pos0: 3 }],
  patchify: () => [t([1, 2, 3, 4, 4], 28), [1, 2, 2]],
  unpatchify: () => [t([1, 12, 8], 29), [1, 2, 2], [1, 2, 3, 4, 4]],
  residualDistance: () => [t([4, 8], 30), t([4, 8], 31), { norm: 'l2' }],
  motionScore: () => [t([1, 12, 8], 32), 4, [1, 2]],
};

/** What an op returned, as plain data: a tensor's elements, or the value itself. */
function plain(result: unknown): unknown {
  return result && typeof result === 'object' && 'toFloat32Array' in result
    ? [...(result as Tensor).toFloat32Array()]
    : result;
}

describe('ops.async', () => {
  it('has a case here for every op', () => {
    // packWeight prepares a GEMM weight once, at load: it has no async or timed form.
    const names = Object.keys(ops).filter((k) => k !== 'async' && k !== 'packWeight');
    expect(Object.keys(CASES).sort(), 'add the new op to CASES').toEqual(names.sort());
  });

  for (const name of Object.keys(CASES) as (keyof SyncOps)[]) {
    it(`${name} resolves with the synchronous result`, async () => {
      const args = CASES[name]();
      const call = (form: SyncOps): unknown => (form[name] as (...a: unknown[]) => unknown)(...args);
      const sync = plain(call(ops));
      const pending = call(ops.async as unknown as SyncOps);
      expect(pending).toBeInstanceOf(Promise);
      expect(plain(await pending)).toEqual(sync);
    });
  }

  it('runs many ops at once and resolves each with its own result', async () => {
    const x = Array.from({ length: 16 }, (_, i) => t([8, 64], 100 + i));
    const want = x.map((xi) => [...ops.softmax(xi).toFloat32Array()]);
    const got = await Promise.all(x.map((xi) => ops.async.softmax(xi)));
    got.forEach((g, i) => expect([...g.toFloat32Array()]).toEqual(want[i]));
  });

  it('keeps its inputs alive when they are disposed while the op runs', async () => {
    const a = t([16, 32], 40);
    const w = t([24, 32], 41);
    const want = [...ops.gemm(a, w).toFloat32Array()];
    const pending = ops.async.gemm(a, w);
    a.dispose();
    w.dispose();
    expect([...(await pending).toFloat32Array()]).toEqual(want);
  });
});

describe('ops.async rejections', () => {
  /** Expects the same error class and message from the sync form and the async rejection. */
  async function sameFailure(run: (form: SyncOps) => unknown, kind: typeof TypeError | typeof RangeError, message: RegExp) {
    expect(() => run(ops)).toThrow(kind);
    let pending: unknown;
    expect(() => {
      pending = run(ops.async as unknown as SyncOps);
    }).not.toThrow();
    const error = await (pending as Promise<unknown>).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(kind);
    expect((error as Error).message).toMatch(message);
    return error as Error & { code?: string };
  }

  it('rejects argument checks of the TypeScript layer', async () => {
    await sameFailure((o) => o.gemm(zeros([2, 3]), zeros([4, 5])), RangeError, /^w: expected shape \[4, 3\], got \[4, 5\]$/);
    await sameFailure((o) => o.activate(zeros([2]), 'relu' as never), TypeError, /activation must be/);
    const gone = zeros([2]);
    gone.dispose();
    await sameFailure((o) => o.softmax(gone), TypeError, /^x: tensor was disposed$/);
  });

  it('rejects native errors with the mapped class and code', async () => {
    const dtype = await sameFailure((o) => o.layerNorm(zeros([2, 4], { dtype: 'i32' })), TypeError, /^x: expected dtype f32 or bf16, got i32$/);
    expect(dtype.code).toBe('DC_ERR_DTYPE');
    const out = zeros([2, 6]).view([2, 3], { strides: [6, 2] });
    const shape = await sameFailure((o) => o.softmax(zeros([2, 3]), { out }), RangeError, /last dimension must have stride 1/);
    expect(shape.code).toBe('DC_ERR_SHAPE');
  });

  it('rejects a tensor over caller memory, whose ArrayBuffer the caller can detach while the op runs', async () => {
    const data = uniform(4 * 8, 50);
    const shared = tensor(data, [4, 8]);
    const error = await ops.async.softmax(shared).then(() => undefined, (e: unknown) => e as Error & { code?: string });
    expect(error).toBeInstanceOf(TypeError);
    expect(error!.code).toBe('DC_ERR_INVALID_ARGUMENT');
    expect(error!.message).toMatch(/^x: a tensor over caller memory .* \{ copy: true \} or clone\(\) it$/);
    // as an output too, and through a view; the synchronous form and a copy are unaffected
    await expect(ops.async.softmax(t([4, 8], 51), { out: shared })).rejects.toThrow(/^out: a tensor over caller memory/);
    await expect(ops.async.softmax(shared.view([2, 8]))).rejects.toThrow(/caller memory/);
    expect([...(await ops.async.softmax(shared.clone())).toFloat32Array()]).toEqual([...ops.softmax(shared).toFloat32Array()]);
  });
});
