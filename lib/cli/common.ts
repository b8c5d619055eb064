// Shared pieces of the ditcache commands: the bundled models, option parsing, cache options.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

import type { CacheOption, PresetName } from '../cache/index.js';
import { writeSafetensors } from '../io/safetensors.js';
import { bundledModel, BUNDLED_MODELS, type BundledModelName } from '../models/bundled.js';
import { loadModel, type STDiT3 } from '../models/stdit3/model.js';
import { packageRoot } from '../native/loader.js';
import { runtime, type Isa } from '../runtime.js';
import type { Tensor } from '../tensor.js';
import { decodePreview, encodeGif, encodePngStrip } from '../video/index.js';

export const BUNDLED_MODEL = (): string => bundledModel('stdit3-tiny');
export const BUNDLED_CAUSAL_MODEL = (): string => bundledModel('causal-stdit2-tiny');

/** --model: a folder, or the name of a bundled model (`--model stdit3-tiny-causal`); `fallback` when absent. */
export function modelFolder(value: string | undefined, fallback: () => string): string {
  if (value === undefined) return fallback();
  return (BUNDLED_MODELS as readonly string[]).includes(value) && !existsSync(value) ? bundledModel(value as BundledModelName) : value;
}

/** The version in the package's package.json. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

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
  return v as PresetName; // checked where the policy is created, with the list of presets
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
  dtype: { type: 'string' },
} as const;

/** --dtype: f32 or bf16 (default f32). */
export function dtypeOption(dtype: string | undefined): 'f32' | 'bf16' {
  if (dtype !== undefined && dtype !== 'f32' && dtype !== 'bf16') throw new UsageError(`--dtype must be f32 or bf16, got ${dtype}`);
  return dtype ?? 'f32';
}

/** The model folder `dir`, loaded with --dtype (f32 or bf16; default f32). */
export function loadCliModel(dir: string, dtype: string | undefined): STDiT3 {
  return loadModel(dir, { dtype: dtypeOption(dtype) });
}

/** The format each output option writes, by file extension. */
const OUTPUT_FORMATS = { out: ['.gif'], strip: ['.png'], latent: ['.safetensors'], plot: ['.svg'] } as const;

/** Refuses, before any work, an output file whose extension its option does not write. */
export function checkOutputs(o: { [K in keyof typeof OUTPUT_FORMATS]?: string | undefined }): void {
  for (const [option, formats] of Object.entries(OUTPUT_FORMATS)) {
    const path = o[option as keyof typeof OUTPUT_FORMATS];
    if (path !== undefined && !formats.some((ext) => path.toLowerCase().endsWith(ext))) {
      throw new UsageError(`--${option} ${path}: unknown format; --${option} writes ${formats.join(', ')}`);
    }
  }
}

/** Writes the requested outputs of a generated latent [b, C, T, H, W] (video 0). */
export function writeOutputs(latent: Tensor, o: { out?: string | undefined; strip?: string | undefined; latent?: string | undefined; fps?: number }): string[] {
  const written: string[] = [];
  const preview = decodePreview(latent);
  if (o.out) {
    writeFileSync(o.out, encodeGif(preview, { fps: o.fps ?? 8 }));
    written.push(o.out);
  }
  if (o.strip) {
    writeFileSync(o.strip, encodePngStrip(preview));
    written.push(o.strip);
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
