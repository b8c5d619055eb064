// The ditcache command line as a user runs it (the compiled package, in a child process).
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/native/loader.js';

const main = join(packageRoot(), 'dist', 'lib', 'cli', 'main.js');
const dir = mkdtempSync(join(tmpdir(), 'ditcache-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const run = (...args: string[]) => spawnSync(process.execPath, [main, ...args], { cwd: dir, encoding: 'utf8' });

describe('ditcache CLI', () => {
  it('generates a GIF, a PNG strip, a latent and a schedule plot with a one-line summary', () => {
    const r = run('generate', '--prompt', 'a blue square moving up slowly on forest', '--steps', '6', '--cache', 'adacache-fast', '--out', 'v.gif', '--frames', 'v.png', '--latent', 'v.safetensors', '--plot', 's.svg');
    expect(r.status).toBe(0);
    expect(r.stderr + r.stdout).toMatch(/generated 8×16×16 latent in .*: \d+\/6 steps computed \(adacache-fast\)/);
    expect(readFileSync(join(dir, 'v.gif')).subarray(0, 6).toString()).toBe('GIF89a');
    expect(readFileSync(join(dir, 'v.png')).subarray(1, 4).toString()).toBe('PNG');
    expect(readFileSync(join(dir, 's.svg'), 'utf8')).toMatch(/<svg/);
    expect(existsSync(join(dir, 'v.safetensors'))).toBe(true);
  });

  it('accepts a calibrated codebook file as --cache', () => {
    writeFileSync(join(dir, 'cb.json'), JSON.stringify({ kind: 'adacache', codebook: [[0.1, 3], [1, 1]], cacheRes: 't-attn', cacheLoc: [1], distance: 'l1' }));
    const r = run('generate', '--prompt', 'a red circle resting on night', '--steps', '5', '--cache', 'cb.json', '--out', 'c.gif');
    expect(r.status).toBe(0);
    expect(r.stderr + r.stdout).toMatch(/steps computed \(adacache\)/);
  });

  it('prints the model info', () => {
    const out = execFileSync(process.execPath, [main, 'info'], { encoding: 'utf8' });
    expect(out).toMatch(/parameters 2,346,400/);
    expect(out).toMatch(/hidden 128, depth 4\+4/);
  });

  it('explains bad input with an exit code instead of a stack trace', () => {
    const word = run('generate', '--prompt', 'a purple circle', '--steps', '2');
    expect(word.status).toBe(1);
    expect(word.stderr).toMatch(/unknown word "purple"/);
    const usage = run('generate', '--steps', '2');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--prompt is required/);
    expect(run('frobnicate').status).toBe(2);
  });
});
