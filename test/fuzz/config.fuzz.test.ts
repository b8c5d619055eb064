// Seeded fuzzing of config.json against the bundled checkpoint: every mutated config is either
// accepted (and the checkpoint then loads, or is refused for the shape it does not have) or
// rejected with ConfigError / CheckpointError naming the problem — never another exception.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { describe, expect, it } from 'vitest';

import { SafetensorsReader } from '../../lib/io/safetensors.js';
import { ConfigError, parseConfig } from '../../lib/models/stdit3/config.js';
import { CheckpointError, loadWeights, mapWeights } from '../../lib/models/stdit3/weights.js';
import { Xoshiro128 } from '../../lib/sampling/noise.js';
import { TINY_MODEL } from '../helpers/golden.js';

const base = JSON.parse(readFileSync(join(TINY_MODEL, 'config.json'), 'utf8')) as Record<string, unknown>;
const VALUES: unknown[] = [null, -1, 0, 1, 3, 7, 64, 1.5, 2 ** 31, -(2 ** 40), Number.MAX_SAFE_INTEGER, 'x', '', true, false, [], [1], [1, 2, 2], [0, 2, 2], {}, { type: 'rflow' }];

function mutate(rng: Xoshiro128): unknown {
  const cfg: Record<string, unknown> = structuredClone(base);
  const keys = Object.keys(cfg);
  const edits = 1 + (rng.next() % 3);
  for (let e = 0; e < edits; e++) {
    const key = keys[rng.next() % keys.length]!;
    const op = rng.next() % 4;
    if (op === 0) delete cfg[key];
    else cfg[key] = VALUES[rng.next() % VALUES.length];
  }
  return rng.next() % 50 === 0 ? VALUES[rng.next() % VALUES.length] : cfg;
}

describe('config.json fuzz', () => {
  it('accepts or rejects 1500 mutated configs with a named reason', () => {
    const rng = new Xoshiro128(20241125);
    const reader = SafetensorsReader.open(join(TINY_MODEL, 'model.safetensors'));
    const outcomes = { accepted: 0, config: 0, checkpoint: 0 };
    try {
      for (let i = 0; i < 1500; i++) {
        const json = mutate(rng);
        try {
          const cfg = parseConfig(json);
          const w = loadWeights(reader, cfg);
          mapWeights(w, (t) => t.dispose());
          outcomes.accepted++;
        } catch (e) {
          if (e instanceof ConfigError) outcomes.config++;
          else if (e instanceof CheckpointError) outcomes.checkpoint++;
          else throw new Error(`mutation ${i} (${JSON.stringify(json)}) threw ${(e as Error).name}: ${(e as Error).message}`);
          expect((e as Error).message.length).toBeGreaterThan(10);
        }
      }
    } finally {
      reader.close();
    }
    console.log(`config fuzz: ${JSON.stringify(outcomes)}`);
    expect(outcomes.accepted).toBeGreaterThan(0);
    expect(outcomes.config + outcomes.checkpoint).toBeGreaterThan(0);
  });
});
