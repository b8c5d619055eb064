// When the addon cannot be loaded, the error lists every path tried and why each failed. The
// loader is exercised from a copy placed in a scratch package with no build, so that nothing
// real can be found.
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

type Loader = typeof import('../../lib/native/loader.js');

const LOADER = fileURLToPath(new URL('../../lib/native/loader.ts', import.meta.url));

describe('addon loader', () => {
  let root: string;
  let loader: Loader;
  const saved = process.env['DITCACHE_ADDON'];

  beforeAll(async () => {
    root = mkdtempSync(join(tmpdir(), 'ditcache-loader-'));
    writeFileSync(join(root, 'package.json'), JSON.stringify({ name: 'ditcache', type: 'module' }));
    mkdirSync(join(root, 'lib', 'native'), { recursive: true });
    copyFileSync(LOADER, join(root, 'lib', 'native', 'loader.ts'));
    loader = (await import(join(root, 'lib', 'native', 'loader.ts'))) as Loader;
  });

  function loadError(): string {
    try {
      loader.binding();
    } catch (e) {
      return (e as Error).message;
    }
    throw new Error('the addon loaded from a scratch package with no build');
  }

  afterAll(() => {
    if (saved === undefined) delete process.env['DITCACHE_ADDON'];
    else process.env['DITCACHE_ADDON'] = saved;
    rmSync(root, { recursive: true, force: true });
  });

  it('finds the package root and lists the candidates, DITCACHE_ADDON first', () => {
    process.env['DITCACHE_ADDON'] = join(root, 'nowhere', 'ditcache.node');
    expect(loader.packageRoot()).toBe(root);
    expect(loader.addonCandidates()).toEqual([
      join(root, 'nowhere', 'ditcache.node'),
      join(root, 'build', 'ditcache.node'),
      join(root, 'build', 'Release', 'ditcache.node'),
      join(root, 'build', 'Debug', 'ditcache.node'),
      join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'ditcache.node'),
    ]);
  });

  it('names every path tried, with the reason, and how to build', () => {
    process.env['DITCACHE_ADDON'] = join(root, 'nowhere', 'ditcache.node');
    expect(loadError().split('\n')).toEqual([
      'ditcache: the native addon could not be loaded. Reinstall the package (`npm install ditcache --build-from-source` compiles it), or in a source checkout run `npm install`. Tried:',
      `  ${join(root, 'nowhere', 'ditcache.node')}: not found`,
      `  ${join(root, 'build', 'ditcache.node')}: not found`,
      `  ${join(root, 'build', 'Release', 'ditcache.node')}: not found`,
      `  ${join(root, 'build', 'Debug', 'ditcache.node')}: not found`,
      `  ${join(root, 'prebuilds', `${process.platform}-${process.arch}`, 'ditcache.node')}: not found`,
    ]);
  });

  it('reports a file that exists but does not load with the first line of its error', () => {
    delete process.env['DITCACHE_ADDON'];
    const broken = join(root, 'build', 'ditcache.node');
    mkdirSync(join(root, 'build'), { recursive: true });
    writeFileSync(broken, 'not a shared object');
    const lines = loadError().split('\n');
    expect(lines).toHaveLength(5);
    expect(lines[1]!.startsWith(`  ${broken}: `)).toBe(true);
    expect(lines[1]).not.toContain('not found');
    expect(lines[1]).toMatch(/invalid ELF header|file too short|not a mach-o file|not a valid Win32/i);
    expect(lines[2]).toBe(`  ${join(root, 'build', 'Release', 'ditcache.node')}: not found`);
  });
});
