// A checkpoint folder's tensors: one `model.safetensors`, or the shards a
// `model.safetensors.index.json` names (the Hugging Face layout of large checkpoints), read by name.
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';

import type { Tensor } from '../tensor.js';
import { SafetensorsReader, type ReadTensorOptions, type StEntry } from './safetensors.js';

export class CheckpointError extends Error {
  override name = 'CheckpointError';
  constructor(
    message: string,
    readonly tensor?: string,
  ) {
    super(message);
  }
}

/** Named tensors, read on demand. */
export interface TensorSource {
  /** what to name in messages */
  readonly path: string;
  readonly entries: ReadonlyMap<string, StEntry>;
  tensor(name: string, options?: ReadTensorOptions): Tensor;
  close(): void;
}

export const SINGLE_FILE = 'model.safetensors';
export const SHARD_INDEX = 'model.safetensors.index.json';

class ShardedCheckpoint implements TensorSource {
  readonly entries = new Map<string, StEntry>();
  readonly #owner = new Map<string, SafetensorsReader>();
  readonly #readers: SafetensorsReader[] = [];

  constructor(readonly path: string) {
    let index: unknown;
    try {
      index = JSON.parse(readFileSync(path, 'utf8'));
    } catch (e) {
      throw new CheckpointError(`cannot read ${path}: ${(e as Error).message}`);
    }
    const map = (index as { weight_map?: unknown } | null)?.weight_map;
    if (typeof map !== 'object' || map === null || Array.isArray(map)) throw new CheckpointError(`${path}: "weight_map" must map tensor names to shard files`);
    const dir = join(path, '..');
    const byFile = new Map<string, SafetensorsReader>();
    try {
      for (const [name, file] of Object.entries(map as Record<string, unknown>)) {
        // Shards are files of this folder: a name with a path in it is refused.
        if (typeof file !== 'string' || basename(file) !== file || !file.endsWith('.safetensors')) {
          throw new CheckpointError(`${path}: tensor "${name}" names the shard ${JSON.stringify(file)}, expected a .safetensors file of this folder`, name);
        }
        let reader = byFile.get(file);
        if (!reader) {
          reader = SafetensorsReader.open(join(dir, file));
          byFile.set(file, reader);
          this.#readers.push(reader);
        }
        const entry = reader.entries.get(name);
        if (!entry) throw new CheckpointError(`${path}: tensor "${name}" is not in its shard ${file}`, name);
        this.entries.set(name, entry);
        this.#owner.set(name, reader);
      }
    } catch (e) {
      this.close();
      throw e;
    }
  }

  tensor(name: string, options?: ReadTensorOptions): Tensor {
    const reader = this.#owner.get(name);
    if (!reader) throw new CheckpointError(`${this.path}: no tensor "${name}"`, name);
    return reader.tensor(name, options);
  }

  close(): void {
    for (const r of this.#readers) r.close();
  }
}

/** The tensors of the checkpoint folder `dir` (model.safetensors, else its sharded index). */
export function openCheckpoint(dir: string): TensorSource {
  const single = join(dir, SINGLE_FILE);
  const index = join(dir, SHARD_INDEX);
  if (!existsSync(single) && existsSync(index)) return new ShardedCheckpoint(index);
  return SafetensorsReader.open(single);
}

const FLOAT_DTYPES = new Set(['F32', 'F16', 'BF16', 'F64']);

/** Every expected parameter is present, of a float dtype and of its shape, before any is read. */
export function checkParameters(source: TensorSource, shapes: ReadonlyMap<string, readonly number[]>): void {
  for (const [name, shape] of shapes) {
    const entry = source.entries.get(name);
    if (!entry) throw new CheckpointError(`checkpoint ${source.path}: missing tensor "${name}" (expected shape [${shape}])`, name);
    if (!FLOAT_DTYPES.has(entry.dtype)) {
      throw new CheckpointError(`checkpoint ${source.path}: tensor "${name}" has dtype ${entry.dtype}, expected a float dtype`, name);
    }
    if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(`checkpoint ${source.path}: tensor "${name}" has shape [${entry.shape}], expected [${shape}] for this config`, name);
    }
  }
}
