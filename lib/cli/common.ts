// Shared pieces of the ditcache commands: the bundled models, option parsing, cache options.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import type { CacheOption } from '../cache/index.js';
import { writeSafetensors } from '../io/safetensors.js';
import { packageRoot } from '../native/loader.js';
import { runtime, type Isa } from '../runtime.js';
import type { Tensor } from '../tensor.js';
import { decodePreview, encodeGif, encodePngStrip } from '../video/index.js';

export const BUNDLED_MODEL = (): string => join(packageRoot(), 'lib', 'models', 'stdit3-tiny');
export const BUNDLED_CAUSAL_MODEL = (): string => join(packageRoot(), 'lib', 'models', 'stdit3-tiny-causal');

export class UsageError extends Error {
  override name = 'UsageError';
}

type OptionSpec = Record<string, { type: 'string' | 'boolean' }>;
export type ParsedValues<T extends OptionSpec> = { [K in keyof T]?: T[K]['type'] extends 'boolean' ? boolean : string } & { help?: boolean };

export function parse<const T extends OptionSpec>(argv: string[], options: T): { values: ParsedValues<T> } {
  try {
    const r = parseArgs({ args: argv, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: false, strict: true });
    return { values: r.values as ParsedValues<T> };
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
}

export function intOption(v: string | undefined, name: string, fallback?: number): number | undefined {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isInteger(n)) throw new UsageError(`--${name} must be an integer, got "${v}"`);
  return n;
}

export function numberOption(v: string | undefined, name: string, fallback?: number): number | undefined {
  if (v === undefined) return fallback;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new UsageError(`--${name} must be a number, got "${v}"`);
  return n;
}

/** --cache: a preset name or a JSON file holding a spec (as `ditcache calibrate` writes). */
export function cacheOption(v: string | undefined): CacheOption | undefined {
  if (v === undefined) return undefined;
  if (v.endsWith('.json')) {
    try {
      return JSON.parse(readFileSync(v, 'utf8')) as CacheOption;
    } catch (e) {
      throw new UsageError(`--cache ${v}: ${(e as Error).message}`);
    }
  }
  return v;
}

/** --threads / --isa, applied before any work. */
export function applyMachineOptions(values: { threads?: string | undefined; isa?: string | undefined }): void {
  const threads = intOption(values.threads, 'threads');
  if (threads !== undefined) runtime.setThreads(threads);
  if (values.isa !== undefined) runtime.setIsa(values.isa as Isa);
}

export const MACHINE_OPTIONS = {
  threads: { type: 'string' },
  isa: { type: 'string' },
} as const;

/** Writes the requested outputs of a generated latent [b, C, T, H, W] (video 0). */
export function writeOutputs(latent: Tensor, o: { out?: string | undefined; frames?: string | undefined; latent?: string | undefined; fps?: number }): string[] {
  const written: string[] = [];
  const preview = decodePreview(latent);
  if (o.out) {
    writeFileSync(o.out, encodeGif(preview, { fps: o.fps ?? 8 }));
    written.push(o.out);
  }
  if (o.frames) {
    writeFileSync(o.frames, encodePngStrip(preview));
    written.push(o.frames);
  }
  if (o.latent) {
    writeSafetensors(o.latent, { latent: { dtype: 'F32', shape: [...latent.shape], data: latent.toFloat32Array() } }, { format: 'ditcache-latent' });
    written.push(o.latent);
  }
  return written;
}

export function seconds(ms: number): string {
  return ms >= 1000 ? `${(ms / 1000).toFixed(2)} s` : `${ms.toFixed(0)} ms`;
}
