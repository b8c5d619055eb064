// Optional accounting of the time spent inside native ops, by op name, for the end-to-end
// benchmark's breakdown (GEMM, attention, the rest) and its "outside native code" share.

export interface OpTime {
  calls: number;
  ms: number;
}

let active: Map<string, OpTime> | null = null;

export function startProfile(): void {
  active = new Map();
}

export function stopProfile(): Map<string, OpTime> {
  const r = active ?? new Map<string, OpTime>();
  active = null;
  return r;
}

/** Runs `fn`, charging its wall time to `name` while a profile is active. */
export function charge<T>(name: string, fn: () => T): T {
  if (!active) return fn();
  const t0 = performance.now();
  try {
    return fn();
  } finally {
    const e = active.get(name) ?? { calls: 0, ms: 0 };
    e.calls++;
    e.ms += performance.now() - t0;
    active.set(name, e);
  }
}
