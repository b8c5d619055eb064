#!/usr/bin/env bash
# Builds libditcache, the C tests (test/c), the C example and the Node addon with AddressSanitizer
# and UndefinedBehaviorSanitizer in a build directory of their own; runs the C programs (leak
# checks included), then the vitest suite once against the sanitized addon (ASan's runtime
# preloaded into node; leak checks off there, node itself is not built for them). Fails on a
# failed check or on any sanitizer report. `npm run test:sanitize` runs it; DITCACHE_SANITIZE_VITEST=0
# skips the vitest part.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
build="${DITCACHE_SANITIZE_BUILD_DIR:-$root/build-sanitize}"
jobs="$(nproc 2>/dev/null || echo 2)"
sanitize=(-fsanitize=address,undefined,float-cast-overflow -fno-omit-frame-pointer -fno-sanitize-recover=undefined,float-cast-overflow)

# The test must reach every entry point of the header.
missing=()
for fn in $(sed -nE 's/^DC_API[^(]*[^a-z0-9_](dc_[a-z0-9_]+)\(.*/\1/p' "$root/native/include/ditcache.h"); do
  grep -qE "[^a-z0-9_]$fn\(" "$root/test/c/c_api_test.c" || missing+=("$fn")
done
if ((${#missing[@]})); then
  echo "test/c/c_api_test.c never calls: ${missing[*]}" >&2
  exit 1
fi

cmake -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DDITCACHE_SANITIZE=ON \
  -DDITCACHE_TESTS=ON -DDITCACHE_NODE=ON -DDITCACHE_CUDA=OFF >/dev/null
cmake --build "$build" -j "$jobs" --target c_api_test threads_test core_test ditcache ditcache_node
make -s -C "$root/examples/c" all BUILD="$build" \
  CFLAGS="-std=c99 -O1 -g -Wall -Wextra -Werror -pedantic ${sanitize[*]}" LDFLAGS="${sanitize[*]}"

# allocator_may_return_null: the test asks for 512 TiB on purpose and expects DC_ERR_OUT_OF_MEMORY.
export ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=1:halt_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
log="$build/sanitized-run.log"
status=0
for program in "$build/c_api_test" "$build/threads_test" "$build/core_test" "$build/c-tour"; do
  echo "== $(basename "$program") (ASan + UBSan)"
  "$program" >"$log" 2>&1 || status=1
  cat "$log"
  if grep -qE 'ERROR: (Address|Leak)Sanitizer|runtime error:|SUMMARY: .*Sanitizer' "$log"; then
    echo "sanitizer report from $(basename "$program")" >&2
    status=1
  fi
done
((status == 0)) || exit "$status"

if [[ "${DITCACHE_SANITIZE_VITEST:-1}" != 0 ]]; then
  echo "== vitest against $build/ditcache.node (ASan + UBSan)"
  # The suite's own timings are not the point here: the sanitized addon is several times slower
  # (3.6x the CPU time of the plain one on test/causal/stream-eviction), and a loaded machine
  # stretches that further: a test's time limit here only has to catch a hang.
  (cd "$root" && ASAN_OPTIONS="detect_leaks=0:allocator_may_return_null=1:halt_on_error=1" \
    LD_PRELOAD="$(gcc -print-file-name=libasan.so)" DITCACHE_ADDON="$build/ditcache.node" \
    DITCACHE_SANITIZED=1 npx vitest run --reporter=default --exclude 'test/gpu/**' \
    --testTimeout=1200000 --hookTimeout=1200000) \
    2>&1 | tee "$build/sanitized-vitest.log"
  status=${PIPESTATUS[0]}
  if grep -qE 'ERROR: AddressSanitizer|runtime error:|SUMMARY: .*Sanitizer' "$build/sanitized-vitest.log"; then
    echo "sanitizer report from the vitest run" >&2
    status=1
  fi
fi
exit "$status"
