// The safetensors layout: an 8-byte little-endian header length N, N bytes of UTF-8 JSON describing
// each tensor ({dtype, shape, data_offsets} relative to the data section) plus an optional
// "__metadata__" string map, then the data section. Everything in a header is checked here before a
// single byte of tensor data is trusted.

export type StDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** One tensor of a file; `start` and `end` are absolute byte offsets in the file. */
export interface StEntry {
  name: string;
  dtype: StDtype;
  shape: number[];
  start: number;
  end: number;
}

export type StArray =
  | Float32Array
  | Float64Array
  | Uint16Array
  | BigInt64Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint8Array;

type StArrayConstructor = {
  new (length: number): StArray;
  new (buffer: ArrayBufferLike, byteOffset: number, length: number): StArray;
  readonly BYTES_PER_ELEMENT: number;
};

/** Element size and the typed array holding a dtype's stored bits (F16/BF16 as raw 16-bit patterns). */
export const DTYPE_ARRAY: Readonly<Record<StDtype, StArrayConstructor>> = {
  F64: Float64Array,
  F32: Float32Array,
  F16: Uint16Array,
  BF16: Uint16Array,
  I64: BigInt64Array,
  I32: Int32Array,
  I16: Int16Array,
  I8: Int8Array,
  U8: Uint8Array,
  BOOL: Uint8Array,
};

export const ST_DTYPES = Object.keys(DTYPE_ARRAY) as StDtype[];

/** Headers above this size are refused: real ones are kilobytes, and a bigger one is an attack or a corrupt length. */
export const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export const METADATA_KEY = '__metadata__';

/** A file that is not valid safetensors, or a request it cannot answer. `tensor` names the tensor at fault, if any. */
export class SafetensorsError extends Error {
  readonly tensor: string | undefined;
  readonly file: string;

  constructor(file: string, problem: string, tensor?: string, options?: { cause?: unknown }) {
    super(`${file}: ${tensor === undefined ? '' : `tensor ${quoteName(tensor)}: `}${problem}`, options);
    this.name = 'SafetensorsError';
    this.file = file;
    this.tensor = tensor;
  }
}

// Names come from untrusted files: quote them and cut very long ones so a message stays readable.
function quoteName(name: string): string {
  const quoted = JSON.stringify(name);
  return quoted.length > 120 ? `${quoted.slice(0, 100)}..." (${name.length} characters)` : quoted;
}

export function isStDtype(value: unknown): value is StDtype {
  return typeof value === 'string' && Object.hasOwn(DTYPE_ARRAY, value);
}

/** Elements of `shape`, or a description of why the shape is not a list of non-negative safe integers with a safe product. */
export function shapeProblem(shape: unknown): string | undefined {
  if (!Array.isArray(shape)) return `shape must be an array of dimensions, got ${describe(shape)}`;
  let numel = 1;
  for (const [i, d] of shape.entries()) {
    if (typeof d !== 'number' || !Number.isSafeInteger(d) || d < 0) {
      return `shape[${i}] must be a non-negative integer, got ${describe(d)}`;
    }
  }
  if ((shape as number[]).includes(0)) return undefined;
  for (const d of shape as number[]) {
    if (numel > Number.MAX_SAFE_INTEGER / d) return `shape ${formatShape(shape as number[])} has more than 2^53 elements`;
    numel *= d;
  }
  return undefined;
}

export function formatShape(shape: readonly number[]): string {
  return shape.length > 8 ? `[${shape.slice(0, 8).join(', ')}, ... (${shape.length} dims)]` : `[${shape.join(', ')}]`;
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return JSON.stringify(value.length > 40 ? value.slice(0, 40) + '...' : value);
  if (typeof value === 'object') return 'an object';
  return String(value);
}

/** The header length from the first 8 bytes, checked against the file size and MAX_HEADER_BYTES. */
export function headerLength(prefix: Uint8Array, fileSize: number, file: string): number {
  if (fileSize < 8) throw new SafetensorsError(file, `file is ${fileSize} bytes, too short for the 8-byte header length`);
  const n = new DataView(prefix.buffer, prefix.byteOffset, 8).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(file, `header length ${n} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  }
  if (n > BigInt(fileSize - 8)) {
    throw new SafetensorsError(file, `header length ${n} runs past the end of the file (${fileSize - 8} bytes after the length)`);
  }
  return Number(n);
}

export interface ParsedHeader {
  entries: Map<string, StEntry>;
  metadata: Record<string, string>;
}

/** Parses and validates the JSON header; `dataStart` is the absolute offset of the data section. */
export function parseHeader(json: Uint8Array, dataStart: number, fileSize: number, file: string): ParsedHeader {
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(json);
  } catch (cause) {
    throw new SafetensorsError(file, 'header is not valid UTF-8', undefined, { cause });
  }
  let root: unknown;
  try {
    root = JSON.parse(text);
  } catch (cause) {
    throw new SafetensorsError(file, `header is not valid JSON (${(cause as Error).message})`, undefined, { cause });
  }
  if (typeof root !== 'object' || root === null || Array.isArray(root)) {
    throw new SafetensorsError(file, `header must be a JSON object, got ${describe(root)}`);
  }
  const dataBytes = fileSize - dataStart;
  const entries = new Map<string, StEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(root)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value, file);
    else entries.set(name, parseEntry(name, value, dataStart, dataBytes, file));
  }
  checkNoOverlap([...entries.values()], dataStart, file);
  return { entries, metadata };
}

export function metadataProblem(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `${METADATA_KEY} must be an object of strings, got ${describe(value)}`;
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== 'string') return `${METADATA_KEY}[${JSON.stringify(key)}] must be a string, got ${describe(v)}`;
  }
  return undefined;
}

function parseMetadata(value: unknown, file: string): Record<string, string> {
  const problem = metadataProblem(value);
  if (problem) throw new SafetensorsError(file, problem);
  // fromEntries defines own properties, so a key such as "__proto__" stays a plain entry.
  return Object.fromEntries(Object.entries(value as Record<string, string>));
}

// Keys other than dtype, shape and data_offsets are ignored, as the reference implementation does.
function parseEntry(name: string, value: unknown, dataStart: number, dataBytes: number, file: string): StEntry {
  const fail = (problem: string): never => {
    throw new SafetensorsError(file, problem, name);
  };
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return fail(`entry must be an object {dtype, shape, data_offsets}, got ${describe(value)}`);
  }
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (!isStDtype(dtype)) return fail(`unsupported dtype ${describe(dtype)} (supported: ${ST_DTYPES.join(', ')})`);
  const problem = shapeProblem(shape);
  if (problem) return fail(problem);
  if (
    !Array.isArray(offsets) ||
    offsets.length !== 2 ||
    !offsets.every((o) => typeof o === 'number' && Number.isSafeInteger(o) && o >= 0)
  ) {
    return fail(`data_offsets must be [begin, end] of non-negative integers, got ${JSON.stringify(offsets)?.slice(0, 80)}`);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) return fail(`data_offsets [${begin}, ${end}] end before they begin`);
  if (end > dataBytes) return fail(`data_offsets [${begin}, ${end}] run past the data section (${dataBytes} bytes)`);
  const dims = shape as number[];
  const bytes = numelOf(dims) * DTYPE_ARRAY[dtype].BYTES_PER_ELEMENT;
  if (bytes !== end - begin) {
    return fail(`shape ${formatShape(dims)} of ${dtype} needs ${bytes} bytes but data_offsets [${begin}, ${end}] hold ${end - begin}`);
  }
  // `+ 0` turns a JSON -0 into 0.
  return { name, dtype, shape: dims.map((d) => d + 0), start: dataStart + begin, end: dataStart + end };
}

function checkNoOverlap(entries: StEntry[], dataStart: number, file: string): void {
  const sorted = entries.filter((e) => e.end > e.start).sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.start < prev.end) {
      const range = (e: StEntry) => `[${e.start - dataStart}, ${e.end - dataStart}]`;
      throw new SafetensorsError(file, `data_offsets ${range(cur)} overlap tensor ${quoteName(prev.name)} ${range(prev)}`, cur.name);
    }
  }
}

/** The header bytes for `entries` (offsets relative to the data section), padded with spaces to 8-byte alignment. */
export function encodeHeader(
  entries: readonly { name: string; dtype: StDtype; shape: readonly number[]; begin: number; end: number }[],
  metadata: Record<string, string> | undefined,
): Uint8Array {
  // A null prototype keeps a tensor named "__proto__" an ordinary key.
  const header: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
  if (metadata && Object.keys(metadata).length > 0) header[METADATA_KEY] = metadata;
  for (const e of entries) header[e.name] = { dtype: e.dtype, shape: e.shape, data_offsets: [e.begin, e.end] };
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = new Uint8Array(8 + json.length + ((8 - (json.length % 8)) % 8)).fill(0x20);
  new DataView(padded.buffer).setBigUint64(0, BigInt(padded.length - 8), true);
  padded.set(json, 8);
  return padded;
}
