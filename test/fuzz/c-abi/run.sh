#!/usr/bin/env bash
# Builds the libFuzzer harness of the C ABI (c_abi_fuzz.cpp) with clang, ASan and UBSan in a build
# directory of its own, and fuzzes for DITCACHE_FUZZ_SECONDS (default 60) from the committed seed
# inputs. Installs Debian's clang-14 and its runtime when no clang with libFuzzer is present (as
# root, which CI and the developers' machines are). Fails on any finding; the crashing input is
# left in the build directory. Fails first when the harness never calls an entry point of
# ditcache.h.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../.." && pwd)"
build="${DITCACHE_FUZZ_BUILD_DIR:-$root/build-fuzz}"
seconds="${DITCACHE_FUZZ_SECONDS:-60}"

# The harness must reach every entry point of the header.
missing=()
for fn in $(sed -nE 's/^DC_API[^(]*[^a-z0-9_](dc_[a-z0-9_]+)\(.*/\1/p' "$root/native/include/ditcache.h"); do
  grep -qE "[^a-z0-9_]$fn\(" "$root/test/fuzz/c-abi/c_abi_fuzz.cpp" || missing+=("$fn")
done
if ((${#missing[@]})); then
  echo "test/fuzz/c-abi/c_abi_fuzz.cpp never calls: ${missing[*]}" >&2
  exit 1
fi

cc=clang-14 cxx=clang++-14
if ! command -v "$cxx" >/dev/null || ! echo 'extern "C" int LLVMFuzzerTestOneInput(const char*, long) { return 0; }' |
  "$cxx" -x c++ -fsanitize=fuzzer - -o /dev/null 2>/dev/null; then
  echo "installing clang-14 and libclang-rt-14-dev (libFuzzer)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends clang-14 libclang-rt-14-dev >/dev/null
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_COMPILER="$cc" \
  -DCMAKE_CXX_COMPILER="$cxx" -DDITCACHE_FUZZ=ON -DDITCACHE_NODE=OFF -DDITCACHE_CUDA=OFF >/dev/null
cmake --build "$build" -j "$(nproc 2>/dev/null || echo 2)" --target c_abi_fuzz

corpus="$build/corpus"
mkdir -p "$corpus"
cp -n "$root"/test/fuzz/c-abi/seeds/* "$corpus"/ 2>/dev/null || true
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:halt_on_error=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
cd "$build"
./c_abi_fuzz -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 "$corpus"
