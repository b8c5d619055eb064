// The prompt/seed pairs the quality benchmarks share: static to fast motion on the bundled model's
// vocabulary.
export type Motion = 'static' | 'slow' | 'fast';

export const BENCH_PROMPTS: readonly [prompt: string, seed: number, motion: Motion][] = [
  ['a red circle resting on night', 1, 'static'],
  ['a white square resting on desert', 2, 'static'],
  ['a blue circle resting on forest', 3, 'static'],
  ['a yellow square moving left slowly on night', 4, 'slow'],
  ['a red square moving up slowly on forest', 5, 'slow'],
  ['a white circle moving right quickly on desert', 6, 'fast'],
  ['a blue square moving down quickly on night', 7, 'fast'],
  ['a yellow circle moving left quickly on forest', 8, 'fast'],
];
