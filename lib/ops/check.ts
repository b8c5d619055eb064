// Validation at the TypeScript boundary: each error names the argument, what was expected and
// what was given. The native core checks everything again.
import { empty, Tensor, type DType } from '../tensor.js';
import { argumentError, deviceError, dtypeError, rangeError, shapeError } from '../util/errors.js';

export function expectTensor(t: unknown, name: string): Tensor {
  if (!(t instanceof Tensor)) throw argumentError(`${name} must be a Tensor, got ${describe(t)}`);
  if (t.disposed) throw argumentError(`${name}: tensor was disposed`);
  return t;
}

export function optionalTensor(t: unknown, name: string): Tensor | undefined {
  return t === undefined || t === null ? undefined : expectTensor(t, name);
}

/** `expected` entries: a number (exact), null (any). */
export function expectShape(t: Tensor, name: string, expected: readonly (number | null)[]): void {
  const ok = t.shape.length === expected.length && expected.every((e, i) => e === null || e === t.shape[i]);
  if (!ok) {
    const want = expected.map((e) => (e === null ? '*' : String(e))).join(', ');
    throw shapeError(`${name}: expected shape [${want}], got [${t.shape.join(', ')}]`);
  }
}

export function expectRank(t: Tensor, name: string, rank: number, what = ''): void {
  if (t.shape.length !== rank) {
    throw shapeError(`${name}: expected ${rank} dimensions${what ? ` (${what})` : ''}, got [${t.shape.join(', ')}]`);
  }
}

export function expectSameShape(a: Tensor, an: string, b: Tensor, bn: string): void {
  if (a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) {
    throw shapeError(`${bn}: expected the shape of ${an} [${a.shape.join(', ')}], got [${b.shape.join(', ')}]`);
  }
}

export function expectDtype(t: Tensor, name: string, ...dtypes: DType[]): void {
  expectDtypeValue(t.dtype, name, ...dtypes);
}

/** A dtype given as an option (not yet a tensor's). */
export function expectDtypeValue(dtype: unknown, name: string, ...dtypes: DType[]): asserts dtype is DType {
  if (!dtypes.includes(dtype as DType)) {
    throw dtypeError(`${name}: expected dtype ${dtypes.join(' or ')}, got ${String(dtype)}`);
  }
}

/** The float dtypes of the CPU kernels. */
export const CPU_FLOATS: readonly DType[] = ['f32', 'bf16'];
const CUDA_FLOATS: readonly DType[] = ['f32', 'f16', 'bf16'];

/**
 * A float operand of an op on x: on the CPU f32 or bf16, each operand its own; on CUDA, where the
 * float operands of an op share one dtype, x's (itself f32, f16 or bf16).
 */
export function expectFloat(t: Tensor, name: string, x: Tensor): void {
  if (x.device === 'cpu') expectDtype(t, name, ...CPU_FLOATS);
  else if (t === x) expectDtype(t, name, ...CUDA_FLOATS);
  else expectDtype(t, name, x.dtype);
}

/**
 * The output of an op on x (named `xName`): `out` when given (its dtype must not contradict
 * `dtype`), else a new tensor of `shape` on x's device, of `dtype` (default x's); either is a float
 * operand of the op.
 */
export function floatOutput(x: Tensor, shape: readonly number[], out: unknown, dtype: unknown, xName = 'x'): Tensor {
  const given = optionalTensor(out, 'out');
  if (given) {
    if (dtype !== undefined && dtype !== given.dtype) {
      throw dtypeError(`dtype: ${String(dtype)} contradicts the dtype of out, ${given.dtype}`);
    }
    expectSameDevice(x, xName, given, 'out');
    expectFloat(given, 'out', x);
    return given;
  }
  const d = dtype ?? x.dtype;
  expectDtypeValue(d, 'dtype', ...(x.device === 'cpu' ? CPU_FLOATS : [x.dtype]));
  return empty(shape, { dtype: d, device: x.device });
}

export function expectSameDevice(a: Tensor, an: string, b: Tensor, bn: string): void {
  if (a.device !== b.device) throw deviceError(`${bn} is on ${b.device} but ${an} is on ${a.device}`);
}

/** A grouped per-row parameter: [G, C] (or [G, 1, C]) whose G divides the rows of x. */
export function expectGrouped(g: Tensor, name: string, x: Tensor): void {
  const c = x.shape[x.shape.length - 1]!;
  const rows = x.numel / Math.max(c, 1);
  const gc = g.shape[g.shape.length - 1];
  const groups = g.numel / Math.max(gc ?? 1, 1);
  if (gc !== c || groups === 0 || rows % groups !== 0) {
    throw shapeError(
      `${name}: expected [G, ${c}] with G dividing the ${rows} rows of x [${x.shape.join(', ')}], got [${g.shape.join(', ')}]`,
    );
  }
  expectSameDevice(x, 'x', g, name);
}

export function expectNumber(v: unknown, name: string, fallback?: number): number {
  if (v === undefined && fallback !== undefined) return fallback;
  if (typeof v !== 'number' || Number.isNaN(v)) throw argumentError(`${name} must be a number, got ${describe(v)}`);
  return v;
}

/**
 * An integer in [min, max] (default: the integers a double holds exactly, as the native binding
 * accepts): TypeError for a non-integer, RangeError outside the range.
 */
export function expectInteger(
  v: unknown,
  name: string,
  fallback?: number,
  { min = -Number.MAX_SAFE_INTEGER, max = Number.MAX_SAFE_INTEGER }: { min?: number; max?: number } = {},
): number {
  const n = expectNumber(v, name, fallback);
  if (!Number.isInteger(n)) throw argumentError(`${name} must be an integer, got ${n}`);
  if (n < min || n > max) throw rangeError(`${name} = ${n} is outside [${min}, ${max}]`);
  return n;
}

function describe(v: unknown): string {
  if (v === null || v === undefined) return String(v);
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'object') return (v as object).constructor?.name ?? 'an object';
  return `${typeof v} ${String(v)}`;
}
