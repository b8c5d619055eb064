// Tensor churn must not grow the process: disposed storage goes back to the native pool and is
// handed out again, so 100 000 create/dispose cycles need no new system allocations.
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { describe, expect, it } from 'vitest';

import { ops, runtime, tensor, zeros, type Tensor } from '../../lib/index.js';

const COUNT = 100_000;
const MiB = 1024 * 1024;
// RSS is read after full garbage collections with event-loop turns between them (Node-API runs
// the wrappers' finalizers in a later turn), so what remains is retained memory. Churn yields to
// the event loop every CHUNK tensors, as a program does, which bounds the finalizer backlog.
// Leaking only the native handles of 100 000 tensors (~200 bytes each) would exceed the
// tolerance; leaking their 4 KiB storage would exceed it 25 times over.
const RSS_TOLERANCE = 16 * MiB;
// Under AddressSanitizer (npm run test:sanitize) freed memory is held in ASan's quarantine, so
// RSS says nothing about the pool there; the pool's own statistics are still checked.
const checkRss = process.env['DITCACHE_SANITIZED'] !== '1';
const CHUNK = 10_000;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

async function settledRss(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await turn();
  }
  return process.memoryUsage().rss;
}

async function churn(n: number, make: () => { dispose(): void }): Promise<void> {
  for (let done = 0; done < n; done += CHUNK) {
    for (let i = 0; i < Math.min(CHUNK, n - done); i++) make().dispose();
    await turn();
  }
}

describe('memory', () => {
  it('creates and disposes 100 000 tensors with flat RSS and full pool reuse', async () => {
    const make = () => zeros([32, 32]); // 4 KiB each
    // Warm-up of the same length: RSS settles only after JIT, V8 heap pages and malloc arenas
    // have seen a full run.
    await churn(COUNT, make);
    const before = runtime.memoryStats();
    const rss0 = await settledRss();
    await churn(COUNT, make);
    const rss1 = await settledRss();
    const after = runtime.memoryStats();

    if (checkRss) expect(rss1 - rss0, `RSS grew by ${((rss1 - rss0) / MiB).toFixed(1)} MiB`).toBeLessThan(RSS_TOLERANCE);
    expect(after.bytesInUse).toBe(before.bytesInUse);
    expect(after.allocations - before.allocations).toBe(COUNT);
    expect(after.cacheHits - before.cacheHits).toBe(COUNT);
    expect(after.systemAllocations - before.systemAllocations).toBe(0);
  });

  it('returns the storage of tensors dropped without dispose once they are collected', async () => {
    const before = runtime.memoryStats().bytesInUse;
    let kept: Tensor[] = [];
    for (let i = 0; i < 1_000; i++) kept.push(zeros([32, 32]));
    expect(runtime.memoryStats().bytesInUse - before).toBe(1_000 * 4096);
    kept = [];
    await settledRss();
    expect(runtime.memoryStats().bytesInUse).toBe(before);
  });

  it('reuses the pool across mixed sizes, views, wrapped arrays and op outputs', async () => {
    const sizes = [[16, 64], [256, 256], [3, 1000], [1, 1024]];
    const data = new Float32Array(16 * 64).fill(0.5);
    const cycle = (i: number): void => {
      using t = zeros(sizes[i % sizes.length]!);
      using v = t.view([t.numel]);
      using wrapped = tensor(data, [16, 64]); // caller memory: never from the pool
      using out = ops.softmax(wrapped);
      expect(v.numel).toBe(t.numel);
      expect(out.shape).toEqual([16, 64]);
    };
    const cycles = async (n: number): Promise<void> => {
      for (let i = 0; i < n; i++) {
        cycle(i);
        if (i % 1_000 === 999) await turn();
      }
    };
    await cycles(1_000);
    const before = runtime.memoryStats();
    const rss0 = await settledRss();
    await cycles(5_000);
    const rss1 = await settledRss();
    const after = runtime.memoryStats();

    if (checkRss) expect(rss1 - rss0, `RSS grew by ${((rss1 - rss0) / MiB).toFixed(1)} MiB`).toBeLessThan(RSS_TOLERANCE);
    expect(after.bytesInUse).toBe(before.bytesInUse);
    // One pooled block for t and one for the softmax output per cycle, all served from the cache.
    expect(after.allocations - before.allocations).toBe(2 * 5_000);
    expect(after.cacheHits - before.cacheHits).toBe(2 * 5_000);
    expect(after.systemAllocations).toBe(before.systemAllocations);
  });

  it('returns cached blocks to the system on trim', () => {
    zeros([512, 512]).dispose();
    expect(runtime.memoryStats().bytesCached).toBeGreaterThanOrEqual(512 * 512 * 4);
    runtime.memoryTrim();
    expect(runtime.memoryStats().bytesCached).toBe(0);
  });
});
