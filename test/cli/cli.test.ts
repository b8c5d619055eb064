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
    const r = run('generate', '--prompt', 'a blue square moving up slowly on forest', '--steps', '6', '--cache', 'adacache-fast', '--out', 'v.gif', '--strip', 'v.png', '--latent', 'v.safetensors', '--plot', 's.svg');
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

  it('prints the model info, and why CUDA is unavailable where it is', () => {
    const out = execFileSync(process.execPath, [main, 'info'], { encoding: 'utf8' });
    expect(out).toMatch(/parameters 2,346,400/);
    expect(out).toMatch(/hidden 128, depth 4\+4/);
    expect(out).toMatch(/^cuda {7}(available|unavailable: \S.*)$/m);
  });

  it('prints the package version', () => {
    const version = (JSON.parse(readFileSync(join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
    for (const flag of ['--version', '-v']) {
      const r = run(flag);
      expect(r.status).toBe(0);
      expect(r.stdout.trim()).toBe(version);
    }
  });

  it('refuses an output format it does not write, naming the ones it does, before any work', () => {
    const cases: [string[], RegExp][] = [
      [['--out', 'x.mp4'], /--out x\.mp4: unknown format; --out writes \.gif$/m],
      [['--strip', 'x.jpg'], /--strip x\.jpg: unknown format; --strip writes \.png$/m],
      [['--latent', 'x.npy'], /--latent x\.npy: unknown format; --latent writes \.safetensors$/m],
      [['--plot', 'x.png'], /--plot x\.png: unknown format; --plot writes \.svg$/m],
    ];
    for (const [args, message] of cases) {
      const r = run('generate', '--prompt', 'a red circle resting on night', '--steps', '2', ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/denoising/);
    }
    const extend = run('extend', '--prompt', 'a red circle resting on night', '--latent-frames', '12', '--out', 'x.webm');
    expect(extend.status).toBe(2);
    expect(extend.stderr).toMatch(/--out x\.webm: unknown format; --out writes \.gif/);
  });

  it('explains bad input with an exit code instead of a stack trace', () => {
    const word = run('generate', '--prompt', 'a purple circle', '--steps', '2');
    expect(word.status).toBe(1);
    expect(word.stderr).toMatch(/^ditcache: .*unknown word "purple"/);
    expect(word.stderr, 'no class names').not.toMatch(/(Type|Range|Vocabulary|Config)?Error:/);
    const usage = run('generate', '--steps', '2');
    expect(usage.status).toBe(2);
    expect(usage.stderr).toMatch(/--prompt is required/);
    expect(run('frobnicate').status).toBe(2);
  });
});

describe('ditcache bench', () => {
  // One small shape per op: each must run and print its throughput line.
  const SMALL: Record<string, string[]> = {
    gemm: ['--shape', '64,48,40', '--activation', 'gelu-tanh'],
    attention: ['--shape', '3,2,16,20,72', '--causal', '--rope', '--visible', '12'],
    layernorm: ['--shape', '64,96'],
    rmsnorm: ['--shape', '64,72'],
    modulate: ['--shape', '64,96', '--groups', '4'],
    'gelu-tanh': ['--shape', '64,96'],
    silu: ['--shape', '64,96'],
    softmax: ['--shape', '64,96'],
    add: ['--shape', '64,96'],
    mul: ['--shape', '64,96'],
    axpby: ['--shape', '64,96'],
    rope: ['--shape', '2,2,8,72'],
    'residual-distance': ['--shape', '64,96', '--norm', 'l2', '--refresh'],
    'motion-score': ['--shape', '2,4,8,16', '--strides', '1,3'],
    patchify: ['--shape', '1,4,3,9,10', '--patch', '1,2,2'],
    unpatchify: ['--shape', '1,4,3,9,10', '--patch', '1,2,2'],
  };

  it('times every op the help lists, with the figures of its kind', () => {
    const help = run('bench', '--help');
    expect(help.status).toBe(0);
    const listed = [...help.stdout.matchAll(/^ {2}([a-z-]+) +--shape/gm)].map((m) => m[1]);
    expect(listed.sort()).toEqual(Object.keys(SMALL).sort());
    for (const [op, args] of Object.entries(SMALL)) {
      const r = run('bench', op, ...args, '--repeat', '3', '--threads', '1', '--no-peak');
      expect(r.status, `${op}: ${r.stderr}`).toBe(0);
      expect(r.stdout).toMatch(new RegExp(`^${op} .* · \\w+ · 1 thread\\n  median [\\d.]+ ms \\(min [\\d.]+ ms, 3 runs\\)`));
      if (op === 'gemm' || op === 'attention') {
        expect(r.stdout).toMatch(/GFLOP\/s/);
      } else {
        expect(r.stdout).toMatch(/GB\/s · [\d.]+× the speed of a copy of the same bytes \([\d.]+ ms\)/);
      }
    }
  });

  it('prints the fraction of the FMA peak, and forces an ISA', () => {
    const r = run('bench', 'gemm', '--shape', '96,64,64', '--repeat', '3', '--isa', 'portable');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/ · portable · /);
    expect(r.stdout).toMatch(/% of the FMA peak \([\d.]+ GFLOP\/s\)/);
  });

  it('explains bad arguments with exit code 2', () => {
    const cases: [string[], RegExp][] = [
      [['frobnicate', '--shape', '1,1'], /expected one op \(gemm, attention/],
      [['gemm'], /--shape M,N,K is required/],
      [['gemm', '--shape', '4,4'], /--shape must be M,N,K/],
      [['attention', '--shape', '1,1,8,8', '--visible', '9'], /--visible must be at most Nk = 8/],
      [['attention', '--shape', '1,1,8,7', '--rope'], /--rope needs an even head_dim/],
      [['modulate', '--shape', '10,4', '--groups', '3'], /--groups 3 must divide the 10 rows/],
      [['motion-score', '--shape', '1,4,2,2', '--strides', '4'], /--strides must each be below T = 4/],
      [['patchify', '--shape', '1,1,1,4,4', '--patch', '1,2'], /--patch must be 3 positive integers/],
      [['residual-distance', '--shape', '2,2', '--norm', 'l3'], /--norm must be l1 or l2/],
      [['gemm', '--shape', '2,2,2', '--isa', 'sse'], /--isa must be one of portable, avx2, avx512, avx512_bf16, amx/],
      [['gemm', '--shape', '2,2,2', '--repeat', '0'], /--repeat must be a positive integer/],
    ];
    for (const [args, message] of cases) {
      const r = run('bench', ...args);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(message);
    }
  });
});
