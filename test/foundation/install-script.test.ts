// The package's install step where no prebuilt addon loads and nothing to compile with is on PATH:
// it fails with one message naming each missing tool, before starting a build.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { afterAll, describe, expect, it } from 'vitest';

import { packageRoot } from '../../lib/native/loader.js';

describe('install script', () => {
  const dir = mkdtempSync(join(tmpdir(), 'ditcache-install-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('names every missing tool of a source build, CUDA included when asked', () => {
    // A package without prebuilds (nor a tsconfig.json: not a source checkout), a PATH with node alone.
    mkdirSync(join(dir, 'pkg', 'scripts'), { recursive: true });
    mkdirSync(join(dir, 'bin'));
    copyFileSync(join(packageRoot(), 'scripts', 'install.mjs'), join(dir, 'pkg', 'scripts', 'install.mjs'));
    copyFileSync(join(packageRoot(), 'package.json'), join(dir, 'pkg', 'package.json'));
    symlinkSync(process.execPath, join(dir, 'bin', 'node'));
    const run = (env: Record<string, string>) =>
      spawnSync(process.execPath, ['scripts/install.mjs'], { cwd: join(dir, 'pkg'), encoding: 'utf8', env: { PATH: join(dir, 'bin'), ...env } });
    const cpu = run({});
    expect(cpu.status).toBe(1);
    expect(cpu.stderr).toMatch(/^ditcache: this copy of the package has no prebuilt addon; building from source\./m);
    expect(cpu.stderr).toMatch(/^ {2}- CMake >= 3\.18 \(no `cmake` on PATH\)$/m);
    expect(cpu.stderr).toMatch(/^ {2}- a C\+\+17 compiler \(no c\+\+, g\+\+ or clang\+\+ on PATH\)$/m);
    expect(cpu.stderr).toMatch(/^ {2}- a build tool CMake can drive/m);
    expect(cpu.stderr).toMatch(/^ {2}- the npm packages cmake-js, node-addon-api, node-api-headers \(npm install --save-dev /m);
    expect(cpu.stderr).not.toMatch(/CUDA/);
    const cuda = run({ DITCACHE_CUDA: 'ON' });
    expect(cuda.status).toBe(1);
    expect(cuda.stderr).toMatch(/^ {2}- the CUDA toolkit for DITCACHE_CUDA=ON \(no nvcc on PATH, no CUDACXX\)$/m);
  });
});
