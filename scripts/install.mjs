// npm's install step. A published package carries a prebuilt addon for linux-x64 (glibc) in
// prebuilds/, which is used when it loads here; otherwise, and in a source checkout, the addon and
// libditcache are compiled with CMake through cmake-js. Before compiling, every missing tool is
// named at once. A source checkout also compiles its TypeScript.
//
//   DITCACHE_CUDA=ON npm install ditcache             the CUDA build (compiles; needs nvcc)
//   npm install ditcache --build-from-source          compile even where a prebuild loads
import { spawnSync } from 'node:child_process';
import { chmodSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(dirname(fileURLToPath(import.meta.url)));
const require = createRequire(join(root, 'package.json'));
const checkout = existsSync(join(root, 'tsconfig.json'));
const cuda = /^(on|1|true|yes)$/i.test(process.env.DITCACHE_CUDA ?? '');
const fromSource = checkout || cuda || /^(true|1)$/.test(process.env.npm_config_build_from_source ?? '');

const say = (line) => console.error(`ditcache: ${line}`);

/** null when the prebuilt addon for this platform loads in a fresh process, else why not. */
function prebuildProblem() {
  const tag = `${process.platform}-${process.arch}`;
  const addon = join(root, 'prebuilds', tag, 'ditcache.node');
  if (!existsSync(addon)) {
    return tag === 'linux-x64' ? 'this copy of the package has no prebuilt addon' : `no prebuilt addon for ${tag} (the package carries one for linux-x64 with glibc)`;
  }
  const r = spawnSync(process.execPath, ['-e', 'require(process.argv[1]).version()', addon], { encoding: 'utf8' });
  if (r.status === 0) return null;
  const first = (r.stderr || '').split('\n').find((l) => /Error|error|GLIBC|not found/.test(l)) ?? `exit ${r.status}`;
  return `the prebuilt addon for ${tag} does not load here: ${first.trim()}`;
}

function onPath(names) {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter(Boolean);
  return names.find((n) => dirs.some((d) => existsSync(join(d, n))));
}

function resolvable(name) {
  try {
    require.resolve(`${name}/package.json`);
    return true;
  } catch {
    return false;
  }
}

/** What a source build needs and this machine lacks, one line each. */
function missingForSource() {
  const missing = [];
  const cmake = spawnSync('cmake', ['--version'], { encoding: 'utf8' });
  const version = /cmake version (\d+)\.(\d+)/.exec(cmake.stdout ?? '');
  if (!version) missing.push('CMake >= 3.18 (no `cmake` on PATH)');
  else if (Number(version[1]) * 100 + Number(version[2]) < 318) missing.push(`CMake >= 3.18 (found ${version[1]}.${version[2]})`);
  const cxx = process.env.CXX ? onPath([process.env.CXX]) ?? (existsSync(process.env.CXX) ? process.env.CXX : undefined) : onPath(['c++', 'g++', 'clang++']);
  if (!cxx) missing.push(`a C++17 compiler (${process.env.CXX ? `CXX=${process.env.CXX} not found` : 'no c++, g++ or clang++ on PATH'})`);
  if (!onPath(['ninja', 'make', 'gmake'])) missing.push('a build tool CMake can drive (make or ninja on PATH)');
  if (cuda && !onPath(['nvcc']) && !process.env.CUDACXX) missing.push('the CUDA toolkit for DITCACHE_CUDA=ON (no nvcc on PATH, no CUDACXX)');
  const packages = ['cmake-js', 'node-addon-api', 'node-api-headers'].filter((p) => !resolvable(p));
  if (packages.length) missing.push(`the npm packages ${packages.join(', ')} (npm install --save-dev ${packages.join(' ')})`);
  return missing;
}

function run(command, args) {
  const r = spawnSync(command, args, { cwd: root, stdio: 'inherit' });
  if (r.status !== 0) process.exit(r.status ?? 1);
}

if (!fromSource) {
  const problem = prebuildProblem();
  if (problem === null) process.exit(0);
  say(`${problem}; building from source.`);
} else if (!checkout) {
  say(cuda ? 'DITCACHE_CUDA=ON: building from source with the CUDA backend.' : 'building from source (--build-from-source).');
}

const missing = missingForSource();
if (missing.length) {
  say('building from source needs what this machine lacks:');
  for (const m of missing) console.error(`  - ${m}`);
  process.exit(1);
}
run(process.execPath, [require.resolve('cmake-js/bin/cmake-js'), 'compile', '--out', 'build', ...(cuda ? ['--CDDITCACHE_CUDA=ON'] : [])]);

if (checkout) {
  run(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.json']);
  chmodSync(join(root, 'dist', 'lib', 'cli', 'main.js'), 0o755);
}
