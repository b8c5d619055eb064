// Library-level information and settings.
import type { BackendInfo, MemoryStats } from './native/binding.js';
import { binding } from './native/loader.js';
import { deviceCode, type Device } from './tensor.js';

export type Isa = 'avx512' | 'avx2' | 'portable';

export const runtime = {
  version: (): string => binding().version(),
  /** Compiled-in backends and ISA paths, e.g. "cpu+cuda isa:portable,avx2,avx512". */
  buildInfo: (): string => binding().buildInfo(),
  backends: (): BackendInfo[] => binding().backends(),
  /** null when the device can run ops, else the reason it cannot. */
  deviceUnavailableReason: (device: Device): string | null => binding().deviceAvailable(deviceCode(device)),
  isa: (): { active: Isa; detected: Isa; bf16: boolean } => binding().isa() as { active: Isa; detected: Isa; bf16: boolean },
  /** Forces a kernel variant (also DITCACHE_ISA=avx512|avx2|portable at start-up). */
  setIsa: (isa: Isa): void => binding().setIsa(isa),
  threads: (): number => binding().threads(),
  setThreads: (n: number): void => binding().setThreads(n),
  memoryStats: (device: Device = 'cpu'): MemoryStats => binding().memoryStats(deviceCode(device)),
  memoryTrim: (device: Device = 'cpu'): void => binding().memoryTrim(deviceCode(device)),
  /**
   * Measured fp32 multiply-add roof in GFLOP/s of the active ISA: `threads` threads run
   * independent FMA chains for about `seconds` (blocking). Kernel efficiencies are quoted against it.
   */
  fmaPeak: (threads: number = binding().threads(), seconds = 0.5): number => binding().fmaPeak(threads, seconds),
};
