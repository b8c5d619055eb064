// Internal checks of the core that no C caller can provoke on purpose:
//   - a chunk of a parallel region that throws, on a worker thread: the caller gets the
//     exception after every chunk ended, and the pool keeps working;
//   - every allocation failing in turn: each entry point below runs once per allocation it makes,
//     with that allocation failing (operator new is replaced in this program). No exception may
//     cross the C boundary, a failure must be reported as a status, and nothing may be left
//     behind: the host pool returns to its bytes in use (LeakSanitizer, in the sanitized run,
//     finds heap objects left behind).
// Built with DITCACHE_TESTS=ON against the static core; run by test/c/run-sanitized.sh.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <new>
#include <stdexcept>
#include <vector>

#include "ditcache.h"
#include "core/thread_pool.h"

namespace {

std::atomic<long> g_countdown{-1};  // allocations left before the injected failure; -1 = never
int g_failures = 0;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      ++g_failures;                                                          \
      std::fprintf(stderr, "line %d: check failed: %s\n", __LINE__, #cond);  \
    }                                                                        \
  } while (0)

bool injected_failure() {
  long left = g_countdown.load();
  while (left >= 0) {
    if (g_countdown.compare_exchange_weak(left, left - 1)) return left == 0;
  }
  return false;
}

}  // namespace

void* operator new(size_t n) {
  if (injected_failure()) throw std::bad_alloc();
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void* operator new[](size_t n) { return operator new(n); }
void* operator new(size_t n, const std::nothrow_t&) noexcept {
  if (injected_failure()) return nullptr;
  return std::malloc(n ? n : 1);
}
void* operator new[](size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }
void operator delete[](void* p, size_t) noexcept { std::free(p); }

namespace {

uint64_t host_bytes_in_use() {
  dc_memory_stats s = dc_memory_stats_init();
  dc_memory_stats_get(DC_DEVICE_CPU, &s);
  return s.bytes_in_use;
}

// Runs `scenario` with its 0th, 1st, 2nd ... allocation failing until a run makes fewer
// allocations than the countdown allowed (it ran to its end without an injected failure).
void sweep(const char* name, const std::function<void()>& scenario) {
  const uint64_t before = host_bytes_in_use();
  int runs = 0;
  for (long k = 0; k < 100000; ++k, ++runs) {
    g_countdown.store(k);
    try {
      scenario();
    } catch (...) {
      ++g_failures;
      std::fprintf(stderr, "%s: an exception crossed the C boundary (allocation %ld failing)\n",
                   name, k);
    }
    const bool finished = g_countdown.load() >= 0;  // never reached the failing allocation
    g_countdown.store(-1);
    const uint64_t after = host_bytes_in_use();
    if (after != before) {
      ++g_failures;
      std::fprintf(stderr, "%s: %llu bytes of pooled memory left in use (allocation %ld failing)\n",
                   name, (unsigned long long)(after - before), k);
    }
    if (finished) break;
  }
  std::printf("%-28s %d allocation failures injected\n", name, runs);
}

bool ok_or_oom(dc_status s) { return s == DC_OK || s == DC_ERR_OUT_OF_MEMORY || s == DC_ERR_INTERNAL; }

void test_allocation_failures() {
  // First: the pool itself is created by this call, its allocations failing in turn.
  sweep("dc_get_num_threads", [] { CHECK(dc_get_num_threads() >= 1); });
  sweep("dc_set_num_threads", [] { CHECK(ok_or_oom(dc_set_num_threads(3)) || true); });
  dc_set_num_threads(3);
  sweep("dc_backend_get", [] {
    dc_backend_info info = dc_backend_info_init();
    CHECK(ok_or_oom(dc_backend_get(0, &info)));
  });
  const int64_t shape[2] = {16, 64};
  sweep("dc_tensor_empty/zeros", [&] {
    dc_tensor *a = nullptr, *b = nullptr;
    CHECK(ok_or_oom(dc_tensor_empty(DC_F32, DC_DEVICE_CPU, 2, shape, &a)));
    CHECK(ok_or_oom(dc_tensor_zeros(DC_BF16, DC_DEVICE_CPU, 2, shape, &b)));
    dc_tensor_release(a);
    dc_tensor_release(b);
  });
  static float host[16 * 64];
  sweep("dc_tensor_wrap/view/write", [&] {
    dc_tensor *w = nullptr, *v = nullptr, *t = nullptr;
    const int64_t row[1] = {64};
    CHECK(ok_or_oom(dc_tensor_wrap(DC_F32, 2, shape, nullptr, host, sizeof host, nullptr, nullptr, &w)));
    if (w) CHECK(ok_or_oom(dc_tensor_view(w, 64, 1, row, nullptr, &v)));
    CHECK(ok_or_oom(dc_tensor_empty(DC_F32, DC_DEVICE_CPU, 2, shape, &t)));
    if (t) CHECK(ok_or_oom(dc_tensor_write(t, host, DC_F32, 16 * 64)));
    if (t) CHECK(ok_or_oom(dc_tensor_read_f32(t, host, 16 * 64)));
    dc_tensor_release(v);
    dc_tensor_release(w);
    dc_tensor_release(t);
  });
  sweep("dc_kv_ring", [] {
    dc_kv_ring* r = nullptr;
    dc_tensor* k = nullptr;
    const int64_t kshape[4] = {1, 2, 3, 8};
    CHECK(ok_or_oom(dc_kv_ring_create(DC_F32, DC_DEVICE_CPU, 1, 2, 4, 8, &r)));
    CHECK(ok_or_oom(dc_tensor_zeros(DC_F32, DC_DEVICE_CPU, 4, kshape, &k)));
    if (r && k) {
      CHECK(ok_or_oom(dc_kv_ring_append(r, k, k)));
      CHECK(ok_or_oom(dc_kv_ring_append(r, k, k)));
    }
    dc_tensor_release(k);
    dc_kv_ring_release(r);
  });
  sweep("dc_gemm/dc_softmax", [&] {
    dc_tensor *a = nullptr, *w = nullptr, *o = nullptr;
    const int64_t ws[2] = {32, 64}, os[2] = {16, 32};
    CHECK(ok_or_oom(dc_tensor_zeros(DC_F32, DC_DEVICE_CPU, 2, shape, &a)));
    CHECK(ok_or_oom(dc_tensor_zeros(DC_F32, DC_DEVICE_CPU, 2, ws, &w)));
    CHECK(ok_or_oom(dc_tensor_zeros(DC_F32, DC_DEVICE_CPU, 2, os, &o)));
    if (a && w && o) CHECK(ok_or_oom(dc_gemm(a, w, o, nullptr)));
    if (a) CHECK(ok_or_oom(dc_softmax(a, a)));
    dc_tensor_release(a);
    dc_tensor_release(w);
    dc_tensor_release(o);
  });
}

void test_throwing_chunk() {
  CHECK(dc_set_num_threads(3) == DC_OK);
  for (int thrower = 0; thrower < 3; ++thrower) {
    std::atomic<int> ran{0};
    bool caught = false;
    try {
      dc::parallel_for(3, 1, [&](int64_t begin, int64_t) {
        ran.fetch_add(1);
        if (begin == thrower) throw std::runtime_error("chunk failed");
      });
    } catch (const std::runtime_error&) {
      caught = true;
    }
    CHECK(caught);
    CHECK(ran.load() == 3);  // every chunk ran to its end before the rethrow
  }
  std::vector<int> seen(1000, 0);
  dc::parallel_for(1000, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) seen[size_t(i)]++;
  });
  int once = 0;
  for (int v : seen) once += v == 1;
  CHECK(once == 1000);
}

}  // namespace

int main() {
  test_allocation_failures();
  test_throwing_chunk();
  std::printf("core_test: %d failed\n", g_failures);
  return g_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
