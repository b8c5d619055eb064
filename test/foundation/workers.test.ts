// The addon in worker_threads: each worker loads its own instance, creates tensors and runs ops
// while the other worker and the main thread do the same, and a tensor crosses threads through
// an exported handle.
import { existsSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { describe, expect, it } from 'vitest';

import { adoptTensor, ops, tensor, zeros } from '../../lib/index.js';
import { addonCandidates, binding } from '../../lib/native/loader.js';
import { expectClose, uniform } from '../ops/isa-cases.js';

const M = 24;
const K = 40;
const N = 16;
const ROUNDS = 40;
const TOL = { atol: 1e-5, rtol: 1e-5 };

// A worker is plain JavaScript: it talks to the raw addon (lib/ is TypeScript). It runs the same
// gemm ROUNDS times, alternating the synchronous and the Promise form, and returns every result.
const WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const b = require(workerData.addon);
const { a, w, M, K, N, rounds, handle } = workerData;
(async () => {
  const ta = b.fromTypedArray(a, 0, [M, K], true);
  const tw = b.fromTypedArray(w, 0, [N, K], true);
  const results = [];
  for (let r = 0; r < rounds; r++) {
    const out = b.empty(0, 0, [M, N]);
    if (r % 2) await b.gemm(ta, tw, out, {}, true);
    else b.gemm(ta, tw, out, {}, false);
    results.push(out.read());
    out.dispose();
  }
  const adopted = handle === undefined ? null : b.adoptHandle(handle).read();
  parentPort.postMessage({ results, adopted });
})().catch((e) => parentPort.postMessage({ error: String(e && e.stack || e) }));
`;

interface WorkerReply {
  results?: Float32Array[];
  adopted?: Float32Array | null;
  error?: string;
}

function gemmRef(a: Float32Array, w: Float32Array): Float64Array {
  const out = new Float64Array(M * N);
  for (let m = 0; m < M; m++) {
    for (let n = 0; n < N; n++) {
      let acc = 0;
      for (let k = 0; k < K; k++) acc += a[m * K + k]! * w[n * K + k]!;
      out[m * N + n] = acc;
    }
  }
  return out;
}

/** The addon file this process loaded (the first candidate that exists, as the loader does). */
function addonPath(): string {
  binding();
  const path = addonCandidates().find((p) => existsSync(p));
  if (!path) throw new Error('no addon found');
  return path;
}

function runWorker(data: Record<string, unknown>): Promise<WorkerReply> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(WORKER, { eval: true, workerData: data });
    worker.once('message', (m: WorkerReply) => {
      void worker.terminate();
      resolve(m);
    });
    worker.once('error', reject);
  });
}

describe('worker threads', () => {
  it('two workers and the main thread run ops concurrently with correct results', async () => {
    const addon = addonPath();
    const inputs = [0, 1].map((i) => ({ a: uniform(M * K, 11 + i), w: uniform(N * K, 21 + i) }));
    const workers = inputs.map(({ a, w }) => runWorker({ addon, a, w, M, K, N, rounds: ROUNDS }));

    // Meanwhile, the main thread keeps the library busy with its own gemms.
    const a = tensor(uniform(M * K, 31), [M, K], { copy: true });
    const w = tensor(uniform(N * K, 41), [N, K], { copy: true });
    const mainWant = gemmRef(a.toFloat32Array(), w.toFloat32Array());
    for (let r = 0; r < ROUNDS; r++) {
      const out = r % 2 ? await ops.async.gemm(a, w) : ops.gemm(a, w);
      expectClose(out.toFloat32Array(), mainWant, TOL, `main round ${r}`);
      out.dispose();
    }

    const replies = await Promise.all(workers);
    replies.forEach((reply, i) => {
      expect(reply.error).toBeUndefined();
      expect(reply.results).toHaveLength(ROUNDS);
      const want = gemmRef(inputs[i]!.a, inputs[i]!.w);
      reply.results!.forEach((got, r) => expectClose(got, want, TOL, `worker ${i} round ${r}`));
    });
  });

  it('a tensor exported by one thread is adopted by another, once', async () => {
    const addon = addonPath();
    const t = tensor(new Float32Array([1, 2, 3, 4]), [2, 2], { copy: true });
    const handle = t.native.exportHandle();
    t.dispose(); // the export holds its own reference
    const reply = await runWorker({ addon, a: uniform(M * K, 1), w: uniform(N * K, 2), M, K, N, rounds: 0, handle });
    expect(reply.error).toBeUndefined();
    expect([...reply.adopted!]).toEqual([1, 2, 3, 4]);
    expect(() => adoptTensor(handle)).toThrow(/not an exported tensor, or was adopted already/);
  });

  it('refuses to export a tensor over caller memory', () => {
    const shared = tensor(new Float32Array(4), [4]);
    expect(() => shared.native.exportHandle()).toThrow(/caller memory cannot cross threads/);
    const own = adoptTensor(zeros([2]).native.exportHandle()); // pooled memory may cross
    expect(own.shape).toEqual([2]);
    own.dispose();
  });
});
