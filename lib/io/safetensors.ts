// Reading and writing safetensors files. Reads are positioned reads from a file descriptor straight
// into the typed array that is returned (or becomes the tensor), so a large checkpoint is never held
// twice; conversions between dtypes go through a bounded scratch buffer.
import { closeSync, fstatSync, openSync, readSync, renameSync, rmSync, writeSync } from 'node:fs';
import { endianness } from 'node:os';

import { empty, tensor, type Device, type Tensor } from '../tensor.js';
import { bf16ToFloat32, float32ToBf16, halfToFloat32 } from './float16.js';
import {
  DTYPE_ARRAY,
  METADATA_KEY,
  SafetensorsError,
  ST_DTYPES,
  describe,
  encodeHeader,
  formatShape,
  headerLength,
  isStDtype,
  metadataProblem,
  numelOf,
  parseHeader,
  shapeProblem,
  type StArray,
  type StDtype,
  type StEntry,
} from './safetensors-format.js';

export { SafetensorsError, ST_DTYPES, type StArray, type StDtype, type StEntry } from './safetensors-format.js';

/** Bytes of stored data converted per step when a dtype conversion is needed. */
const CONVERT_CHUNK_BYTES = 1 << 20;
/** Largest single read or write request (Node caps one call near 2 GiB). */
const IO_CHUNK_BYTES = 1 << 30;

export interface ReadTensorOptions {
  /** Element type of the tensor (default 'f32'); any stored dtype converts to it. */
  dtype?: 'f32' | 'bf16';
  device?: Device;
}

export class SafetensorsReader {
  readonly path: string;
  readonly entries: ReadonlyMap<string, StEntry>;
  readonly metadata: Record<string, string>;
  #fd: number | undefined;

  private constructor(path: string, fd: number, entries: Map<string, StEntry>, metadata: Record<string, string>) {
    this.path = path;
    this.#fd = fd;
    this.entries = entries;
    this.metadata = metadata;
  }

  /** Opens `path` and validates its whole header; tensor data is read on demand. */
  static open(path: string): SafetensorsReader {
    if (endianness() !== 'LE') throw new SafetensorsError(path, 'reading safetensors needs a little-endian host');
    let fd: number;
    try {
      fd = openSync(path, 'r');
    } catch (cause) {
      throw new SafetensorsError(path, `cannot open: ${(cause as Error).message}`, undefined, { cause });
    }
    try {
      const stat = fstatSync(fd);
      if (!stat.isFile()) throw new SafetensorsError(path, 'not a regular file');
      const prefix = new Uint8Array(8);
      if (stat.size >= 8) readFully(fd, prefix, 0, path);
      const n = headerLength(prefix, stat.size, path);
      const json = new Uint8Array(n);
      readFully(fd, json, 8, path);
      const { entries, metadata } = parseHeader(json, 8 + n, stat.size, path);
      return new SafetensorsReader(path, fd, entries, metadata);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** The entry for `name`, or a SafetensorsError naming it. */
  entry(name: string): StEntry {
    const e = this.entries.get(name);
    if (!e) throw new SafetensorsError(this.path, `no such tensor (the file holds ${this.entries.size})`, name);
    return e;
  }

  /** The stored elements, in the typed array of the stored dtype (F16/BF16 as raw bits in a Uint16Array). */
  raw(name: string): StArray {
    const e = this.entry(name);
    const out = new DTYPE_ARRAY[e.dtype](numelOf(e.shape));
    readFully(this.openFd(), bytesOf(out), e.start, this.path, name);
    return out;
  }

  /** The elements converted to float32 (integers and booleans by value), into `into` when given. */
  float32(name: string, into?: Float32Array): Float32Array {
    const e = this.entry(name);
    const out = this.#destination(e, into, Float32Array);
    if (e.dtype === 'F32') {
      readFully(this.openFd(), bytesOf(out), e.start, this.path, name);
      return out;
    }
    this.#convertChunks(e, (chunk, offset) => out.set(chunk, offset));
    return out;
  }

  /** The elements as bfloat16 bit patterns, rounded to nearest even from wider types. */
  bf16(name: string, into?: Uint16Array): Uint16Array {
    const e = this.entry(name);
    const out = this.#destination(e, into, Uint16Array);
    if (e.dtype === 'BF16') {
      readFully(this.openFd(), bytesOf(out), e.start, this.path, name);
      return out;
    }
    this.#convertChunks(e, (chunk, offset) => float32ToBf16(chunk, out, offset));
    return out;
  }

  /**
   * A tensor of float32 (default) or bfloat16 elements with the stored shape, owning its memory:
   * on the CPU the file is read straight into it (one copy of the data, never two).
   */
  tensor(name: string, options: ReadTensorOptions = {}): Tensor {
    const dtype = options.dtype ?? 'f32';
    if (dtype !== 'f32' && dtype !== 'bf16') {
      throw new SafetensorsError(this.path, `tensor dtype must be 'f32' or 'bf16', got ${describe(dtype)}`, name);
    }
    const e = this.entry(name);
    const device = options.device ?? 'cpu';
    if (device !== 'cpu') {
      return dtype === 'f32' ? tensor(this.float32(name), e.shape, { device }) : tensor(this.bf16(name), e.shape, { dtype: 'bf16', device });
    }
    const t = empty(e.shape, { dtype });
    try {
      if (dtype === 'f32') this.float32(name, t.hostView() as Float32Array);
      else this.bf16(name, t.hostView() as Uint16Array);
    } catch (err) {
      t.dispose();
      throw err;
    }
    return t;
  }

  #destination<A extends Float32Array | Uint16Array>(e: StEntry, into: A | undefined, Ctor: new (n: number) => A): A {
    const n = numelOf(e.shape);
    if (into === undefined) return new Ctor(n);
    if (into.length !== n) throw new SafetensorsError(this.path, `destination holds ${into.length} elements, the tensor ${n}`, e.name);
    return into;
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
    this.#fd = undefined;
  }

  [Symbol.dispose](): void {
    this.close();
  }

  private openFd(): number {
    if (this.#fd === undefined) throw new SafetensorsError(this.path, 'reader is closed');
    return this.#fd;
  }

  // Reads `e` in bounded chunks, hands each to `sink` as float32 with its element offset.
  #convertChunks(e: StEntry, sink: (chunk: Float32Array, offset: number) => void): void {
    const Stored = DTYPE_ARRAY[e.dtype];
    const size = Stored.BYTES_PER_ELEMENT;
    const numel = numelOf(e.shape);
    const chunkElems = Math.min(numel, CONVERT_CHUNK_BYTES / size);
    const stored = new Stored(chunkElems);
    const floats = new Float32Array(chunkElems);
    const decode = DECODERS[e.dtype];
    for (let offset = 0; offset < numel; offset += chunkElems) {
      const n = Math.min(chunkElems, numel - offset);
      const src = stored.subarray(0, n);
      const dst = floats.subarray(0, n);
      readFully(this.openFd(), bytesOf(src), e.start + offset * size, this.path, e.name);
      decode(src, dst);
      sink(dst, offset);
    }
  }
}

type Decoder = (src: StArray, dst: Float32Array) => void;
const byValue: Decoder = (src, dst) => dst.set(src as Exclude<StArray, BigInt64Array>);

const DECODERS: Record<StDtype, Decoder> = {
  F64: byValue,
  F32: byValue,
  F16: (src, dst) => halfToFloat32(src as Uint16Array, dst),
  BF16: (src, dst) => bf16ToFloat32(src as Uint16Array, dst),
  I64: (src, dst) => {
    for (let i = 0; i < src.length; i++) dst[i] = Number((src as BigInt64Array)[i]);
  },
  I32: byValue,
  I16: byValue,
  I8: byValue,
  U8: byValue,
  BOOL: (src, dst) => {
    for (let i = 0; i < src.length; i++) dst[i] = (src as Uint8Array)[i] === 0 ? 0 : 1;
  },
};

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

// Fills `into` from `position`; a file that ends early (say, truncated after opening) is an error, not a short array.
function readFully(fd: number, into: Uint8Array, position: number, file: string, tensorName?: string): void {
  for (let done = 0; done < into.length; ) {
    const n = readSync(fd, into, done, Math.min(into.length - done, IO_CHUNK_BYTES), position + done);
    if (n === 0) {
      throw new SafetensorsError(file, `file ends at byte ${position + done}, ${into.length - done} bytes short`, tensorName);
    }
    done += n;
  }
}

export interface TensorToWrite {
  dtype: StDtype;
  shape: readonly number[];
  /** The elements, row-major and little-endian: the typed array of the dtype (see DTYPE_ARRAY), or raw bytes as a Uint8Array or DataView. */
  data: ArrayBufferView;
}

/**
 * Writes `tensors` (in insertion order) and `metadata` to `path`. The file appears whole or not at
 * all: it is written beside `path` and renamed into place.
 */
export function writeSafetensors(path: string, tensors: Record<string, TensorToWrite>, metadata?: Record<string, string>): void {
  if (typeof tensors !== 'object' || tensors === null) throw new SafetensorsError(path, `tensors must be an object, got ${describe(tensors)}`);
  if (metadata !== undefined) {
    const problem = metadataProblem(metadata);
    if (problem) throw new SafetensorsError(path, problem);
  }
  const layout: { name: string; dtype: StDtype; shape: readonly number[]; begin: number; end: number; bytes: Uint8Array }[] = [];
  let offset = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = checkTensorToWrite(path, name, t);
    layout.push({ name, dtype: t.dtype, shape: [...t.shape], begin: offset, end: offset + bytes.length, bytes });
    offset += bytes.length;
  }
  const header = encodeHeader(layout, metadata);
  const temp = `${path}.${process.pid}.tmp`;
  let fd: number | undefined;
  try {
    fd = openSync(temp, 'w');
    writeFully(fd, header);
    for (const t of layout) writeFully(fd, t.bytes);
    closeSync(fd);
    fd = undefined;
    renameSync(temp, path);
  } catch (cause) {
    if (fd !== undefined) closeSync(fd);
    rmSync(temp, { force: true });
    throw new SafetensorsError(path, `cannot write: ${(cause as Error).message}`, undefined, { cause });
  }
}

function checkTensorToWrite(path: string, name: string, t: TensorToWrite): Uint8Array {
  const fail = (problem: string): never => {
    throw new SafetensorsError(path, problem, name);
  };
  if (name === METADATA_KEY) fail(`the name ${METADATA_KEY} is reserved for metadata`);
  if (typeof t !== 'object' || t === null) fail(`expected {dtype, shape, data}, got ${describe(t)}`);
  if (!isStDtype(t.dtype)) fail(`unsupported dtype ${describe(t.dtype)} (supported: ${ST_DTYPES.join(', ')})`);
  const problem = shapeProblem(t.shape);
  if (problem) fail(problem);
  if (!ArrayBuffer.isView(t.data)) fail(`data must be a typed array or DataView, got ${describe(t.data)}`);
  const Stored = DTYPE_ARRAY[t.dtype];
  const rawBytes = t.data instanceof Uint8Array || t.data instanceof DataView;
  if (!rawBytes && t.data.constructor !== Stored) {
    fail(`${t.dtype} data must be a ${Stored.name} (or raw bytes in a Uint8Array), got a ${t.data.constructor.name}`);
  }
  const expected = numelOf(t.shape) * Stored.BYTES_PER_ELEMENT;
  if (t.data.byteLength !== expected) {
    fail(`shape ${formatShape(t.shape)} of ${t.dtype} needs ${expected} bytes, data has ${t.data.byteLength}`);
  }
  return bytesOf(t.data);
}

function writeFully(fd: number, bytes: Uint8Array): void {
  for (let done = 0; done < bytes.length; ) {
    done += writeSync(fd, bytes, done, Math.min(bytes.length - done, IO_CHUNK_BYTES));
  }
}
