// Library-level information and settings.
import type { BackendInfo, MemoryStats } from './native/binding.js';
import { binding } from './native/loader.js';
import { deviceCode, type Device } from './tensor.js';

/** Kernel variants, widest last; each runs on CPUs that have the ones before it. */
export const ISAS = ['portable', 'avx2', 'avx512', 'avx512_bf16', 'amx'] as const;
export type Isa = (typeof ISAS)[number];

export interface IsaState {
  /** the variant in use */
  active: Isa;
  /** the variant chosen for this CPU (see `dispatch`) */
  detected: Isa;
  /** whether the variant in use multiplies bf16 natively (AVX512-BF16 or AMX) */
  bf16: boolean;
  /** how fp32 and bf16 work is dispatched on this CPU and why (measured rates, AMX refusal) */
  dispatch: string;
}

export const runtime = {
  version: (): string => binding().version(),
  /** Compiled-in backends and ISA paths, e.g. "cpu+cuda isa:portable,avx2,avx512". */
  buildInfo: (): string => binding().buildInfo(),
  backends: (): BackendInfo[] => binding().backends(),
  /** null when the device can run ops, else the reason it cannot. */
  deviceUnavailableReason: (device: Device): string | null => binding().deviceAvailable(deviceCode(device)),
  isa: (): IsaState => binding().isa() as IsaState,
  /** Forces a kernel variant the CPU supports (also DITCACHE_ISA=<name> at start-up). */
  setIsa: (isa: Isa): void => binding().setIsa(isa),
  threads: (): number => binding().threads(),
  setThreads: (n: number): void => binding().setThreads(n),
  memoryStats: (device: Device = 'cpu'): MemoryStats => binding().memoryStats(deviceCode(device)),
  memoryTrim: (device: Device = 'cpu'): void => binding().memoryTrim(deviceCode(device)),
};
