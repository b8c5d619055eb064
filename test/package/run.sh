#!/usr/bin/env bash
# The package as a user gets it: `npm pack` (prepack compiles the TypeScript and the prebuilt
# binaries), then in an empty project whose PATH has node and npm but no CMake and no compiler:
# `npm install` of the tarball (timed), `npx ditcache generate`, an ES module import, a require,
# then, with the usual PATH again, a TypeScript compile of a consumer under module nodenext and
# strict, and a C program linked through pkg-config and through CMake's find_package after `npx
# ditcache install-lib`. Also checks what the tarball holds (no source maps, no dist/bench,
# LICENSE and examples/c present) and that libditcache exports only dc_* symbols.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/test/package"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

cd "$root"
npm pack --pack-destination "$work" >"$work/pack.log" 2>&1 || { cat "$work/pack.log" >&2; exit 1; }
tarball="$(ls "$work"/ditcache-*.tgz)"
listing="$(tar -tzf "$tarball")"
echo "tarball: $(basename "$tarball"), $(du -h "$tarball" | cut -f1), $(wc -l <<<"$listing") files"
for required in package/LICENSE package/README.md package/examples/c/tour.c package/dist/lib/index.js \
  package/dist/lib/require.cjs package/dist/lib/bench.js package/prebuilds/linux-x64/ditcache.node \
  package/prebuilds/linux-x64/lib/libditcache.so.0 package/prebuilds/linux-x64/lib/pkgconfig/ditcache.pc \
  package/prebuilds/linux-x64/lib/cmake/ditcache/ditcacheConfig.cmake package/prebuilds/linux-x64/include/ditcache.h; do
  grep -qx "$required" <<<"$listing" || { echo "the tarball lacks ${required#package/}" >&2; exit 1; }
done
if grep -E '\.(js|cjs|ts|cts)\.map$|^package/dist/bench/' <<<"$listing"; then
  echo "the tarball holds source maps or dist/bench (above)" >&2
  exit 1
fi

# A PATH with node, npm and a shell alone (npm runs scripts with sh).
mkdir -p "$work/bin" "$work/app"
for tool in node npm npx sh; do ln -s "$(command -v "$tool")" "$work/bin/$tool"; done
bare="$work/bin"
for tool in cmake cc c++ gcc g++ clang clang++ make ninja; do
  if PATH="$bare" command -v "$tool" >/dev/null; then echo "$tool is on the bare PATH" >&2; exit 1; fi
done

cd "$work/app"
echo '{ "name": "app", "version": "1.0.0", "private": true }' >package.json
started=$(date +%s.%N)
PATH="$bare" npm install --no-audit --no-fund --prefer-offline "$tarball" >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2
  exit 1
}
echo "npm install of the tarball: $(node -e "console.log((process.argv[2] - process.argv[1]).toFixed(1))" "$started" "$(date +%s.%N)") s, no CMake or compiler on PATH"
echo "node_modules: $(ls node_modules | wc -l) packages, $(du -sh node_modules | cut -f1)"
for tool in typescript cmake-js node-addon-api; do
  [[ ! -e "node_modules/$tool" ]] || { echo "$tool was installed into the consumer" >&2; exit 1; }
done
[[ ! -e node_modules/ditcache/build ]] || { echo "the install compiled the addon" >&2; exit 1; }

PATH="$bare" npx ditcache --version
PATH="$bare" npx ditcache generate --prompt "a red circle moving right quickly on night" --steps 6 --out demo.gif 2>&1 | tail -1
[[ "$(head -c 6 demo.gif)" == GIF89a ]]
cp "$here/consumer.mjs" "$here/consumer.cjs" .
PATH="$bare" node consumer.mjs
PATH="$bare" node consumer.cjs

# TypeScript: the package's types as a strict nodenext consumer sees them.
mkdir -p ts
cp "$here/consumer.ts" ts/
cat >ts/tsconfig.json <<EOF
{
  "compilerOptions": {
    "module": "nodenext", "moduleResolution": "nodenext", "target": "es2022", "strict": true,
    "noEmit": true, "types": ["node"], "typeRoots": ["$root/node_modules/@types"]
  },
  "files": ["consumer.ts"]
}
EOF
echo '{ "type": "module" }' >ts/package.json
node "$root/node_modules/typescript/bin/tsc" -p ts/tsconfig.json
echo "typescript: consumer.ts compiles (nodenext, strict)"

# C: libditcache from the package, into a prefix, through pkg-config.
npx ditcache install-lib --prefix "$work/sdk"
bad="$(nm -D --defined-only "$work/sdk/lib/libditcache.so.0" | awk '{ print $3 }' | grep -v '^dc_' || true)"
[[ -z "$bad" ]] || { echo "libditcache exports symbols outside dc_*: $bad" >&2; exit 1; }
export PKG_CONFIG_PATH="$work/sdk/lib/pkgconfig"
cc -std=c99 -Wall -Wextra -Werror -pedantic "$here/consumer.c" -o consumer $(pkg-config --cflags --libs ditcache) \
  -Wl,-rpath,"$(pkg-config --variable=libdir ditcache)"
./consumer

# C through CMake: find_package(ditcache) in the installed prefix.
mkdir -p cmake-app
cp "$here/consumer.c" cmake-app/
cat >cmake-app/CMakeLists.txt <<'EOF2'
cmake_minimum_required(VERSION 3.18)
project(consumer C)
find_package(ditcache 0.1 REQUIRED CONFIG)
add_executable(consumer consumer.c)
target_link_libraries(consumer PRIVATE ditcache::ditcache)
EOF2
cmake -S cmake-app -B cmake-app/build -DCMAKE_PREFIX_PATH="$work/sdk" >/dev/null
cmake --build cmake-app/build >/dev/null
cmake-app/build/consumer | sed 's/^c:/c (cmake):/'
