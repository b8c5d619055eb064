// The native surface of the addon, as types. Only lib/ talks to it; users see Tensor and ops.

export interface NativeTensor {
  readonly shape: number[];
  readonly strides: number[];
  readonly dtype: number;
  readonly device: number;
  /** A GEMM weight packed by packWeight (only gemm reads it). */
  readonly packed: boolean;
  readonly disposed: boolean;
  readonly storageBytes: number;
  dispose(): void;
  view(offset: number, shape: number[], strides?: number[]): NativeTensor;
  read(): Float32Array;
  write(data: NativeArray, dtype?: number): void;
  exportHandle(): bigint;
  hostBuffer(): ArrayBuffer;
}

export type NativeArray = Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array;

export interface NativeGemmOptions {
  bias?: NativeTensor;
  activation?: number;
  gate?: NativeTensor;
  residual?: NativeTensor;
}

export interface NativeAttentionOptions {
  scale?: number;
  causal?: boolean;
  keyMask?: NativeTensor;
  prefixK?: NativeTensor;
  prefixV?: NativeTensor;
  prefixStart?: number;
  prefixLen?: number;
  ropeFreqs?: NativeTensor;
  qPos0?: number;
  kPos0?: number;
}

export interface NativeNormOptions {
  eps?: number;
  weight?: NativeTensor;
  bias?: NativeTensor;
  shift?: NativeTensor;
  scale?: NativeTensor;
}

export interface NativeKvRing {
  append(k: NativeTensor, v: NativeTensor): void;
  clear(): void;
  state(): { capacity: number; length: number; start: number; evicted: number; bytes: number };
  tensors(): [NativeTensor, NativeTensor];
  dispose(): void;
}

export interface BackendInfo {
  device: 'cpu' | 'cuda';
  index: number;
  name: string;
  memoryBytes: number;
  computeCapability: number;
}

export interface MemoryStats {
  bytesInUse: number;
  bytesCached: number;
  peakBytesInUse: number;
  allocations: number;
  cacheHits: number;
  systemAllocations: number;
}

/** An op's last argument: run now, as a Promise, or n times timed inside native code. */
export type RunMode = boolean | undefined | { repeat: number };

// Ops return their result synchronously, a Promise of it when the mode is true, or the seconds of
// each of `repeat` runs (timed inside native code) for benchmarks.
type Op<Args extends unknown[], R = void> = {
  (...args: [...Args, false?]): R;
  (...args: [...Args, true]): Promise<R>;
  (...args: [...Args, { repeat: number }]): Float64Array;
};

export interface Distance {
  num: number;
  den: number;
}

export interface NativeBinding {
  NativeTensor: new (...args: never[]) => NativeTensor;
  NativeKvRing: new (
    dtype: number,
    device: number,
    batch: number,
    heads: number,
    capacity: number,
    headDim: number,
  ) => NativeKvRing;
  empty(dtype: number, device: number, shape: number[]): NativeTensor;
  zeros(dtype: number, device: number, shape: number[]): NativeTensor;
  fromTypedArray(data: NativeArray, dtype: number, shape: number[], copy: boolean): NativeTensor;
  adoptHandle(handle: bigint): NativeTensor;

  gemm: Op<[NativeTensor, NativeTensor, NativeTensor, NativeGemmOptions]>;
  packWeight(w: NativeTensor, dtype: number): NativeTensor;
  attention: Op<[NativeTensor, NativeTensor, NativeTensor, NativeTensor, NativeAttentionOptions]>;
  layernorm: Op<[NativeTensor, NativeTensor, NativeNormOptions]>;
  rmsnorm: Op<[NativeTensor, NativeTensor, NativeNormOptions]>;
  modulate: Op<[NativeTensor, NativeTensor, NativeTensor, NativeTensor]>;
  activate: Op<[NativeTensor, number, NativeTensor]>;
  axpby: Op<[number, NativeTensor, number, NativeTensor, NativeTensor]>;
  mul: Op<[NativeTensor, NativeTensor, NativeTensor]>;
  softmax: Op<[NativeTensor, NativeTensor]>;
  rope: Op<[NativeTensor, NativeTensor, number, NativeTensor]>;
  patchify: Op<[NativeTensor, [number, number, number], NativeTensor]>;
  unpatchify: Op<[NativeTensor, [number, number, number], NativeTensor]>;
  residualDistance: Op<[NativeTensor, NativeTensor, number, boolean], Distance>;
  motionScore: Op<[NativeTensor, number, number[]], { num: number[]; den: number[] }>;
  copy: Op<[NativeTensor, NativeTensor]>;
  fill: Op<[NativeTensor, number]>;

  version(): string;
  buildInfo(): string;
  backends(): BackendInfo[];
  deviceAvailable(device: number): string | null;
  isa(): { active: string; detected: string; bf16: boolean; dispatch: string };
  setIsa(isa: string): void;
  threads(): number;
  setThreads(n: number): void;
  memoryStats(device?: number): MemoryStats;
  memoryTrim(device?: number): void;
  synchronize(device?: number): void;
  /** Measured multiply-add throughput (GFLOP/s) of the active ISA on `threads` threads. */
  fmaPeak(threads: number, seconds: number): number;
}
