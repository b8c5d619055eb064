// Each op is written once as a `prepare` step that validates its arguments, allocates the output
// and returns the native call; defineOp derives the synchronous form and the Promise form (run on
// a libuv worker, so the event loop stays free) from it.

export interface Prepared<R> {
  run(async: boolean): unknown;
  done(value: unknown): R;
}

export interface OpPair<A extends unknown[], R> {
  sync: (...args: A) => R;
  async: (...args: A) => Promise<R>;
}

export function defineOp<A extends unknown[], R>(prepare: (...args: A) => Prepared<R>): OpPair<A, R> {
  return {
    sync: (...args: A): R => {
      const p = prepare(...args);
      return p.done(p.run(false));
    },
    async: async (...args: A): Promise<R> => {
      const p = prepare(...args);
      return p.done(await p.run(true));
    },
  };
}

/** The common case: the op writes into `out` and returns it. */
export function into<T>(out: T, run: (async: boolean) => unknown): Prepared<T> {
  return { run, done: () => out };
}
