// Open-Sora 1.2 rectified flow: sampling timesteps with the resolution/length transform, in float32
// operation by operation as the reference computes them.
const f32 = Math.fround;

export interface TransformInputs {
  /** nominal pixel height and width */
  height: number;
  width: number;
  /** nominal frame count (4 × latent frames for the fixtures) */
  numFrames: number;
}

/** t' = ratio·t / (1 + (ratio − 1)·t) on t/N, ratio = sqrt(h·w/512²)·sqrt(floor(frames/17)·5). */
export function timestepTransform(t: number, inputs: TransformInputs, numTimesteps = 1000): number {
  const tt = f32(f32(t) / numTimesteps);
  const ratioSpace = f32(Math.sqrt(f32(f32(f32(inputs.height) * f32(inputs.width)) / (512 * 512))));
  const nf = inputs.numFrames === 1 ? 1 : Math.floor(inputs.numFrames / 17) * 5;
  const ratioTime = f32(Math.sqrt(nf));
  const ratio = f32(ratioSpace * ratioTime);
  const newT = f32(f32(ratio * tt) / f32(1 + f32(f32(ratio - 1) * tt)));
  return f32(newT * numTimesteps);
}

export interface ScheduleOptions extends TransformInputs {
  steps: number;
  useTimestepTransform?: boolean;
  numTimesteps?: number;
}

/** The timesteps t_i = (1 − i/N)·1000 (transformed) and the step sizes dt_i of the Euler update. */
export function samplingSchedule(o: ScheduleOptions): { timesteps: Float32Array; dt: Float32Array } {
  if (!Number.isInteger(o.steps) || o.steps < 1 || o.steps > 10000) throw new RangeError(`steps must be an integer in [1, 10000], got ${o.steps}`);
  const nt = o.numTimesteps ?? 1000;
  if (o.useTimestepTransform !== false && o.numFrames > 1 && o.numFrames < 17) {
    throw new RangeError(
      `the Open-Sora timestep transform needs numFrames >= 17 (or 1), got ${o.numFrames}: floor(numFrames / 17) would be 0 and every timestep 0`,
    );
  }
  const timesteps = new Float32Array(o.steps);
  for (let i = 0; i < o.steps; i++) {
    const t = f32((1 - i / o.steps) * nt);
    timesteps[i] = o.useTimestepTransform === false ? t : timestepTransform(t, o, nt);
  }
  const dt = new Float32Array(o.steps);
  for (let i = 0; i < o.steps; i++) {
    const d = i < o.steps - 1 ? f32(timesteps[i]! - timesteps[i + 1]!) : timesteps[i]!;
    dt[i] = f32(d / nt);
  }
  return { timesteps, dt };
}
