// The models the package ships, by name: folders loadModel() (STDiT3) or loadCausalSTDiT2() reads
// (config.json, model.safetensors, vocab.json), each described by the README.md beside its weights.
import { join } from 'node:path';

import { packageRoot } from '../native/loader.js';

export const BUNDLED_MODELS = ['stdit3-tiny', 'stdit3-tiny-causal', 'causal-stdit2-tiny'] as const;
export type BundledModelName = (typeof BUNDLED_MODELS)[number];

/** The folder of a bundled model: `loadModel(bundledModel('stdit3-tiny'))`. */
export function bundledModel(name: BundledModelName): string {
  if (!BUNDLED_MODELS.includes(name)) {
    throw new TypeError(`unknown bundled model "${String(name)}"; bundled: ${BUNDLED_MODELS.join(', ')}`);
  }
  return join(packageRoot(), 'lib', 'models', name);
}
