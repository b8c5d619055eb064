// Mutates valid safetensors files with a seeded PRNG: every mutant must either open with all of its
// tensors readable, or be refused with a SafetensorsError — never another exception, a hang or an
// allocation larger than the file. FUZZ_ITERATIONS and FUZZ_SEED widen or vary the run.
import { readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { SafetensorsError, SafetensorsReader, writeSafetensors } from '../../lib/io/safetensors.js';
import { craftBytes, prng, tempDir } from '../io/safetensors-files.js';

const ITERATIONS = Number(process.env['FUZZ_ITERATIONS'] ?? 3000);
const SEED = Number(process.env['FUZZ_SEED'] ?? 20240611);

const tmp = tempDir();
afterAll(tmp.remove);

function seedFiles(): Uint8Array[] {
  const path = join(tmp.dir, 'seed.safetensors');
  const bytesOf = (tensors: Parameters<typeof writeSafetensors>[1], metadata?: Record<string, string>) => {
    writeSafetensors(path, tensors, metadata);
    return new Uint8Array(readFileSync(path));
  };
  const ramp = (n: number) => Array.from({ length: n }, (_, i) => i);
  return [
    bytesOf(
      {
        f64: { dtype: 'F64', shape: [3], data: new Float64Array([1, -2, 3]) },
        f32: { dtype: 'F32', shape: [2, 3], data: new Float32Array(ramp(6)) },
        f16: { dtype: 'F16', shape: [4], data: new Uint16Array([0x3c00, 0x7c00, 0xfe00, 1]) },
        bf16: { dtype: 'BF16', shape: [2, 2], data: new Uint16Array([0x3f80, 0x7fc0, 0, 0x8000]) },
        i64: { dtype: 'I64', shape: [2], data: new BigInt64Array([-1n, 2n ** 62n]) },
        i32: { dtype: 'I32', shape: [1, 1, 2], data: new Int32Array([7, -7]) },
        i16: { dtype: 'I16', shape: [3], data: new Int16Array([1, 2, 3]) },
        i8: { dtype: 'I8', shape: [2], data: new Int8Array([-128, 127]) },
        u8: { dtype: 'U8', shape: [5], data: new Uint8Array(ramp(5)) },
        bool: { dtype: 'BOOL', shape: [3], data: new Uint8Array([1, 0, 1]) },
      },
      { format: 'pt', step: '30' },
    ),
    bytesOf({
      scalar: { dtype: 'I64', shape: [], data: new BigInt64Array([5n]) },
      empty: { dtype: 'F32', shape: [0, 4], data: new Float32Array(0) },
      big: { dtype: 'F16', shape: [64, 40], data: new Uint16Array(2560).map((_, i) => i * 7) },
    }),
    bytesOf({ only: { dtype: 'F32', shape: [4, 4], data: new Float32Array(ramp(16)) } }, { a: '' }),
  ];
}

type Rng = () => number;
const pick = <T>(rng: Rng, items: readonly T[]): T => items[Math.floor(rng() * items.length)]!;
const int = (rng: Rng, n: number) => Math.floor(rng() * n);

const WEIRD_NUMBERS = [0, 1, 2, 3, -1, -8, 0.5, 1.5, 2 ** 31, 2 ** 32 + 4, 2 ** 53, 2 ** 53 + 2, 2 ** 60, 1e300, -0];
const WEIRD_VALUES: unknown[] = [null, true, 'x', '4', [], {}, [1], [[1]], ...WEIRD_NUMBERS];
const DTYPES: readonly string[] = ['F64', 'F32', 'F16', 'BF16', 'I64', 'I32', 'I16', 'I8', 'U8', 'BOOL', 'F8_E5M2', 'f32', 'U64', ''];

function headerOf(bytes: Uint8Array): { length: number; json: Record<string, unknown>; data: Uint8Array } {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const json = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length))) as Record<string, unknown>;
  return { length, json, data: bytes.subarray(8 + length) };
}

// One change to the parsed header of a valid file, re-encoded with a correct length.
function mutateStructure(rng: Rng, bytes: Uint8Array): Uint8Array {
  const { json, data } = headerOf(bytes);
  const names = Object.keys(json).filter((k) => k !== '__metadata__');
  const name = pick(rng, names);
  const entry = json[name] as Record<string, unknown>;
  const offsets = entry['data_offsets'] as number[];
  const shape = entry['shape'] as unknown[];
  switch (int(rng, 11)) {
    case 0:
      offsets[int(rng, 2)] = pick(rng, WEIRD_NUMBERS);
      break;
    case 1:
      offsets[int(rng, 2)]! += int(rng, 17) - 8;
      break;
    case 2:
      entry['data_offsets'] = pick(rng, WEIRD_VALUES);
      break;
    case 3:
      entry['dtype'] = rng() < 0.8 ? pick(rng, DTYPES) : pick(rng, WEIRD_VALUES);
      break;
    case 4:
      if (shape.length > 0) shape[int(rng, shape.length)] = rng() < 0.7 ? pick(rng, WEIRD_NUMBERS) : pick(rng, WEIRD_VALUES);
      break;
    case 5:
      if (rng() < 0.5) shape.push(pick(rng, [0, 1, 1, 2, 2 ** 30]));
      else shape.pop();
      break;
    case 6:
      if (rng() < 0.5) delete entry[pick(rng, ['dtype', 'shape', 'data_offsets'])];
      else json[name] = pick(rng, WEIRD_VALUES);
      break;
    case 7: // a second tensor over (part of) the same bytes
      json[`${name}_twin`] = { ...entry, data_offsets: [offsets[0]! + int(rng, 3), offsets[1]] };
      break;
    case 8:
      json['__metadata__'] = rng() < 0.5 ? pick(rng, WEIRD_VALUES) : { k: pick(rng, WEIRD_VALUES) };
      break;
    case 9: // changes a reader must accept: a new name, an extra field, new metadata
      delete json[name];
      json[rng() < 0.5 ? `${name}.renamed` : '\u00e9\u0000"'] = { ...entry, extra: pick(rng, WEIRD_VALUES) };
      json['__metadata__'] = { [pick(rng, ['k', '__proto__', ''])]: 'v' };
      break;
    default: // move a tensor elsewhere in the data section, keeping its size
      {
        const span = offsets[1]! - offsets[0]!;
        const begin = int(rng, data.length + 2);
        entry['data_offsets'] = [begin, begin + span];
      }
      break;
  }
  const padding = ' '.repeat(int(rng, 9));
  return craftBytes(JSON.stringify(json) + padding, data);
}

function mutateBytes(rng: Rng, bytes: Uint8Array): Uint8Array {
  const { length } = headerOf(bytes);
  const out = new Uint8Array(bytes);
  const view = new DataView(out.buffer);
  switch (int(rng, 5)) {
    case 0: {
      const lengths = [0n, 1n, 7n, BigInt(length - 1), BigInt(length + 1), BigInt(out.length - 8), BigInt(out.length), 2n ** 32n + BigInt(length), 2n ** 63n, 2n ** 64n - 1n, 100n * 1024n * 1024n + 1n];
      view.setBigUint64(0, rng() < 0.8 ? pick(rng, lengths) : BigInt(int(rng, out.length + 64)), true);
      return out;
    }
    case 1: // flip bits inside the JSON
      for (let k = 1 + int(rng, 3); k > 0; k--) out[8 + int(rng, length)] ^= 1 << int(rng, 8);
      return out;
    case 2: // replace a JSON byte with one that matters to the parser
      out[8 + int(rng, length)] = pick(rng, [...'{}[]",:-0123456789e. '].map((c) => c.charCodeAt(0)).concat([0, 0x80, 0xc3, 0xff]));
      return out;
    case 3: // truncate anywhere
      return out.subarray(0, int(rng, out.length));
    default: // grow or shrink the file past the data section
      return rng() < 0.5 ? out.subarray(0, Math.max(0, out.length - 1 - int(rng, 16))) : Uint8Array.from([...out, ...new Uint8Array(int(rng, 16) + 1)]);
  }
}

/** Opens `path`; returns 'accepted' after reading every tensor in every form, or 'rejected' for a SafetensorsError. */
function exercise(path: string): 'accepted' | 'rejected' {
  let reader: SafetensorsReader;
  try {
    reader = SafetensorsReader.open(path);
  } catch (error) {
    if (error instanceof SafetensorsError) return 'rejected';
    throw error;
  }
  using _ = reader;
  const fileSize = statSync(path).size;
  for (const [name, e] of reader.entries) {
    const numel = e.shape.reduce((a, d) => a * d, 1);
    if (e.start < 8 || e.end > fileSize || e.end < e.start) throw new Error(`accepted entry ${name} lies outside the file`);
    const raw = reader.raw(name);
    if (raw.byteLength !== e.end - e.start || raw.length !== numel) throw new Error(`raw ${name} has the wrong size`);
    if (reader.float32(name).length !== numel || reader.bf16(name).length !== numel) throw new Error(`conversions of ${name} have the wrong size`);
  }
  return 'accepted';
}

describe('safetensors fuzz', () => {
  it(`${ITERATIONS} seeded mutations (seed ${SEED}) are accepted and readable or refused with SafetensorsError`, () => {
    const rng = prng(SEED);
    const seeds = seedFiles();
    const path = join(tmp.dir, 'mutant.safetensors');
    const counts = { accepted: 0, rejected: 0 };
    for (let i = 0; i < ITERATIONS; i++) {
      let bytes = pick(rng, seeds);
      for (let k = 1 + int(rng, 2); k > 0; k--) {
        bytes = rng() < 0.55 ? mutateStructure(rng, bytes) : mutateBytes(rng, bytes);
        if (bytes.length < 8 || !isParsable(bytes)) break;
      }
      writeFileSync(path, bytes);
      try {
        counts[exercise(path)]++;
      } catch (error) {
        const kept = join(tmp.dir, `..`, `safetensors-fuzz-failure-${SEED}-${i}.safetensors`);
        writeFileSync(kept, bytes);
        throw new Error(`iteration ${i} (seed ${SEED}, input kept at ${kept}): ${(error as Error).stack}`);
      }
    }
    console.log(`safetensors fuzz: ${JSON.stringify(counts)}`);
    // Both outcomes must be common, or the mutations are not exploring the format.
    expect(counts.accepted).toBeGreaterThan(ITERATIONS / 20);
    expect(counts.rejected).toBeGreaterThan(ITERATIONS / 4);
  });
});

// Structure mutations need a header that still parses; byte mutations stop the chain otherwise.
function isParsable(bytes: Uint8Array): boolean {
  try {
    const { json } = headerOf(bytes);
    const names = Object.keys(json).filter((k) => k !== '__metadata__');
    return names.length > 0 && names.every((n) => {
      const e = json[n] as { data_offsets?: unknown; shape?: unknown } | null;
      return typeof e === 'object' && e !== null && Array.isArray(e.data_offsets) && Array.isArray(e.shape);
    });
  } catch {
    return false;
  }
}
