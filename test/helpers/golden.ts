// Golden vectors of test/fixtures/golden: paths, the manifest, and comparison helpers.
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

import { SafetensorsReader } from '../../lib/io/safetensors.js';

export const FIXTURES = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures');
export const GOLDEN = join(FIXTURES, 'golden');
export const TINY_MODEL = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'lib', 'models', 'stdit3-tiny');
export const CAUSAL_MODEL = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'lib', 'models', 'stdit3-tiny-causal');

export interface GoldenCase {
  name: string;
  kind: string;
  file: string;
  tolerance: { atol: number; rtol: number };
  [key: string]: unknown;
}

export function goldenCase(name: string): GoldenCase {
  const manifest = JSON.parse(readFileSync(join(GOLDEN, 'manifest.json'), 'utf8')) as { cases: GoldenCase[] };
  const c = manifest.cases.find((x) => x.name === name);
  if (!c) throw new Error(`no golden case ${name}`);
  return c;
}

export function openGolden(c: GoldenCase): SafetensorsReader {
  return SafetensorsReader.open(join(GOLDEN, c.file));
}

/** Largest |a − b| and whether every element satisfies |a − b| <= atol + rtol·|b|. */
export function compare(a: ArrayLike<number>, b: ArrayLike<number>, tol: { atol: number; rtol: number }) {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let maxAbs = 0;
  let ok = true;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    if (d > maxAbs || Number.isNaN(d)) maxAbs = Number.isNaN(d) ? Infinity : d;
    if (!(d <= tol.atol + tol.rtol * Math.abs(b[i]!))) ok = false;
  }
  return { maxAbs, ok };
}
