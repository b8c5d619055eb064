// The synthetic world the bundled CausalSTDiT2 was trained on (tools/causal-stdit2/moving_shapes.py):
// one soft-edged circle or square of a colour on a background tint, as an RGB-like latent frame.
// `ditcache extend` starts from the first frame a caption describes when no picture is given.
import { Xoshiro128 } from '../sampling/noise.js';
import { argumentError } from '../util/errors.js';

const COLOURS: Record<string, readonly [number, number, number]> = {
  red: [0.9, -0.75, -0.7],
  yellow: [0.95, 0.85, -0.8],
  blue: [-0.75, -0.45, 0.95],
  white: [0.95, 0.95, 0.95],
};
const BACKGROUNDS: Record<string, readonly [number, number, number]> = {
  night: [-0.85, -0.8, -0.45],
  forest: [-0.55, 0.05, -0.6],
  desert: [0.45, 0.15, -0.35],
};
const SHAPES = ['circle', 'square'];
/** The training world's frame size (cells) and object radius. */
export const SCENE_SIZE = 12;
const RADIUS = 2.0;

/** Object coverage in [0, 1] of cell (x, y) for an object centred at (cx, cy): 1 inside, a one-cell soft edge. */
function coverage(shape: string, cx: number, cy: number, x: number, y: number): number {
  const dx = x + 0.5 - cx, dy = y + 0.5 - cy;
  const d = shape === 'circle' ? Math.sqrt(dx * dx + dy * dy) : Math.max(Math.abs(dx), Math.abs(dy));
  return Math.min(1, Math.max(0, RADIUS + 0.5 - d));
}

/**
 * The first frame of the scene a caption describes ("a <colour> <shape> ... on <background>"),
 * [1, 3, 1, 12, 12] row-major, the object at a position drawn from `seed`.
 */
export function sceneFirstFrame(caption: string, seed = 0): Float32Array {
  const words = caption.trim().split(/\s+/);
  const colour = words.find((w) => w in COLOURS);
  const shape = words.find((w) => SHAPES.includes(w));
  const background = words.find((w) => w in BACKGROUNDS);
  if (!colour || !shape || !background) {
    throw argumentError(`the caption "${caption}" does not name a colour (${Object.keys(COLOURS).join('|')}), a shape (circle|square) and a background (${Object.keys(BACKGROUNDS).join('|')}) to draw a first frame from; give a picture or a latent instead`);
  }
  const rng = new Xoshiro128(seed);
  const lo = RADIUS, hi = SCENE_SIZE - RADIUS;
  const cx = lo + (hi - lo) * rng.uniform(), cy = lo + (hi - lo) * rng.uniform();
  const n = SCENE_SIZE * SCENE_SIZE;
  const out = new Float32Array(3 * n);
  for (let y = 0; y < SCENE_SIZE; y++) {
    for (let x = 0; x < SCENE_SIZE; x++) {
      const c = coverage(shape, cx, cy, x, y);
      for (let k = 0; k < 3; k++) out[k * n + y * SCENE_SIZE + x] = BACKGROUNDS[background]![k]! * (1 - c) + COLOURS[colour]![k]! * c;
    }
  }
  return out;
}
