// Tensor: a JavaScript handle on native memory (host or CUDA device).
import { markAsUntransferable } from 'node:worker_threads';

import type { NativeArray, NativeTensor } from './native/binding.js';
import { binding } from './native/loader.js';
import { charge } from './ops/profile.js';
import { argumentError, dtypeError, rangeError, shapeError, unavailableError } from './util/errors.js';

export type DType = 'f32' | 'f16' | 'bf16' | 'i32' | 'i64' | 'u8';
export type Device = 'cpu' | 'cuda';

export const DTYPES: readonly DType[] = ['f32', 'f16', 'bf16', 'i32', 'i64', 'u8'];
const DTYPE_CODE: Record<DType, number> = { f32: 0, f16: 1, bf16: 2, i32: 3, i64: 4, u8: 5 };
const DEVICE_CODE: Record<Device, number> = { cpu: 0, cuda: 1 };

export function dtypeCode(d: DType): number {
  return DTYPE_CODE[d];
}

export function deviceCode(d: Device): number {
  return DEVICE_CODE[d];
}

export type TensorData =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Uint16Array
  | ArrayLike<number>;

export interface TensorOptions {
  /** Element type; inferred from the typed array when omitted (Uint16Array needs 'bf16' or 'f16'). */
  dtype?: DType;
  device?: Device;
  /**
   * Copy the data instead of sharing the typed array's memory (default false: zero-copy on the CPU
   * where possible). A shared ArrayBuffer is marked untransferable (worker_threads
   * markAsUntransferable): from then on postMessage and structuredClone with it in the transfer
   * list copy it (Node 20) or throw a DataCloneError (Node 22 and later), and never detach it.
   * A resizable ArrayBuffer is shared too: while it is shrunk below the data, the tensor refuses
   * every use.
   * A tensor sharing caller memory is for synchronous ops only: `ops.async.*` refuse it
   * (TypeError, DC_ERR_INVALID_ARGUMENT), since the caller could detach or shrink the ArrayBuffer
   * on the event loop while a worker thread reads it. Pass `copy: true` for tensors given to them.
   */
  copy?: boolean;
}

export class Tensor {
  /** The addon's handle; lib/ internals pass it to native ops. */
  readonly native: NativeTensor;
  // Fixed for the tensor's life: read once, not through the addon on every access.
  readonly #shape: readonly number[];
  readonly #dtype: DType;
  readonly #device: Device;
  readonly #packed: boolean;
  #disposed = false;

  /** @internal Use tensor(), empty() or zeros(); `known` saves asking the addon what the caller knows. */
  constructor(
    native: NativeTensor,
    known?: { shape: readonly number[]; dtype: DType; device: Device; packed?: boolean },
  ) {
    this.native = native;
    this.#shape = Object.freeze(known ? [...known.shape] : native.shape);
    this.#dtype = known ? known.dtype : DTYPES[native.dtype]!;
    this.#device = known ? known.device : native.device === 1 ? 'cuda' : 'cpu';
    this.#packed = known ? known.packed === true : native.packed;
  }

  get shape(): readonly number[] {
    return this.#shape;
  }
  get strides(): number[] {
    return this.live().strides;
  }
  get dtype(): DType {
    this.live();
    return this.#dtype;
  }
  get device(): Device {
    this.live();
    return this.#device;
  }
  /**
   * A GEMM weight packed once into the kernels' panel layout (ops.packWeight): only ops.gemm reads
   * it, as its weight; views, copies and reads are refused.
   */
  get packed(): boolean {
    return this.#packed;
  }
  get numel(): number {
    return this.#shape.reduce((a, b) => a * b, 1);
  }
  get disposed(): boolean {
    return this.#disposed;
  }

  /** The elements in row-major order as float32, copied to the host. */
  toFloat32Array(): Float32Array {
    return this.live().read();
  }

  /** Releases the native memory now (finalizers do it otherwise). Idempotent. */
  dispose(): void {
    this.#disposed = true;
    this.native.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** A view sharing this tensor's memory: `offset` elements in, with the given shape and strides. */
  view(shape: readonly number[], options: { offset?: number; strides?: readonly number[] } = {}): Tensor {
    checkShape(shape, 'shape');
    const native = this.live().view(options.offset ?? 0, [...shape], options.strides ? [...options.strides] : undefined);
    return new Tensor(native, { shape, dtype: this.#dtype, device: this.#device });
  }

  /** A view with another shape of the same number of elements (contiguous tensors only). */
  reshape(shape: readonly number[]): Tensor {
    checkShape(shape, 'shape');
    const n = shape.reduce((a, b) => a * b, 1);
    if (n !== this.numel) {
      throw shapeError(`reshape: cannot view [${this.shape}] (${this.numel} elements) as [${shape}] (${n})`);
    }
    if (!isContiguous(this.#shape, this.strides)) throw shapeError('reshape: tensor is not contiguous');
    return this.view(shape);
  }

  /** A copy on `device` with `dtype` (defaults: this tensor's). */
  to(device: Device, dtype: DType = this.dtype): Tensor {
    const out = empty(this.#shape, { device, dtype });
    out.copyFrom(this);
    return out;
  }

  /** Copies `src` (same shape; any dtype, device and strides) into this tensor. */
  copyFrom(src: Tensor): void {
    if (!(src instanceof Tensor)) throw argumentError('copyFrom: src must be a Tensor');
    if (src.shape.length !== this.#shape.length || src.shape.some((d, i) => d !== this.#shape[i])) {
      throw shapeError(`copyFrom: expected shape [${this.#shape}], got [${src.shape}]`);
    }
    charge('copy', () => binding().copy(this.live(), src.live()));
  }

  clone(): Tensor {
    return this.to(this.device, this.dtype);
  }

  /** Overwrites the elements from a typed array of the same length (row-major). */
  write(data: TensorData): void {
    const { array, dtype } = nativeArray(data, this.dtype === 'f16' || this.dtype === 'bf16' ? this.dtype : undefined);
    if (array.length !== this.numel) {
      throw shapeError(`write: expected ${this.numel} elements for [${this.shape}], got ${array.length}`);
    }
    this.live().write(array, DTYPE_CODE[dtype]);
  }

  /**
   * A handle that adoptTensor() turns back into a tensor in another thread of this process (once);
   * the storage stays alive until then. Tensors over caller memory cannot cross: clone them first.
   */
  exportHandle(): bigint {
    return this.live().exportHandle();
  }

  /**
   * A typed array over this tensor's own memory (contiguous host tensors; f16/bf16 as raw
   * Uint16Array). It keeps the memory alive after dispose(); writes through it are the tensor's.
   * A tensor over caller memory (tensor() without copy) has none of its own: TypeError.
   */
  hostView(): Float32Array | Uint16Array | Int32Array | BigInt64Array | Uint8Array {
    const buf = this.live().hostBuffer();
    switch (this.dtype) {
      case 'f32': return new Float32Array(buf);
      case 'f16': case 'bf16': return new Uint16Array(buf);
      case 'i32': return new Int32Array(buf);
      case 'i64': return new BigInt64Array(buf);
      case 'u8': return new Uint8Array(buf);
    }
  }

  /** Bytes of the storage behind this tensor (shared by its views). */
  get storageBytes(): number {
    return this.live().storageBytes;
  }

  toString(): string {
    return this.disposed ? 'Tensor(disposed)' : `Tensor(${this.dtype}, [${this.shape}], ${this.device})`;
  }

  /** @internal */
  live(): NativeTensor {
    if (this.#disposed) throw argumentError('tensor was disposed');
    return this.native;
  }
}

function isContiguous(shape: readonly number[], strides: readonly number[]): boolean {
  let expect = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] !== 1 && strides[i] !== expect) return false;
    expect *= shape[i]!;
  }
  return true;
}

export function checkShape(shape: unknown, name: string): asserts shape is readonly number[] {
  if (!Array.isArray(shape)) throw argumentError(`${name} must be an array of dimensions, got ${typeof shape}`);
  if (shape.length > 8) throw shapeError(`${name} has ${shape.length} dimensions; at most 8 are supported`);
  for (const [i, d] of shape.entries()) {
    if (typeof d !== 'number' || !Number.isInteger(d)) {
      throw argumentError(`${name}[${i}] must be an integer, got ${String(d)}`);
    }
    if (d < 0) throw shapeError(`${name}[${i}] must be >= 0, got ${d}`);
    if (d > 2 ** 40) throw rangeError(`${name}[${i}] = ${d} is too large`);
  }
}

function checkDtype(dtype: unknown): asserts dtype is DType {
  if (typeof dtype !== 'string' || !(DTYPES as readonly string[]).includes(dtype)) {
    throw dtypeError(`dtype must be one of ${DTYPES.join(', ')}, got ${String(dtype)}`);
  }
}

function checkDevice(device: unknown): asserts device is Device {
  if (device !== 'cpu' && device !== 'cuda') throw argumentError(`device must be 'cpu' or 'cuda', got ${String(device)}`);
  if (device === 'cuda') {
    const reason = binding().deviceAvailable(1);
    if (reason) throw unavailableError(`device 'cuda' is not available: ${reason}`);
  }
}

// The typed array the addon takes for `data`, converting number arrays and Float64Array to float32.
function nativeArray(data: TensorData, wanted?: DType): { array: NativeArray; dtype: DType } {
  if (data instanceof Float32Array) return { array: data, dtype: 'f32' };
  if (data instanceof Int32Array) return { array: data, dtype: 'i32' };
  if (data instanceof BigInt64Array) return { array: data, dtype: 'i64' };
  if (data instanceof Uint8Array) return { array: data, dtype: 'u8' };
  if (data instanceof Uint16Array) {
    if (wanted !== 'bf16' && wanted !== 'f16') {
      throw dtypeError("a Uint16Array holds raw 16-bit floats: pass dtype 'bf16' or 'f16'");
    }
    return { array: data, dtype: wanted };
  }
  if (data instanceof Float64Array || Array.isArray(data) || (typeof data === 'object' && data !== null && 'length' in data)) {
    return { array: Float32Array.from(data as ArrayLike<number>), dtype: 'f32' };
  }
  throw argumentError('data must be a typed array or an array of numbers');
}

/** Whether v is a Tensor (told by its native handle). */
export const isTensor = (v: unknown): v is Tensor => typeof v === 'object' && v !== null && 'native' in v;

/** A tensor over `data` (row-major) with `shape`. On the CPU it shares the typed array's memory unless `copy` is set. */
export function tensor(data: TensorData, shape: readonly number[], options: TensorOptions = {}): Tensor {
  checkShape(shape, 'shape');
  const device = options.device ?? 'cpu';
  checkDevice(device);
  if (options.dtype !== undefined) checkDtype(options.dtype);
  const { array, dtype: dataDtype } = nativeArray(data, options.dtype);
  const n = shape.reduce((a, b) => a * b, 1);
  if (array.length !== n) {
    throw shapeError(`data has ${array.length} elements but shape [${shape}] needs ${n}`);
  }
  const dtype = options.dtype ?? dataDtype;
  if (dtype !== dataDtype) {
    // Convert through a host tensor of the data's own dtype.
    const host = new Tensor(binding().fromTypedArray(array, DTYPE_CODE[dataDtype], [...shape], false));
    const out = host.to(device, dtype);
    host.dispose();
    return out;
  }
  const copy = options.copy === true || array !== data;
  // A shared buffer must not be detached under the tensor: postMessage and structuredClone then
  // copy it (Node 20) or refuse to transfer it (Node 22+). Whatever still detaches it
  // (ArrayBuffer.prototype.transfer where markAsUntransferable does not cover it), the binding
  // refuses the tensor afterwards.
  if (!copy && array.buffer instanceof ArrayBuffer) markAsUntransferable(array.buffer);
  const host = new Tensor(binding().fromTypedArray(array, DTYPE_CODE[dtype], [...shape], copy));
  if (device === 'cpu') return host;
  const out = host.to(device, dtype);
  host.dispose();
  return out;
}

export function empty(shape: readonly number[], options: { dtype?: DType; device?: Device } = {}): Tensor {
  checkShape(shape, 'shape');
  const dtype = options.dtype ?? 'f32';
  const device = options.device ?? 'cpu';
  checkDtype(dtype);
  checkDevice(device);
  return new Tensor(binding().empty(DTYPE_CODE[dtype], DEVICE_CODE[device], [...shape]), { shape, dtype, device });
}

export function zeros(shape: readonly number[], options: { dtype?: DType; device?: Device } = {}): Tensor {
  checkShape(shape, 'shape');
  const dtype = options.dtype ?? 'f32';
  const device = options.device ?? 'cpu';
  checkDtype(dtype);
  checkDevice(device);
  return new Tensor(binding().zeros(DTYPE_CODE[dtype], DEVICE_CODE[device], [...shape]));
}

/** Re-creates a tensor in this thread from a handle exported by another (see Tensor.exportHandle). */
export function adoptTensor(handle: bigint): Tensor {
  return new Tensor(binding().adoptHandle(handle));
}
