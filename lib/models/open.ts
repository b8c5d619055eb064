// Any supported checkpoint folder, by the "model_type" of its config.json.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { ConfigError } from './config-fields.js';
import { loadCausalSTDiT2, type CausalSTDiT2 } from './causal-stdit2/model.js';
import { loadModel, type STDiT3 } from './stdit3/model.js';
import type { LoadOptions } from './stdit3/weights.js';

export type AnyModel = STDiT3 | CausalSTDiT2;

/** The model type a folder's config.json names ("STDiT3" when it names none, as older configs do). */
export function modelTypeOf(dir: string): 'STDiT3' | 'CausalSTDiT2' {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'));
  } catch (e) {
    throw new ConfigError(`cannot read ${join(dir, 'config.json')}: ${(e as Error).message}`);
  }
  const t = (json as { model_type?: unknown } | null)?.model_type ?? 'STDiT3';
  if (t !== 'STDiT3' && t !== 'CausalSTDiT2') throw new ConfigError(`config.json: "model_type" ${JSON.stringify(t)} is not supported; expected "STDiT3" or "CausalSTDiT2"`);
  return t;
}

/** Loads an STDiT3 or a CausalSTDiT2 folder. */
export function openModel(dir: string, options: LoadOptions = {}): AnyModel {
  return modelTypeOf(dir) === 'CausalSTDiT2' ? loadCausalSTDiT2(dir, options) : loadModel(dir, options);
}
