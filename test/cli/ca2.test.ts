// `ditcache forward` for both model kinds against reference outputs, and `ditcache extend` with a
// CausalSTDiT2 from a picture and from a latent, and by default with the bundled one from the
// caption's first frame (the compiled package, in a child process).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { SafetensorsReader, writeSafetensors } from '../../lib/io/safetensors.js';
import { packageRoot } from '../../lib/native/loader.js';
import { gaussianNoise } from '../../lib/sampling/noise.js';
import { encodePng } from '../../lib/video/png.js';
import { compare, FIXTURES, goldenCase, openGolden } from '../helpers/golden.js';

const main = join(packageRoot(), 'dist', 'lib', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'ditcache-ca2-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { cwd: dir, encoding: 'utf8' });
const SKY = join(FIXTURES, 'causal-stdit2', 'sky');

describe('ditcache forward', () => {
  it('runs a CausalSTDiT2 on inputs named as its forward\'s arguments', () => {
    const r = run('forward', '--model', SKY, '--inputs', join(SKY, 'forward_b.in.safetensors'), '--out', 'out.safetensors');
    expect(r.status, r.stderr).toBe(0);
    const out = SafetensorsReader.open(join(dir, 'out.safetensors'));
    const ref = SafetensorsReader.open(join(SKY, 'forward_b.out.safetensors'));
    expect(compare(out.float32('out'), ref.float32('out'), { atol: 5e-6, rtol: 0 }).ok).toBe(true);
    out.close();
    ref.close();
  });

  it('runs an STDiT3 on x, timestep, y, mask, x_mask, fps, height, width', () => {
    const c = goldenCase('forward_stdit3-tiny_xmask_T8_16x16');
    const g = openGolden(c);
    const inputs = Object.fromEntries(
      ['x', 'timestep', 'y', 'mask', 'x_mask', 'fps', 'height', 'width'].map((n) => [n, { dtype: 'F32' as const, shape: g.entries.get(n)!.shape, data: g.float32(n) }]),
    );
    writeSafetensors(join(dir, 'stdit3.in.safetensors'), inputs);
    const r = run('forward', '--model', join(packageRoot(), 'lib', 'models', 'stdit3-tiny'), '--inputs', 'stdit3.in.safetensors', '--out', 'stdit3.out.safetensors');
    expect(r.status, r.stderr).toBe(0);
    const out = SafetensorsReader.open(join(dir, 'stdit3.out.safetensors'));
    expect(compare(out.float32('out'), g.float32('out'), c.tolerance).ok).toBe(true);
    out.close();
    g.close();
  });

  it('refuses an input its model\'s forward does not take, naming the ones it does', () => {
    writeSafetensors(join(dir, 'odd.safetensors'), { x: { dtype: 'F32', shape: [1], data: Float32Array.of(0) }, fps: { dtype: 'F32', shape: [1], data: Float32Array.of(24) } });
    const r = run('forward', '--model', SKY, '--inputs', 'odd.safetensors', '--out', 'o.safetensors');
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/"fps" is not an argument of CausalSTDiT2\.forward; expected x, timestep, y, mask, mask_channel, x_temporal_start/);
  });
});

describe('ditcache extend with a CausalSTDiT2', () => {
  it('extends a latent first frame, and a PNG picture for a model of RGB latents is refused with the reason', () => {
    const latent = gaussianNoise(1, 4 * 8 * 8);
    writeSafetensors(join(dir, 'first.safetensors'), { latent: { dtype: 'F32', shape: [1, 4, 1, 8, 8], data: latent } });
    const r = run('extend', '--model', SKY, '--from', 'first.safetensors', '--latent-frames', '7', '--steps', '20', '--out', 'sky.gif', '--latent', 'sky.safetensors');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/extended 1 → 7 frames/);
    const out = SafetensorsReader.open(join(dir, 'sky.safetensors'));
    expect(out.entries.get('latent')!.shape).toEqual([1, 4, 7, 8, 8]);
    expect(Array.from(out.float32('latent').subarray(0, 64))).toEqual(Array.from(latent.subarray(0, 64)));
    out.close();
    expect(readFileSync(join(dir, 'sky.gif')).subarray(0, 6).toString()).toBe('GIF89a');
    writeFileSync(join(dir, 'first.png'), encodePng(new Uint8Array(64 * 64 * 3), 64, 64));
    const png = run('extend', '--model', SKY, '--from', 'first.png', '--latent-frames', '7', '--steps', '20');
    expect(png.status).toBe(1);
    expect(png.stderr).toMatch(/latent has 4 channels; a picture gives 3/);
  });

  it('runs the bundled tiny CausalSTDiT2 when no --model is given, from the first frame the caption describes', () => {
    const r = run('extend', '--prompt', 'a blue circle moving up quickly on night', '--latent-frames', '7', '--steps', '20', '--latent', 'tiny.safetensors');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/extended 1 → 7 frames/);
    const out = SafetensorsReader.open(join(dir, 'tiny.safetensors'));
    expect(out.entries.get('latent')!.shape).toEqual([1, 3, 7, 12, 12]);
    out.close();
    expect(readFileSync(join(dir, 'extended.gif')).subarray(0, 6).toString()).toBe('GIF89a');
  });

  it('reaches the bundled causal STDiT3 by its name', () => {
    const r = run('extend', '--model', 'stdit3-tiny-causal', '--prompt', 'a blue circle moving up quickly on night', '--latent-frames', '10', '--cond-frames', '2', '--steps', '2', '--chunk', '4', '--out', 'causal.gif');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout + r.stderr).toMatch(/extended 2 → 10 frames/);
  });
});
