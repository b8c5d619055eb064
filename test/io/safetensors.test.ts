import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { SafetensorsError, SafetensorsReader, writeSafetensors, type StDtype } from '../../lib/io/safetensors.js';
import { craftFile, tempDir } from './safetensors-files.js';

const tmp = tempDir();
afterAll(tmp.remove);
let fileCount = 0;
const tmpPath = () => join(tmp.dir, `t${fileCount++}.safetensors`);

// Independent references for the 16-bit formats, written from their definitions.
function halfReference(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const man = h & 0x3ff;
  if (exp === 0) return sign * man * 2 ** -24;
  if (exp === 31) return man === 0 ? sign * Infinity : NaN;
  return sign * (1 + man / 1024) * 2 ** (exp - 15);
}
function bf16Reference(b: number): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, b << 16);
  return view.getFloat32(0);
}

describe('safetensors round trip', () => {
  // One tensor per dtype with edge values; `expected` is the float32 value of each element.
  const cases: Record<StDtype, { data: ArrayBufferView; expected: number[] }> = {
    F64: { data: new Float64Array([1.5, -2.25, 1e300, 0.1]), expected: [1.5, -2.25, Infinity, Math.fround(0.1)] },
    F32: { data: new Float32Array([0, -0, 3.5, -1e-40]), expected: [0, -0, 3.5, Math.fround(-1e-40)] },
    F16: { data: new Uint16Array([0x3c00, 0xc000, 0x7c00, 0x0001]), expected: [1, -2, Infinity, 2 ** -24] },
    BF16: { data: new Uint16Array([0x3f80, 0xc040, 0xff80, 0x0001]), expected: [1, -3, -Infinity, bf16Reference(1)] },
    I64: { data: new BigInt64Array([0n, -5n, 2n ** 40n, 7n]), expected: [0, -5, 2 ** 40, 7] },
    I32: { data: new Int32Array([2147483647, -2147483648, 0, 9]), expected: [2147483648, -2147483648, 0, 9] },
    I16: { data: new Int16Array([32767, -32768, 1, -1]), expected: [32767, -32768, 1, -1] },
    I8: { data: new Int8Array([127, -128, 0, 3]), expected: [127, -128, 0, 3] },
    U8: { data: new Uint8Array([255, 0, 128, 1]), expected: [255, 0, 128, 1] },
    BOOL: { data: new Uint8Array([1, 0, 0, 1]), expected: [1, 0, 0, 1] },
  };

  it('writes and reads back every dtype, bit for bit, with metadata', () => {
    const path = tmpPath();
    const tensors = Object.fromEntries(Object.entries(cases).map(([dtype, c]) => [`t_${dtype}`, { dtype: dtype as StDtype, shape: [2, 2], data: c.data }]));
    writeSafetensors(path, tensors, { format: 'pt', note: 'ünïcode ✓' });
    using reader = SafetensorsReader.open(path);
    expect(reader.metadata).toEqual({ format: 'pt', note: 'ünïcode ✓' });
    expect([...reader.entries.keys()]).toEqual(Object.keys(tensors));
    const bytes = readFileSync(path);
    const headerLength = Number(bytes.readBigUInt64LE(0));
    expect(headerLength % 8).toBe(0);
    for (const [dtype, c] of Object.entries(cases)) {
      const name = `t_${dtype}`;
      const entry = reader.entries.get(name)!;
      expect(entry).toMatchObject({ name, dtype, shape: [2, 2] });
      expect(entry.end - entry.start).toBe(c.data.byteLength);
      expect(Buffer.from(bytes.buffer, bytes.byteOffset + entry.start, c.data.byteLength)).toEqual(
        Buffer.from(c.data.buffer, c.data.byteOffset, c.data.byteLength),
      );
      const raw = reader.raw(name);
      expect(raw.constructor).toBe(c.data.constructor);
      expect([...raw]).toEqual([...(c.data as unknown as Iterable<number>)]);
      expect([...reader.float32(name)]).toEqual(c.expected);
    }
  });

  it('accepts raw little-endian bytes, scalars, empty tensors and an empty file', () => {
    const path = tmpPath();
    const f32 = new Float32Array([1.25, -7]);
    writeSafetensors(path, {
      bytes: { dtype: 'F32', shape: [2], data: new Uint8Array(f32.buffer) },
      scalar: { dtype: 'I32', shape: [], data: new Int32Array([42]) },
      empty: { dtype: 'F16', shape: [3, 0, 5], data: new Uint16Array(0) },
    });
    using reader = SafetensorsReader.open(path);
    expect([...reader.float32('bytes')]).toEqual([1.25, -7]);
    expect(reader.entries.get('scalar')!.shape).toEqual([]);
    expect([...reader.float32('scalar')]).toEqual([42]);
    expect(reader.float32('empty').length).toBe(0);
    expect(reader.metadata).toEqual({});

    const none = tmpPath();
    writeSafetensors(none, {});
    using emptyReader = SafetensorsReader.open(none);
    expect(emptyReader.entries.size).toBe(0);
  });

  it('converts float16 exactly for all 65,536 bit patterns and bfloat16 for a sweep', () => {
    const path = tmpPath();
    const all = new Uint16Array(65536).map((_, i) => i);
    writeSafetensors(path, { h: { dtype: 'F16', shape: [65536], data: all }, b: { dtype: 'BF16', shape: [65536], data: all } });
    using reader = SafetensorsReader.open(path);
    const h = reader.float32('h');
    const b = reader.float32('b');
    for (let i = 0; i < 65536; i++) {
      expect(Object.is(h[i], halfReference(i)) || (Number.isNaN(h[i]) && Number.isNaN(halfReference(i)))).toBe(true);
      expect(Object.is(b[i], bf16Reference(i)) || (Number.isNaN(b[i]) && Number.isNaN(bf16Reference(i)))).toBe(true);
    }
  });

  it('reads large tensors in chunks with the same values', () => {
    const path = tmpPath();
    const n = 700_001; // > 1 MiB of 16-bit data, not a multiple of the chunk
    const bits = new Uint16Array(n).map((_, i) => (i * 2654435761) & 0x7bff);
    const ints = new BigInt64Array(n).map((_, i) => BigInt(i - 350_000));
    writeSafetensors(path, { h: { dtype: 'F16', shape: [n], data: bits }, i: { dtype: 'I64', shape: [n], data: ints } });
    using reader = SafetensorsReader.open(path);
    const h = reader.float32('h');
    const i64 = reader.float32('i');
    for (let i = 0; i < n; i += 997) {
      expect(h[i]).toBe(halfReference(bits[i]!));
      expect(i64[i]).toBe(i - 350_000);
    }
    expect(h[n - 1]).toBe(halfReference(bits[n - 1]!));
    expect(i64[n - 1]).toBe(n - 1 - 350_000);
  });

  it('rounds float32 to bfloat16 to nearest even, matching a reference', () => {
    const path = tmpPath();
    const values = new Float32Array([1, 1 + 2 ** -8, 1 + 3 * 2 ** -8, 1 + 2 ** -8 + 2 ** -20, -3.14159, 65504, 3.4e38, -0, NaN, Infinity, 1e-40]);
    writeSafetensors(path, { x: { dtype: 'F32', shape: [values.length], data: values } });
    using reader = SafetensorsReader.open(path);
    const got = reader.bf16('x');
    for (const [i, v] of values.entries()) {
      if (Number.isNaN(v)) {
        expect(Number.isNaN(bf16Reference(got[i]!))).toBe(true);
        continue;
      }
      // Reference: the nearer of the two bfloat16 neighbours by truncation; ties go to the even pattern.
      // Past the largest finite value the upper neighbour is infinity, reached from 2^128 as IEEE rounding does.
      const lo = new Uint32Array(new Float32Array([v]).buffer)[0]! >>> 16;
      const a = bf16Reference(lo);
      const b = (lo & 0x7fff) === 0x7f7f ? Math.sign(v) * 2 ** 128 : bf16Reference(lo + 1);
      const da = Math.abs(v - a);
      const db = Math.abs(v - b);
      const want = a === v || da < db || (da === db && lo % 2 === 0) ? lo : lo + 1;
      expect(got[i]).toBe(want);
    }
  });
});

describe('SafetensorsReader.tensor', () => {
  it('returns f32 and bf16 tensors with the stored shape', () => {
    const path = tmpPath();
    const data = new Float32Array([1, 2.5, -3, 1 + 2 ** -9, 0.1, 100]);
    writeSafetensors(path, { w: { dtype: 'F32', shape: [2, 3], data }, h: { dtype: 'F16', shape: [3], data: new Uint16Array([0x3c00, 0x3800, 0xbc00]) } });
    using reader = SafetensorsReader.open(path);
    using f = reader.tensor('w');
    expect(f.shape).toEqual([2, 3]);
    expect(f.dtype).toBe('f32');
    expect([...f.toFloat32Array()]).toEqual([...data]);
    using b = reader.tensor('w', { dtype: 'bf16' });
    expect(b.dtype).toBe('bf16');
    const bf = reader.bf16('w');
    expect([...b.toFloat32Array()]).toEqual([...bf].map(bf16Reference));
    using h = reader.tensor('h');
    expect([...h.toFloat32Array()]).toEqual([1, 0.5, -1]);
    expect(() => reader.tensor('w', { dtype: 'f16' as 'f32' })).toThrow(/tensor "w": tensor dtype must be 'f32' or 'bf16'/);
  });
});

describe('golden files', () => {
  const manifest = JSON.parse(readFileSync('test/fixtures/golden/manifest.json', 'utf8')) as {
    cases: { file: string; tensors: Record<string, { dtype: string; shape: number[] }> }[];
  };
  const manifestDtype: Record<string, StDtype> = { float32: 'F32', int64: 'I64', bool: 'BOOL' };
  // Every safetensors file the repository ships: goldens and bundled models.
  const files = ['test/fixtures', 'lib/models']
    .flatMap((root) => readdirSync(root, { recursive: true, encoding: 'utf8' }).map((f) => join(root, f)))
    .filter((f) => f.endsWith('.safetensors'))
    .sort();

  it('include the goldens and the bundled model', () => {
    expect(files).toContain('test/fixtures/golden/units.safetensors');
    expect(files).toContain('lib/models/stdit3-tiny/model.safetensors');
  });

  it.each(files)('%s opens and every tensor reads back its bytes', (file) => {
    using reader = SafetensorsReader.open(file);
    const bytes = readFileSync(file);
    expect(reader.entries.size).toBeGreaterThan(0);
    for (const [name, e] of reader.entries) {
      const raw = reader.raw(name);
      expect(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).equals(bytes.subarray(e.start, e.end))).toBe(true);
      const f = reader.float32(name);
      expect(f.length).toBe(e.shape.reduce((a, d) => a * d, 1));
      if (e.dtype === 'F32') expect(f.every(Number.isFinite)).toBe(true);
    }
    const described = manifest.cases.find((c) => file.endsWith(`/${c.file}`));
    if (described) {
      for (const [name, t] of Object.entries(described.tensors)) {
        expect(reader.entries.get(name), name).toMatchObject({ dtype: manifestDtype[t.dtype], shape: t.shape });
      }
    }
  });

  it('reads the model metadata', () => {
    using reader = SafetensorsReader.open('lib/models/stdit3-tiny/model.safetensors');
    expect(reader.metadata['model_type']).toBe('STDiT3');
  });
});

describe('rejects bad files with a SafetensorsError naming the tensor and the problem', () => {
  const f32 = (n: number) => new Uint8Array(n * 4);
  const good = { w: { dtype: 'F32', shape: [2, 2], data_offsets: [0, 16] } };

  function rejection(path: string): SafetensorsError {
    try {
      SafetensorsReader.open(path).close();
    } catch (error) {
      expect(error).toBeInstanceOf(SafetensorsError);
      return error as SafetensorsError;
    }
    throw new Error(`${path} was accepted`);
  }
  function expectRejected(header: unknown, data: Uint8Array, tensor: string | undefined, problem: RegExp, length?: bigint): void {
    const path = craftFile(tmpPath(), header, data, length);
    const error = rejection(path);
    expect(error.tensor).toBe(tensor);
    expect(error.message).toMatch(problem);
    expect(error.message.startsWith(path)).toBe(true);
    if (tensor !== undefined) expect(error.message).toContain(`tensor "${tensor}"`);
  }

  it('a well-formed file is accepted (control)', () => {
    using reader = SafetensorsReader.open(craftFile(tmpPath(), good, f32(4)));
    expect(reader.float32('w').length).toBe(4);
  });

  it('truncated files', () => {
    const whole = readFileSync(craftFile(tmpPath(), good, f32(4)));
    const cut = tmpPath();
    writeFileSync(cut, whole.subarray(0, whole.length - 3));
    const error = rejection(cut);
    expect(error.tensor).toBe('w');
    expect(error.message).toMatch(/data_offsets \[0, 16\] run past the data section \(13 bytes\)/);
    for (const size of [0, 5]) {
      const short = tmpPath();
      writeFileSync(short, whole.subarray(0, size));
      expect(rejection(short).message).toMatch(new RegExp(`file is ${size} bytes, too short for the 8-byte header length`));
    }
  });

  it('header length beyond the file or the limit', () => {
    expectRejected(good, f32(4), undefined, /header length 4096 runs past the end of the file/, 4096n);
    expectRejected(good, f32(4), undefined, /header length 18446744073709551615 exceeds the 104857600-byte limit/, 2n ** 64n - 1n);
  });

  it('headers that are not a UTF-8 JSON object', () => {
    expectRejected('{"w": {"dtype": "F32",', f32(4), undefined, /header is not valid JSON/);
    expectRejected('', f32(4), undefined, /header is not valid JSON/);
    expectRejected('[1, 2]', f32(4), undefined, /header must be a JSON object, got an array/);
    const bad = craftFile(tmpPath(), '{"\u00e9": 1}');
    const bytes = readFileSync(bad);
    bytes[10] = 0xff; // a lone continuation byte instead of the first byte of é
    writeFileSync(bad, bytes);
    expect(rejection(bad).message).toMatch(/header is not valid UTF-8/);
  });

  it('entries that are not objects, or miss fields', () => {
    expectRejected({ w: 7 }, f32(4), 'w', /entry must be an object \{dtype, shape, data_offsets\}, got 7/);
    expectRejected({ w: { dtype: 'F32', shape: [4] } }, f32(4), 'w', /data_offsets must be \[begin, end\]/);
  });

  it('unknown dtypes', () => {
    expectRejected({ w: { ...good.w, dtype: 'F8_E4M3' } }, f32(4), 'w', /unsupported dtype "F8_E4M3" \(supported: F64, F32, F16, BF16, I64, I32, I16, I8, U8, BOOL\)/);
    expectRejected({ w: { ...good.w, dtype: 3 } }, f32(4), 'w', /unsupported dtype 3/);
  });

  it('shape and byte range that disagree', () => {
    expectRejected({ w: { ...good.w, shape: [2, 3] } }, f32(4), 'w', /shape \[2, 3\] of F32 needs 24 bytes but data_offsets \[0, 16\] hold 16/);
    expectRejected({ w: { ...good.w, dtype: 'F64' } }, f32(4), 'w', /shape \[2, 2\] of F64 needs 32 bytes but data_offsets \[0, 16\] hold 16/);
  });

  it('negative, fractional and huge dimensions', () => {
    expectRejected({ w: { ...good.w, shape: [-1, -16] } }, f32(4), 'w', /shape\[0\] must be a non-negative integer, got -1/);
    expectRejected({ w: { ...good.w, shape: [2, 2.5] } }, f32(4), 'w', /shape\[1\] must be a non-negative integer, got 2.5/);
    expectRejected({ w: { ...good.w, shape: [2 ** 60] } }, f32(4), 'w', /shape\[0\] must be a non-negative integer/);
    expectRejected({ w: { ...good.w, shape: [2 ** 30, 2 ** 30, 2 ** 30] } }, f32(4), 'w', /shape \[1073741824, 1073741824, 1073741824\] has more than 2\^53 elements/);
    expectRejected({ w: { ...good.w, shape: '4' } }, f32(4), 'w', /shape must be an array of dimensions, got "4"/);
  });

  it('offsets outside the file or reversed', () => {
    expectRejected({ w: { ...good.w, data_offsets: [0, 1600] } }, f32(4), 'w', /data_offsets \[0, 1600\] run past the data section \(16 bytes\)/);
    expectRejected({ w: { ...good.w, data_offsets: [16, 0] } }, f32(4), 'w', /data_offsets \[16, 0\] end before they begin/);
    expectRejected({ w: { ...good.w, data_offsets: [-16, 0] } }, f32(4), 'w', /data_offsets must be \[begin, end\] of non-negative integers, got \[-16,0\]/);
    expectRejected({ w: { ...good.w, data_offsets: [0, 16, 32] } }, f32(4), 'w', /data_offsets must be \[begin, end\]/);
  });

  it('overlapping byte ranges', () => {
    const header = { a: { dtype: 'F32', shape: [3], data_offsets: [0, 12] }, b: { dtype: 'F32', shape: [2], data_offsets: [8, 16] } };
    expectRejected(header, f32(4), 'b', /data_offsets \[8, 16\] overlap tensor "a" \[0, 12\]/);
    const zeroSized = { a: { dtype: 'F32', shape: [4], data_offsets: [0, 16] }, e: { dtype: 'F32', shape: [0], data_offsets: [8, 8] } };
    using reader = SafetensorsReader.open(craftFile(tmpPath(), zeroSized, f32(4)));
    expect(reader.float32('e').length).toBe(0);
  });

  it('metadata that is not a string map', () => {
    expectRejected({ ...good, __metadata__: { epoch: 3 } }, f32(4), undefined, /__metadata__\["epoch"\] must be a string, got 3/);
    expectRejected({ ...good, __metadata__: ['x'] }, f32(4), undefined, /__metadata__ must be an object of strings, got an array/);
  });

  it('unknown tensor names, closed readers and missing files', () => {
    const reader = SafetensorsReader.open(craftFile(tmpPath(), good, f32(4)));
    expect(() => reader.float32('nope')).toThrow(SafetensorsError);
    expect(() => reader.raw('nope')).toThrow(/tensor "nope": no such tensor \(the file holds 1\)/);
    reader.close();
    reader.close();
    expect(() => reader.float32('w')).toThrow(/reader is closed/);
    expect(() => SafetensorsReader.open(join(tmp.dir, 'missing.safetensors'))).toThrow(/cannot open: ENOENT/);
    expect(() => SafetensorsReader.open(tmp.dir)).toThrow(SafetensorsError);
  });
});

describe('writeSafetensors rejects bad input', () => {
  it('names the tensor and the problem', () => {
    const path = tmpPath();
    const write = (t: Record<string, unknown>, meta?: Record<string, string>) => () =>
      writeSafetensors(path, t as Parameters<typeof writeSafetensors>[1], meta);
    expect(write({ w: { dtype: 'F32', shape: [3], data: new Float64Array(3) } })).toThrow(/tensor "w": F32 data must be a Float32Array \(or raw bytes in a Uint8Array\), got a Float64Array/);
    expect(write({ w: { dtype: 'F32', shape: [3], data: new Float32Array(2) } })).toThrow(/tensor "w": shape \[3\] of F32 needs 12 bytes, data has 8/);
    expect(write({ w: { dtype: 'Q4', shape: [1], data: new Uint8Array(1) } })).toThrow(/tensor "w": unsupported dtype "Q4"/);
    expect(write({ w: { dtype: 'U8', shape: [-1], data: new Uint8Array(1) } })).toThrow(/tensor "w": shape\[0\] must be a non-negative integer/);
    expect(write({ __metadata__: { dtype: 'U8', shape: [1], data: new Uint8Array(1) } })).toThrow(/reserved for metadata/);
    expect(write({ w: { dtype: 'U8', shape: [1], data: [1] } })).toThrow(/tensor "w": data must be a typed array or DataView, got an array/);
    expect(write({}, { n: 1 } as unknown as Record<string, string>)).toThrow(/__metadata__\["n"\] must be a string/);
    expect(() => writeSafetensors(join(tmp.dir, 'no/such/dir/x.safetensors'), {})).toThrow(/cannot write: ENOENT/);
    expect(readdirSync(tmp.dir).some((f) => f.endsWith('.tmp'))).toBe(false);
  });
});
