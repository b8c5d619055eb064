// Builds what the published package carries for this platform, before packing (npm's prepack):
// prebuilds/<platform>-<arch>/ holds the CPU-only addon (ditcache.node) and an install prefix for
// C callers (include/ditcache.h, lib/libditcache.so.0, lib/pkgconfig, lib/cmake/ditcache).
// The CMake build directory (default build, the one npm install uses) is configured CPU-only and
// Release, then built and installed stripped. npm packs no symbolic links, so lib/libditcache.so
// is a linker script naming the versioned library rather than a link to it.
//
//   node scripts/prebuild.mjs [build-dir]
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, readFileSync, readdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const build = resolve(root, process.argv[2] ?? 'build');
const out = join(root, 'prebuilds', `${process.platform}-${process.arch}`);

function run(command, args) {
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${r.status})`);
}

run('cmake', ['-S', root, '-B', build, '-DDITCACHE_CUDA=OFF', '-DCMAKE_BUILD_TYPE=Release', '-DDITCACHE_NODE=ON']);
run('cmake', ['--build', build, '--parallel', '--target', 'ditcache', 'ditcache_node']);
rmSync(out, { recursive: true, force: true });
run('cmake', ['--install', build, '--prefix', out, '--strip']);

// The addon: wherever the generator put it (cmake-js: Release/), stripped of its symbol table.
const addon = ['Release/ditcache.node', 'ditcache.node'].map((p) => join(build, p)).find(existsSync);
if (!addon) throw new Error(`no ditcache.node in ${build}`);
copyFileSync(addon, join(out, 'ditcache.node'));
run('strip', ['--strip-unneeded', join(out, 'ditcache.node')]);

const lib = join(out, 'lib');
const real = readdirSync(lib).find((f) => /^libditcache\.so\.\d+\.\d+\.\d+$/.test(f));
if (!real) throw new Error(`no versioned libditcache in ${lib}`);
for (const link of ['libditcache.so', 'libditcache.so.0']) rmSync(join(lib, link), { force: true });
renameSync(join(lib, real), join(lib, 'libditcache.so.0'));
writeFileSync(join(lib, 'libditcache.so'), '/* The linker reads this; programs load libditcache.so.0 (its soname). */\nINPUT(libditcache.so.0)\n');
// The exported CMake targets name the versioned file; point them at the one shipped.
const targets = join(lib, 'cmake', 'ditcache');
for (const f of readdirSync(targets).filter((f) => /^ditcacheTargets-.*\.cmake$/.test(f))) {
  const path = join(targets, f);
  writeFileSync(path, readFileSync(path, 'utf8').replaceAll(real, 'libditcache.so.0'));
}
console.log(`prebuilt: ${out}`);
