// `ditcache install-lib --prefix DIR`: libditcache for C and other runtimes, copied into an install
// prefix: include/ditcache.h, lib/libditcache.so, lib/pkgconfig/ditcache.pc, lib/cmake/ditcache.
// The source is the package's prebuilt prefix, or, after a build from source, `cmake --install`.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

import { packageRoot, prebuildDir } from '../native/loader.js';
import { parse, UsageError } from './common.js';

export const INSTALL_LIB_HELP = `ditcache install-lib --prefix DIR

Installs libditcache, ditcache.h, ditcache.pc and the CMake package ditcache into DIR (include/,
lib/, lib/pkgconfig/, lib/cmake/ditcache/); then, for example:
  PKG_CONFIG_PATH=DIR/lib/pkgconfig cc app.c $(pkg-config --cflags --libs ditcache) -Wl,-rpath,DIR/lib
  cmake -DCMAKE_PREFIX_PATH=DIR ...   with find_package(ditcache) and ditcache::ditcache`;

export function installLibCommand(argv: string[]): number {
  const { values } = parse(argv, { prefix: { type: 'string' } });
  if (values.help) {
    console.log(INSTALL_LIB_HELP);
    return 0;
  }
  if (!values.prefix) throw new UsageError('--prefix is required\n\n' + INSTALL_LIB_HELP);
  const prefix = resolve(values.prefix);
  const prebuilt = prebuildDir();
  const build = join(packageRoot(), 'build');
  if (existsSync(join(build, 'CMakeCache.txt'))) {
    const r = spawnSync('cmake', ['--install', build, '--prefix', prefix], { stdio: ['ignore', 'ignore', 'inherit'] });
    if (r.status !== 0) throw new Error(`cmake --install ${build} --prefix ${prefix} failed (${r.error?.message ?? `exit ${r.status}`})`);
  } else if (existsSync(join(prebuilt, 'lib'))) {
    for (const dir of ['include', 'lib']) cpSync(join(prebuilt, dir), join(prefix, dir), { recursive: true });
  } else {
    throw new Error(`no libditcache to install: neither a prebuilt one (${prebuilt}) nor a build from source (${build})`);
  }
  console.log(`installed libditcache into ${prefix} (include/, lib/, lib/pkgconfig/ditcache.pc, lib/cmake/ditcache/)`);
  return 0;
}
