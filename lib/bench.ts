// ditcache/bench: what benchmarks need beside the library's surface: each op timed inside native
// code, and the machine's measured multiply-add roof that kernel efficiencies are quoted against.
import { binding } from './native/loader.js';
import { timedOps } from './ops/index.js';

/** timed.x(repeat, ...args): seconds of each of `repeat` back-to-back runs of op x, timed natively. */
export const timed = timedOps;

/**
 * Measured fp32 multiply-add roof in GFLOP/s of the active ISA: `threads` threads run independent
 * FMA chains for about `seconds` (blocking the calling thread).
 */
export function fmaPeak(threads: number = binding().threads(), seconds = 0.5): number {
  return binding().fmaPeak(threads, seconds);
}
