// Finds and loads the addon. When it cannot, the error lists every path tried and why it failed.
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import type { NativeBinding } from './binding.js';

const require = createRequire(import.meta.url);

/** The package root: the nearest folder upwards holding ditcache's package.json. */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = join(dir, 'package.json');
    if (existsSync(pkg)) {
      try {
        if ((JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'ditcache') return dir;
      } catch {
        // not ours: keep walking up
      }
    }
    const parent = dirname(dir);
    if (parent === dir) throw new Error('ditcache: package root not found above ' + fileURLToPath(import.meta.url));
    dir = parent;
  }
}

/** The folder the published package's prebuilt binaries for this platform lie in. */
export function prebuildDir(): string {
  return join(packageRoot(), 'prebuilds', `${process.platform}-${process.arch}`);
}

/** Candidate addon paths, most specific first: a build from source wins over the prebuild. */
export function addonCandidates(): string[] {
  const root = packageRoot();
  const env = process.env['DITCACHE_ADDON'];
  return [
    ...(env ? [resolve(env)] : []),
    join(root, 'build', 'ditcache.node'), // a plain CMake build
    join(root, 'build', 'Release', 'ditcache.node'), // cmake-js (npm install) and node-gyp
    join(root, 'build', 'Debug', 'ditcache.node'),
    join(prebuildDir(), 'ditcache.node'), // the published package (scripts/prebuild.mjs)
  ];
}

let cached: NativeBinding | undefined;

export function binding(): NativeBinding {
  if (cached) return cached;
  const tried: string[] = [];
  for (const path of addonCandidates()) {
    if (!existsSync(path)) {
      tried.push(`  ${path}: not found`);
      continue;
    }
    try {
      cached = require(path) as NativeBinding;
      return cached;
    } catch (e) {
      tried.push(`  ${path}: ${(e as Error).message.split('\n')[0]}`);
    }
  }
  throw new Error(
    'ditcache: the native addon could not be loaded. Reinstall the package (`npm install ditcache --build-from-source` compiles it), or in a source checkout run `npm install`. Tried:\n' +
      tried.join('\n'),
  );
}
