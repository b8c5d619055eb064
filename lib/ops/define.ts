// Each op is written once as a `prepare` step that validates its arguments, allocates the output
// and returns the native call; defineOp derives from it the synchronous form, the Promise form
// (run on a libuv worker, so the event loop stays free) and a timed form for benchmarks.
import type { RunMode } from '../native/binding.js';
import { charge } from './profile.js';

export interface Prepared<R> {
  run(mode: RunMode): unknown;
  done(value: unknown): R;
}

export interface OpForms<A extends unknown[], R> {
  sync: (...args: A) => R;
  async: (...args: A) => Promise<R>;
  /** Runs the op `repeat` times back to back; returns each run's seconds, timed in native code. */
  timed: (repeat: number, ...args: A) => Float64Array;
}

export function defineOp<A extends unknown[], R>(name: string, prepare: (...args: A) => Prepared<R>): OpForms<A, R> {
  return {
    sync: (...args: A): R => {
      const p = prepare(...args);
      return p.done(charge(name, () => p.run(false)));
    },
    async: async (...args: A): Promise<R> => {
      const p = prepare(...args);
      return p.done(await p.run(true));
    },
    timed: (repeat: number, ...args: A): Float64Array => prepare(...args).run({ repeat }) as Float64Array,
  };
}

/** The common case: the op writes into `out` and returns it. */
export function into<T>(out: T, run: (mode: RunMode) => unknown): Prepared<T> {
  return { run, done: () => out };
}
