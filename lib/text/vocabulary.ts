// The fixture models' caption encoder: a fixed embedding table indexed by word. A prompt becomes
// y [1, 1, L, caption_channels] (one row per word, zeros after the last) and mask [1, L].
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

import { SafetensorsReader } from '../io/safetensors.js';
import { tensor, type Device, type Tensor } from '../tensor.js';

export interface Caption {
  y: Tensor;
  /** [b][L]: 1 = word, 0 = padding */
  mask: number[][];
  words: string[][];
}

export class Vocabulary {
  constructor(
    readonly words: readonly string[],
    private readonly rows: ReadonlyMap<string, number>,
    private readonly table: Float32Array,
    readonly captionChannels: number,
    readonly maxLength: number,
    readonly templates: Record<string, string>,
  ) {}

  /** Reads vocab.json and vocab.safetensors (text_embedding_table) of a model folder. */
  static load(dir: string): Vocabulary {
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(readFileSync(join(dir, 'vocab.json'), 'utf8')) as Record<string, unknown>;
    } catch (e) {
      throw new Error(`cannot read the caption vocabulary ${join(dir, 'vocab.json')}: ${(e as Error).message}`);
    }
    const words = json['words'];
    const cc = json['caption_channels'];
    const maxLength = json['model_max_length'];
    if (!Array.isArray(words) || !words.every((w) => typeof w === 'string') || typeof cc !== 'number' || typeof maxLength !== 'number') {
      throw new Error(`${join(dir, 'vocab.json')}: expected "words", "caption_channels" and "model_max_length"`);
    }
    const reader = SafetensorsReader.open(join(dir, 'vocab.safetensors'));
    let table: Float32Array;
    try {
      const entry = reader.entry('text_embedding_table');
      if (entry.shape.length !== 2 || entry.shape[0] !== words.length || entry.shape[1] !== cc) {
        throw new Error(`vocab.safetensors: text_embedding_table is [${entry.shape}], expected [${words.length}, ${cc}]`);
      }
      table = reader.float32('text_embedding_table');
    } finally {
      reader.close();
    }
    const rows = new Map((words as string[]).map((w, i) => [w, i]));
    const templates = (typeof json['templates'] === 'object' && json['templates'] ? json['templates'] : {}) as Record<string, string>;
    return new Vocabulary(words as string[], rows, table, cc, maxLength, templates);
  }

  tokenize(prompt: string): string[] {
    const words = prompt.toLowerCase().split(/[^a-z0-9]+/).filter(Boolean);
    if (words.length === 0) throw new Error('the prompt has no words');
    if (words.length > this.maxLength) {
      throw new Error(`the prompt has ${words.length} words; this model reads at most ${this.maxLength}`);
    }
    const unknown = words.filter((w) => !this.rows.has(w));
    if (unknown.length) {
      throw new Error(`unknown word${unknown.length > 1 ? 's' : ''} ${unknown.map((w) => `"${w}"`).join(', ')}; this model knows: ${this.words.join(' ')}`);
    }
    return words;
  }

  /** y [b, 1, L, caption_channels] and mask for `prompts`. */
  encode(prompts: readonly string[], device: Device = 'cpu'): Caption {
    const L = this.maxLength, Cc = this.captionChannels;
    const y = new Float32Array(prompts.length * L * Cc);
    const mask: number[][] = [];
    const words = prompts.map((p) => this.tokenize(p));
    words.forEach((ws, b) => {
      ws.forEach((w, l) => y.set(this.table.subarray(this.rows.get(w)! * Cc, (this.rows.get(w)! + 1) * Cc), (b * L + l) * Cc));
      mask.push(Array.from({ length: L }, (_, l) => (l < ws.length ? 1 : 0)));
    });
    return { y: tensor(y, [prompts.length, 1, L, Cc], { device }), mask, words };
  }
}
