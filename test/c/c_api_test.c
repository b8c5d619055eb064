/*
 * The C ABI under abuse: every entry point of ditcache.h is called with NULL and foreign handles,
 * bad shapes (negative, huge, overflowing), bad dtypes and devices, and views outside their
 * storage. Each failing call must return the documented status and leave its own non-empty
 * message; nothing may crash. A few positive calls check results against naive loops, on every
 * CPU kernel variant this machine runs. Run under ASan/UBSan by test/c/run-sanitized.sh.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ditcache.h"

static int g_checks, g_failures;
static char g_sentinel[1024];

/* Leaves a known message behind, so that a failing call is seen to record its own. */
static void prime(void) {
  dc_tensor* t = NULL;
  dc_tensor_empty(DC_F32, DC_DEVICE_CPU, -777, NULL, &t);
  snprintf(g_sentinel, sizeof g_sentinel, "%s", dc_last_error());
}

static void expect_status(dc_status got, dc_status want, const char* call, int line) {
  const char* msg = dc_last_error();
  ++g_checks;
  if (got != want) {
    ++g_failures;
    fprintf(stderr, "line %d: %s\n  expected %s, got %s (%s)\n", line, call, dc_status_name(want),
            dc_status_name(got), got == DC_OK ? "" : msg);
  } else if (want != DC_OK && (!msg || !msg[0] || strcmp(msg, g_sentinel) == 0)) {
    ++g_failures;
    fprintf(stderr, "line %d: %s\n  returned %s without a message of its own\n", line, call,
            dc_status_name(got));
  }
}

#define EXPECT(want, call)                                   \
  do {                                                       \
    dc_status expect_got_;                                   \
    prime();                                                 \
    expect_got_ = (call);                                    \
    expect_status(expect_got_, (want), #call, __LINE__);     \
  } while (0)

#define CHECK(cond)                                                      \
  do {                                                                   \
    ++g_checks;                                                          \
    if (!(cond)) {                                                       \
      ++g_failures;                                                      \
      fprintf(stderr, "line %d: check failed: %s\n", __LINE__, #cond);   \
    }                                                                    \
  } while (0)

/* Zeroed memory that is neither a tensor nor a ring: a foreign pointer. (Real released handles
 * are tested in test_stale_handles.) */
static int64_t g_foreign[512];
#define FOREIGN_T ((dc_tensor*)(void*)g_foreign)
#define FOREIGN_RING ((dc_kv_ring*)(void*)g_foreign)

#define BAD_DTYPE ((dc_dtype)42)
#define BAD_DEVICE ((dc_device)7)

static int g_cuda; /* a CUDA device can run ops here */

/* ------------------------------------------------------------------------------------------ */

static dc_tensor* f32(int ndim, const int64_t* shape, const float* values) {
  dc_tensor* t = NULL;
  int64_t n = 1;
  int i;
  for (i = 0; i < ndim; ++i) n *= shape[i];
  if (dc_tensor_empty(DC_F32, DC_DEVICE_CPU, ndim, shape, &t) != DC_OK) {
    fprintf(stderr, "cannot create a test tensor: %s\n", dc_last_error());
    exit(2);
  }
  if (values && dc_tensor_write(t, values, DC_F32, (size_t)n) != DC_OK) {
    fprintf(stderr, "cannot write a test tensor: %s\n", dc_last_error());
    exit(2);
  }
  return t;
}

static dc_tensor* f32_2d(int64_t rows, int64_t cols, const float* values) {
  const int64_t shape[2] = {rows, cols};
  return f32(2, shape, values);
}

static dc_tensor* typed(dc_dtype dtype, int ndim, const int64_t* shape) {
  dc_tensor* t = NULL;
  if (dc_tensor_zeros(dtype, DC_DEVICE_CPU, ndim, shape, &t) != DC_OK) {
    fprintf(stderr, "cannot create a test tensor: %s\n", dc_last_error());
    exit(2);
  }
  return t;
}

static int close_to(const float* got, const float* want, int n, float tol) {
  int i;
  for (i = 0; i < n; ++i) {
    if (!(fabsf(got[i] - want[i]) <= tol * (1.0f + fabsf(want[i])))) {
      fprintf(stderr, "  element %d: got %.7g, want %.7g (tolerance %g)\n", i, got[i], want[i], tol);
      return 0;
    }
  }
  return 1;
}

static void read_into(const dc_tensor* t, float* dst, size_t n) {
  EXPECT(DC_OK, dc_tensor_read_f32(t, dst, n));
}

/* ------------------------------------------------------------------------------ information */

static void test_information(void) {
  int major = -1, minor = -1, patch = -1, count = 0, s;
  char version[32];
  dc_backend_info info = dc_backend_info_init();

  for (s = DC_OK; s <= DC_ERR_INTERNAL; ++s) {
    const char* name = dc_status_name((dc_status)s);
    CHECK(name && name[0]);
    CHECK(s == DC_OK || strcmp(name, dc_status_name((dc_status)(s - 1))) != 0);
  }
  CHECK(dc_status_name((dc_status)99) != NULL);
  CHECK(dc_last_error() != NULL);

  dc_version(NULL, NULL, NULL);
  dc_version(&major, &minor, &patch);
  CHECK(major == DC_VERSION_MAJOR && minor == DC_VERSION_MINOR && patch == DC_VERSION_PATCH);
  snprintf(version, sizeof version, "%d.%d.%d", major, minor, patch);
  CHECK(strcmp(dc_version_string(), version) == 0);
  CHECK(strncmp(dc_build_info(), "cpu", 3) == 0);

  CHECK(dc_dtype_size(DC_F32) == 4 && dc_dtype_size(DC_F16) == 2 && dc_dtype_size(DC_BF16) == 2);
  CHECK(dc_dtype_size(DC_I32) == 4 && dc_dtype_size(DC_I64) == 8 && dc_dtype_size(DC_U8) == 1);
  CHECK(dc_dtype_size(BAD_DTYPE) == 0 && dc_dtype_size((dc_dtype)-1) == 0);
  CHECK(strcmp(dc_dtype_name(DC_BF16), "bf16") == 0);
  CHECK(dc_dtype_name(BAD_DTYPE) != NULL);

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_backend_count(NULL));
  EXPECT(DC_OK, dc_backend_count(&count));
  CHECK(count >= 1);
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_backend_get(0, NULL));
  EXPECT(DC_ERR_RANGE, dc_backend_get(-1, &info));
  EXPECT(DC_ERR_RANGE, dc_backend_get(count, &info));
  EXPECT(DC_OK, dc_backend_get(0, &info));
  CHECK(info.device == DC_DEVICE_CPU && info.name[0] && memchr(info.name, 0, sizeof info.name));

  EXPECT(DC_OK, dc_device_available(DC_DEVICE_CPU));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_device_available(BAD_DEVICE));
  if (!g_cuda) EXPECT(DC_ERR_UNAVAILABLE, dc_device_available(DC_DEVICE_CUDA));
  EXPECT(DC_OK, dc_synchronize(DC_DEVICE_CPU));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_synchronize(BAD_DEVICE));
  EXPECT(g_cuda ? DC_OK : DC_ERR_UNAVAILABLE, dc_synchronize(DC_DEVICE_CUDA));
}

/* ------------------------------------------------------------------- CPU settings and memory */

static void test_settings(void) {
  const dc_isa detected = dc_cpu_isa_detected();
  const int threads = dc_get_num_threads();
  dc_memory_stats stats = dc_memory_stats_init();

  CHECK(detected >= DC_ISA_PORTABLE && detected <= DC_ISA_AMX);
  CHECK(dc_cpu_isa() == detected);
  CHECK(dc_cpu_dispatch_info() != NULL && strstr(dc_cpu_dispatch_info(), "bf16: ") != NULL);
  CHECK(dc_isa_name((dc_isa)9) != NULL && strcmp(dc_isa_name(DC_ISA_AVX2), "avx2") == 0);
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_cpu_set_isa((dc_isa)9));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_cpu_set_isa((dc_isa)-1));
  if (detected < DC_ISA_AVX512) EXPECT(DC_ERR_UNAVAILABLE, dc_cpu_set_isa(DC_ISA_AVX512));
  EXPECT(DC_OK, dc_cpu_set_isa(DC_ISA_PORTABLE));
  CHECK(dc_cpu_isa() == DC_ISA_PORTABLE && dc_cpu_has_bf16() == 0);
  EXPECT(DC_OK, dc_cpu_set_isa(detected));
  CHECK(dc_cpu_has_bf16() == 0 || dc_cpu_has_bf16() == 1);

  CHECK(threads >= 1);
  EXPECT(DC_ERR_RANGE, dc_set_num_threads(0));
  EXPECT(DC_ERR_RANGE, dc_set_num_threads(-3));
  EXPECT(DC_ERR_RANGE, dc_set_num_threads(1 << 30));
  EXPECT(DC_OK, dc_set_num_threads(1));
  CHECK(dc_get_num_threads() == 1);
  EXPECT(DC_OK, dc_set_num_threads(threads));

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_memory_stats_get(DC_DEVICE_CPU, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_memory_stats_get(BAD_DEVICE, &stats));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_memory_trim(BAD_DEVICE));
  if (!g_cuda) {
    EXPECT(DC_ERR_UNAVAILABLE, dc_memory_stats_get(DC_DEVICE_CUDA, &stats));
    EXPECT(DC_ERR_UNAVAILABLE, dc_memory_trim(DC_DEVICE_CUDA));
  }
  EXPECT(DC_OK, dc_memory_stats_get(DC_DEVICE_CPU, &stats));
  CHECK(stats.cache_hits <= stats.allocations && stats.bytes_in_use <= stats.peak_bytes_in_use);
  EXPECT(DC_OK, dc_memory_trim(DC_DEVICE_CPU));
  EXPECT(DC_OK, dc_memory_stats_get(DC_DEVICE_CPU, &stats));
  CHECK(stats.bytes_cached == 0);
}

/* --------------------------------------------------------------------- benchmark support */

static void test_fma_peak(void) {
  double gflops = -1;
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_cpu_fma_peak(1, 0.01, NULL));
  EXPECT(DC_ERR_RANGE, dc_cpu_fma_peak(0, 0.01, &gflops));
  EXPECT(DC_ERR_RANGE, dc_cpu_fma_peak(1 << 20, 0.01, &gflops));
  EXPECT(DC_ERR_RANGE, dc_cpu_fma_peak(1, 0.0, &gflops));
  EXPECT(DC_ERR_RANGE, dc_cpu_fma_peak(1, -1.0, &gflops));
  EXPECT(DC_ERR_RANGE, dc_cpu_fma_peak(1, NAN, &gflops));
  EXPECT(DC_ERR_RANGE, dc_cpu_fma_peak(1, 61.0, &gflops));
  CHECK(gflops == -1);
  EXPECT(DC_OK, dc_cpu_fma_peak(1, 0.01, &gflops));
  CHECK(gflops > 0 && isfinite(gflops));
}

/* ------------------------------------------------------------------------- tensor creation */

static void test_creation(void) {
  const int64_t ok2[2] = {2, 3}, negative[2] = {2, -1}, zero[2] = {0, 3};
  const int64_t huge[2] = {(int64_t)1 << 40, (int64_t)1 << 40}, max1[1] = {INT64_MAX};
  const int64_t too_big[1] = {((int64_t)1 << 48) + 1};
  const int64_t unallocatable[1] = {(int64_t)1 << 47}; /* 512 TiB of f32 */
  const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  dc_tensor* t = FOREIGN_T;
  dc_tensor_desc d = dc_tensor_desc_init();
  dc_status st;
  float values[6];

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_empty(DC_F32, DC_DEVICE_CPU, 2, ok2, NULL));
  EXPECT(DC_ERR_DTYPE, dc_tensor_empty(BAD_DTYPE, DC_DEVICE_CPU, 2, ok2, &t));
  CHECK(t == NULL); /* the output is cleared on failure */
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_empty(DC_F32, BAD_DEVICE, 2, ok2, &t));
  EXPECT(DC_ERR_SHAPE, dc_tensor_empty(DC_F32, DC_DEVICE_CPU, -1, ok2, &t));
  EXPECT(DC_ERR_SHAPE, dc_tensor_empty(DC_F32, DC_DEVICE_CPU, 9, nine, &t));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_empty(DC_F32, DC_DEVICE_CPU, 2, NULL, &t));
  EXPECT(DC_ERR_SHAPE, dc_tensor_empty(DC_F32, DC_DEVICE_CPU, 2, negative, &t));
  EXPECT(DC_ERR_RANGE, dc_tensor_empty(DC_F32, DC_DEVICE_CPU, 2, huge, &t));
  EXPECT(DC_ERR_RANGE, dc_tensor_empty(DC_I64, DC_DEVICE_CPU, 1, max1, &t));
  EXPECT(DC_ERR_RANGE, dc_tensor_empty(DC_U8, DC_DEVICE_CPU, 1, too_big, &t));
  CHECK(t == NULL);
  prime();
  st = dc_tensor_empty(DC_F32, DC_DEVICE_CPU, 1, unallocatable, &t);
  if (st == DC_OK) { /* only where 512 TiB of address space can be reserved */
    dc_tensor_release(t);
  } else {
    expect_status(st, DC_ERR_OUT_OF_MEMORY, "dc_tensor_empty(512 TiB)", __LINE__);
  }

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_zeros(DC_F32, DC_DEVICE_CPU, 2, ok2, NULL));
  EXPECT(DC_ERR_DTYPE, dc_tensor_zeros(BAD_DTYPE, DC_DEVICE_CPU, 2, ok2, &t));
  EXPECT(DC_ERR_SHAPE, dc_tensor_zeros(DC_F32, DC_DEVICE_CPU, 2, negative, &t));
  EXPECT(DC_ERR_RANGE, dc_tensor_zeros(DC_F32, DC_DEVICE_CPU, 2, huge, &t));

  if (!g_cuda) {
    EXPECT(DC_ERR_UNAVAILABLE, dc_tensor_empty(DC_F32, DC_DEVICE_CUDA, 2, ok2, &t));
    EXPECT(DC_ERR_UNAVAILABLE, dc_tensor_zeros(DC_F32, DC_DEVICE_CUDA, 2, ok2, &t));
    CHECK(t == NULL);
  }

  /* A scalar, an empty tensor and a zero-filled one. */
  EXPECT(DC_OK, dc_tensor_zeros(DC_F32, DC_DEVICE_CPU, 0, NULL, &t));
  EXPECT(DC_OK, dc_tensor_describe(t, &d));
  CHECK(d.ndim == 0 && d.numel == 1 && d.contiguous);
  EXPECT(DC_OK, dc_tensor_release(t));
  EXPECT(DC_OK, dc_tensor_empty(DC_BF16, DC_DEVICE_CPU, 2, zero, &t));
  EXPECT(DC_OK, dc_tensor_describe(t, &d));
  CHECK(d.numel == 0 && d.dtype == DC_BF16);
  EXPECT(DC_OK, dc_tensor_release(t));
  EXPECT(DC_OK, dc_tensor_zeros(DC_F32, DC_DEVICE_CPU, 2, ok2, &t));
  read_into(t, values, 6);
  CHECK(values[0] == 0 && values[5] == 0);
  EXPECT(DC_OK, dc_tensor_release(t));
}

/* ------------------------------------------------------------------------ wrap and views */

static int g_released;
static void count_release(void* user) {
  CHECK(user == (void*)&g_released);
  ++g_released;
}

static void test_wrap_and_views(void) {
  static float data[12];
  static char bytes[64];
  const int64_t s34[2] = {3, 4}, s24[2] = {2, 4}, s2[1] = {2}, s5[1] = {5};
  const int64_t negative_strides[2] = {4, -1}, wild_strides[2] = {INT64_MAX / 2, 1};
  const int64_t nine[9] = {1, 1, 1, 1, 1, 1, 1, 1, 1};
  dc_tensor *t = NULL, *v = NULL, *vv = NULL;
  dc_tensor_desc d = dc_tensor_desc_init();
  size_t storage = 0;
  float back[4];
  int i;

  for (i = 0; i < 12; ++i) data[i] = (float)i;

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_wrap(DC_F32, 2, s34, NULL, data, sizeof data, NULL, NULL, NULL));
  EXPECT(DC_ERR_DTYPE, dc_tensor_wrap(BAD_DTYPE, 2, s34, NULL, data, sizeof data, NULL, NULL, &t));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_wrap(DC_F32, 2, s34, NULL, NULL, sizeof data, NULL, NULL, &t));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_wrap(DC_F32, 2, s24, NULL, bytes + 1, 40, NULL, NULL, &t));
  EXPECT(DC_ERR_RANGE, dc_tensor_wrap(DC_F32, 2, s34, NULL, data, sizeof data - 1, NULL, NULL, &t));
  EXPECT(DC_ERR_SHAPE, dc_tensor_wrap(DC_F32, 2, s34, negative_strides, data, sizeof data, NULL, NULL, &t));
  EXPECT(DC_ERR_RANGE, dc_tensor_wrap(DC_F32, 2, s34, wild_strides, data, sizeof data, NULL, NULL, &t));
  EXPECT(DC_ERR_SHAPE, dc_tensor_wrap(DC_F32, 9, nine, NULL, data, sizeof data, NULL, NULL, &t));
  CHECK(t == NULL && g_released == 0);

  /* The wrapped memory is shared, and released once with the last reference (a view). */
  EXPECT(DC_OK, dc_tensor_wrap(DC_F32, 2, s34, NULL, data, sizeof data, count_release, &g_released, &t));
  EXPECT(DC_OK, dc_tensor_storage_bytes(t, &storage));
  CHECK(storage == sizeof data);
  EXPECT(DC_OK, dc_tensor_view(t, 4, 1, s2, NULL, &v)); /* data[4], data[5] */
  EXPECT(DC_OK, dc_tensor_describe(v, &d));
  CHECK(d.data == (void*)&data[4] && d.numel == 2 && d.strides[0] == 1);
  EXPECT(DC_OK, dc_fill(v, -1.0));
  CHECK(data[3] == 3 && data[4] == -1 && data[5] == -1 && data[6] == 6);

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_view(NULL, 0, 1, s2, NULL, &vv));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_view(FOREIGN_T, 0, 1, s2, NULL, &vv));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_view(t, 0, 1, s2, NULL, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_view(t, 0, 1, NULL, NULL, &vv));
  EXPECT(DC_ERR_SHAPE, dc_tensor_view(t, 0, 9, nine, NULL, &vv));
  EXPECT(DC_ERR_SHAPE, dc_tensor_view(t, 0, 2, negative_strides, NULL, &vv));
  EXPECT(DC_ERR_SHAPE, dc_tensor_view(t, 0, 2, s34, negative_strides, &vv));
  EXPECT(DC_ERR_RANGE, dc_tensor_view(t, -1, 1, s2, NULL, &vv));
  EXPECT(DC_ERR_RANGE, dc_tensor_view(t, 11, 1, s2, NULL, &vv));        /* one past the end */
  EXPECT(DC_ERR_RANGE, dc_tensor_view(t, 13, 0, NULL, NULL, &vv));      /* a scalar past it */
  EXPECT(DC_ERR_RANGE, dc_tensor_view(t, 0, 2, s34, wild_strides, &vv));
  EXPECT(DC_ERR_RANGE, dc_tensor_view(t, INT64_MAX, 1, s2, NULL, &vv));
  EXPECT(DC_ERR_RANGE, dc_tensor_view(t, INT64_MIN, 1, s2, NULL, &vv));
  /* Offsets are counted from the view's own first element: 4 + 7 + 2 > 12. */
  EXPECT(DC_ERR_RANGE, dc_tensor_view(v, 7, 1, s2, NULL, &vv));
  EXPECT(DC_ERR_RANGE, dc_tensor_view(v, INT64_MAX, 1, s2, NULL, &vv));
  EXPECT(DC_ERR_RANGE, dc_tensor_view(v, -5, 1, s2, NULL, &vv));
  EXPECT(DC_ERR_RANGE, dc_tensor_view(t, 0, 1, s5, (const int64_t[]){3}, &vv)); /* last at 12 */
  CHECK(vv == NULL);

  /* A strided column view of the whole storage is fine: elements 1, 5 (filled above), 9. */
  EXPECT(DC_OK, dc_tensor_view(t, 1, 1, (const int64_t[]){3}, (const int64_t[]){4}, &vv));
  read_into(vv, back, 3);
  CHECK(back[0] == 1 && back[1] == -1 && back[2] == 9);
  EXPECT(DC_OK, dc_tensor_release(vv));

  EXPECT(DC_OK, dc_tensor_release(t));
  CHECK(g_released == 0);
  EXPECT(DC_OK, dc_tensor_release(v));
  CHECK(g_released == 1);
}

/* ------------------------------------------------------------------------------- handles */

static void test_handles(void) {
  const int64_t s3[1] = {3};
  dc_tensor_desc d = dc_tensor_desc_init();
  size_t bytes = 0;
  dc_tensor* t = f32(1, s3, NULL);

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_retain(NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_retain(FOREIGN_T));
  EXPECT(DC_OK, dc_tensor_release(NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_release(FOREIGN_T));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_describe(NULL, &d));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_describe(FOREIGN_T, &d));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_describe(t, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_storage_bytes(NULL, &bytes));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_storage_bytes(FOREIGN_T, &bytes));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_storage_bytes(t, NULL));

  /* Two references: the first release leaves the tensor usable. */
  EXPECT(DC_OK, dc_tensor_retain(t));
  EXPECT(DC_OK, dc_tensor_release(t));
  EXPECT(DC_OK, dc_tensor_describe(t, &d));
  CHECK(d.dtype == DC_F32 && d.device == DC_DEVICE_CPU && d.ndim == 1 && d.shape[0] == 3 &&
        d.strides[0] == 1 && d.numel == 3 && d.contiguous && d.data != NULL);
  EXPECT(DC_OK, dc_tensor_storage_bytes(t, &bytes));
  CHECK(bytes >= 3 * sizeof(float));
  EXPECT(DC_OK, dc_tensor_release(t));
}

/* Released handles, as a caller that kept one would pass them: freed by the library, and with new
 * handles created right after (which a plain allocator would place at the same address). */
static void test_stale_handles(void) {
  const int64_t s4[1] = {4};
  dc_tensor_desc d = dc_tensor_desc_init();
  dc_kv_ring_state rs = dc_kv_ring_state_init();
  dc_tensor *t = f32(1, s4, NULL), *fresh[64], *view = NULL;
  dc_kv_ring *ring = NULL, *ring2 = NULL;
  int i, reused = 0;

  EXPECT(DC_OK, dc_tensor_release(t));
  for (i = 0; i < 64; ++i) fresh[i] = f32(1, s4, NULL); /* same size: the freed block's class */
  for (i = 0; i < 64; ++i) reused += fresh[i] == t;
  CHECK(reused == 0);
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_describe(t, &d));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_retain(t));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_release(t)); /* a double release */
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_fill(t, 1.0));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_view(t, 0, 1, s4, NULL, &view));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_copy(fresh[0], t));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_softmax(t, fresh[0]));
  /* Churn: the stale handle stays reported while other tensors come and go. */
  for (i = 0; i < 64; ++i) EXPECT(DC_OK, dc_tensor_release(fresh[i]));
  for (i = 0; i < 1000; ++i) dc_tensor_release(f32(1, s4, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_describe(t, &d));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_describe(fresh[7], &d));

  /* The same for kv rings; and a foreign pointer is refused, not deleted. */
  EXPECT(DC_OK, dc_kv_ring_create(DC_F32, DC_DEVICE_CPU, 1, 1, 2, 4, &ring));
  EXPECT(DC_OK, dc_kv_ring_release(ring));
  EXPECT(DC_OK, dc_kv_ring_create(DC_F32, DC_DEVICE_CPU, 1, 1, 2, 4, &ring2));
  CHECK(ring2 != ring);
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_state_get(ring, &rs));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_clear(ring));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_release(ring)); /* a double release */
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_release(FOREIGN_RING));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_release((dc_kv_ring*)(void*)fresh[3])); /* another type */
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_release((dc_tensor*)(void*)ring2));
  EXPECT(DC_OK, dc_kv_ring_state_get(ring2, &rs));
  EXPECT(DC_OK, dc_kv_ring_release(ring2));
}

/* ------------------------------------------------------------- copy, write, read and fill */

static void test_copy_write_read(void) {
  const float src_values[6] = {1.5f, -2.25f, 3, 0.125f, -7, 1e-3f};
  const int32_t ints[6] = {1, -2, 3, 40000, -5, 6};
  const int64_t s23[2] = {2, 3}, s32[2] = {3, 2}, s6[1] = {6};
  dc_tensor *a = f32(2, s23, src_values), *b = f32(2, s32, NULL), *h = typed(DC_BF16, 2, s23);
  dc_tensor* i32 = typed(DC_I32, 1, s6);
  dc_tensor* out = f32(2, s23, NULL);
  float back[6];

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_copy(NULL, a));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_copy(a, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_copy(FOREIGN_T, a));
  EXPECT(DC_ERR_SHAPE, dc_copy(b, a));

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_write(NULL, src_values, DC_F32, 6));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_write(FOREIGN_T, src_values, DC_F32, 6));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_write(a, NULL, DC_F32, 6));
  EXPECT(DC_ERR_DTYPE, dc_tensor_write(a, src_values, BAD_DTYPE, 6));
  EXPECT(DC_ERR_SHAPE, dc_tensor_write(a, src_values, DC_F32, 5));
  EXPECT(DC_ERR_SHAPE, dc_tensor_write(a, src_values, DC_F32, (size_t)-1));

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_read_f32(NULL, back, 6));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_read_f32(FOREIGN_T, back, 6));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_read_f32(a, NULL, 6));
  EXPECT(DC_ERR_SHAPE, dc_tensor_read_f32(a, back, 7));
  EXPECT(DC_ERR_SHAPE, dc_tensor_read_f32(a, back, (size_t)-1));

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_fill(NULL, 1.0));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_fill(FOREIGN_T, 1.0));

  /* f32 -> bf16 -> f32 keeps these values (all exact in bf16 but 1e-3). */
  EXPECT(DC_OK, dc_copy(h, a));
  EXPECT(DC_OK, dc_copy(out, h));
  read_into(out, back, 6);
  CHECK(close_to(back, src_values, 6, 4e-3f));
  /* Integers convert to floats. */
  EXPECT(DC_OK, dc_tensor_write(i32, ints, DC_I32, 6));
  read_into(i32, back, 6);
  CHECK(back[0] == 1 && back[1] == -2 && back[3] == 40000 && back[4] == -5);
  EXPECT(DC_OK, dc_fill(out, 2.5));
  read_into(out, back, 6);
  CHECK(back[0] == 2.5f && back[5] == 2.5f);
  /* Values beyond a type's range convert by the header's rules, never by an undefined cast. */
  EXPECT(DC_OK, dc_fill(out, 1e300));
  read_into(out, back, 6);
  CHECK(isinf(back[0]) && back[0] > 0);
  EXPECT(DC_OK, dc_fill(i32, -1e300));
  EXPECT(DC_OK, dc_tensor_read_f32(i32, back, 6));
  CHECK(back[0] == (float)INT32_MIN);
  EXPECT(DC_OK, dc_fill(i32, 3e9));
  EXPECT(DC_OK, dc_tensor_read_f32(i32, back, 6));
  CHECK(back[0] == (float)INT32_MAX);
  EXPECT(DC_OK, dc_fill(i32, NAN));
  EXPECT(DC_OK, dc_tensor_read_f32(i32, back, 6));
  CHECK(back[0] == 0);
  {
    dc_tensor* f6 = f32(1, s6, NULL);
    EXPECT(DC_OK, dc_fill(f6, 1e300));
    EXPECT(DC_OK, dc_copy(i32, f6)); /* +inf to i32 */
    EXPECT(DC_OK, dc_tensor_read_f32(i32, back, 6));
    CHECK(back[0] == (float)INT32_MAX);
    dc_tensor_release(f6);
  }

  dc_tensor_release(a);
  dc_tensor_release(b);
  dc_tensor_release(h);
  dc_tensor_release(i32);
  dc_tensor_release(out);
}

/* ---------------------------------------------------------------------------------- gemm */

static void test_gemm_errors(void) {
  dc_tensor *a = f32_2d(2, 4, NULL), *w = f32_2d(3, 4, NULL), *out = f32_2d(2, 3, NULL);
  dc_tensor *w_bad = f32_2d(3, 5, NULL), *out_bad = f32_2d(3, 3, NULL), *bias_bad = f32_2d(1, 4, NULL);
  dc_tensor *gate_bad = f32_2d(3, 3, NULL), *w_i32 = typed(DC_I32, 2, (const int64_t[]){3, 4});
  dc_tensor* a_i32 = typed(DC_I32, 2, (const int64_t[]){2, 4});
  dc_gemm_params p = dc_gemm_params_init();

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_gemm(NULL, w, out, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_gemm(a, NULL, out, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_gemm(a, w, NULL, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_gemm(FOREIGN_T, w, out, NULL));
  EXPECT(DC_ERR_SHAPE, dc_gemm(a, w_bad, out, NULL));
  EXPECT(DC_ERR_SHAPE, dc_gemm(a, w, out_bad, NULL));
  EXPECT(DC_ERR_SHAPE, dc_gemm(a, a, a, NULL)); /* a [2, 4] as w: N = 2, out must be [2, 2] */
  EXPECT(DC_ERR_DTYPE, dc_gemm(a, w_i32, out, NULL));
  EXPECT(DC_ERR_DTYPE, dc_gemm(a_i32, w, out, NULL));

  p = dc_gemm_params_init();
  p.bias = bias_bad;
  EXPECT(DC_ERR_SHAPE, dc_gemm(a, w, out, &p));
  p.bias = FOREIGN_T;
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_gemm(a, w, out, &p));
  p = dc_gemm_params_init();
  p.activation = (dc_activation)99;
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_gemm(a, w, out, &p));
  p = dc_gemm_params_init();
  p.gate = gate_bad; /* 3 groups do not divide 2 rows */
  EXPECT(DC_ERR_SHAPE, dc_gemm(a, w, out, &p));
  p.gate = FOREIGN_T;
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_gemm(a, w, out, &p));
  p = dc_gemm_params_init();
  p.residual = out_bad;
  EXPECT(DC_ERR_SHAPE, dc_gemm(a, w, out, &p));

  dc_tensor_release(a);
  dc_tensor_release(w);
  dc_tensor_release(out);
  dc_tensor_release(w_bad);
  dc_tensor_release(out_bad);
  dc_tensor_release(bias_bad);
  dc_tensor_release(gate_bad);
  dc_tensor_release(w_i32);
  dc_tensor_release(a_i32);
}

/* out = residual + gate[g(r)] * silu(a w^T + bias), M = 4 rows in 2 groups, K = 5, N = 3. */
static void test_gemm_values(void) {
  float a[20], w[15], bias[3], gate[6], res[12], want[12], got[12];
  dc_tensor *ta, *tw, *tb, *tg, *tr, *to;
  dc_gemm_params p = dc_gemm_params_init();
  int m, n, k;

  for (k = 0; k < 20; ++k) a[k] = (float)((k * 7) % 11) / 5.0f - 1.0f;
  for (k = 0; k < 15; ++k) w[k] = (float)((k * 5) % 9) / 4.0f - 1.0f;
  for (k = 0; k < 3; ++k) bias[k] = 0.1f * (float)k - 0.1f;
  for (k = 0; k < 6; ++k) gate[k] = 0.5f + 0.25f * (float)k;
  for (k = 0; k < 12; ++k) res[k] = (float)k / 8.0f;
  for (m = 0; m < 4; ++m) {
    for (n = 0; n < 3; ++n) {
      double acc = bias[n];
      for (k = 0; k < 5; ++k) acc += (double)a[m * 5 + k] * w[n * 5 + k];
      want[m * 3 + n] = (float)(res[m * 3 + n] + gate[(m / 2) * 3 + n] * (acc / (1.0 + exp(-acc))));
    }
  }
  ta = f32_2d(4, 5, a);
  tw = f32_2d(3, 5, w);
  tb = f32(1, (const int64_t[]){3}, bias);
  tg = f32_2d(2, 3, gate);
  tr = f32_2d(4, 3, res);
  to = f32_2d(4, 3, NULL);
  p = dc_gemm_params_init();
  p.bias = tb;
  p.activation = DC_ACT_SILU;
  p.gate = tg;
  p.residual = tr;
  EXPECT(DC_OK, dc_gemm(ta, tw, to, &p));
  read_into(to, got, 12);
  CHECK(close_to(got, want, 12, 1e-5f));
  /* The residual may be the output itself. */
  EXPECT(DC_OK, dc_tensor_write(to, res, DC_F32, 12));
  p.residual = to;
  EXPECT(DC_OK, dc_gemm(ta, tw, to, &p));
  read_into(to, got, 12);
  CHECK(close_to(got, want, 12, 1e-5f));
  /* A weight packed once gives the same result, as f32 and (bf16-rounded products) as bf16. */
  {
    dc_tensor *packed = NULL, *packed_bf16 = NULL;
    dc_tensor_desc desc = dc_tensor_desc_init();
    EXPECT(DC_OK, dc_gemm_pack_weight(tw, DC_F32, &packed));
    EXPECT(DC_OK, dc_tensor_describe(packed, &desc));
    CHECK(desc.packed == 1 && desc.ndim == 2 && desc.shape[0] == 3 && desc.shape[1] == 5 && !desc.contiguous);
    p.residual = tr;
    EXPECT(DC_OK, dc_gemm(ta, packed, to, &p));
    read_into(to, got, 12);
    CHECK(close_to(got, want, 12, 1e-5f));
    EXPECT(DC_OK, dc_gemm_pack_weight(tw, DC_BF16, &packed_bf16));
    EXPECT(DC_OK, dc_gemm(ta, packed_bf16, to, &p));
    read_into(to, got, 12);
    CHECK(close_to(got, want, 12, 5e-2f));
    /* Only dc_gemm reads a packed weight, as its w. */
    EXPECT(DC_ERR_INVALID_ARGUMENT, dc_gemm(packed, tw, to, NULL));
    EXPECT(DC_ERR_INVALID_ARGUMENT, dc_tensor_read_f32(packed, got, 12));
    EXPECT(DC_ERR_INVALID_ARGUMENT, dc_copy(to, packed));
    dc_tensor_release(packed);
    /* Refused arguments leave *packed NULL. */
    EXPECT(DC_ERR_INVALID_ARGUMENT, dc_gemm_pack_weight(NULL, DC_F32, &packed));
    EXPECT(DC_ERR_INVALID_ARGUMENT, dc_gemm_pack_weight(FOREIGN_T, DC_F32, &packed));
    EXPECT(DC_ERR_INVALID_ARGUMENT, dc_gemm_pack_weight(tw, DC_F32, NULL));
    EXPECT(DC_ERR_DTYPE, dc_gemm_pack_weight(tw, DC_I32, &packed));
    EXPECT(DC_ERR_SHAPE, dc_gemm_pack_weight(tb, DC_F32, &packed));
    CHECK(packed == NULL);
    dc_tensor_release(packed_bf16);
  }
  dc_tensor_release(ta);
  dc_tensor_release(tw);
  dc_tensor_release(tb);
  dc_tensor_release(tg);
  dc_tensor_release(tr);
  dc_tensor_release(to);
}

/* ----------------------------------------------------------------------------- attention */

static dc_tensor* bhnd(int64_t b, int64_t h, int64_t n, int64_t d, const float* values) {
  const int64_t shape[4] = {b, h, n, d};
  return f32(4, shape, values);
}

static void test_attention_errors(void) {
  dc_tensor *q = bhnd(1, 2, 3, 4, NULL), *k = bhnd(1, 2, 5, 4, NULL), *v = bhnd(1, 2, 5, 4, NULL);
  dc_tensor *out = bhnd(1, 2, 3, 4, NULL), *v_short = bhnd(1, 2, 4, 4, NULL);
  dc_tensor *k_heads = bhnd(1, 3, 5, 4, NULL), *out_bad = bhnd(1, 2, 2, 4, NULL);
  dc_tensor *wide = bhnd(1, 1, 1, 257, NULL), *q3 = f32(3, (const int64_t[]){2, 3, 4}, NULL);
  dc_tensor *mask_bad = typed(DC_U8, 2, (const int64_t[]){1, 4});
  dc_tensor *mask_f16 = typed(DC_F16, 2, (const int64_t[]){1, 5});
  dc_tensor *freqs_bad = f32(1, (const int64_t[]){3}, NULL), *ring = bhnd(1, 2, 6, 4, NULL);
  dc_tensor* k1 = bhnd(1, 2, 1, 4, NULL);
  dc_tensor *q_i32 = typed(DC_I32, 4, (const int64_t[]){1, 2, 3, 4});
  dc_attention_params p = dc_attention_params_init();

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_attention(NULL, k, v, out, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_attention(q, NULL, v, out, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_attention(q, k, NULL, out, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_attention(q, k, v, NULL, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_attention(q, k, FOREIGN_T, out, NULL));
  EXPECT(DC_ERR_DTYPE, dc_attention(q_i32, k, v, out, NULL));
  EXPECT(DC_ERR_SHAPE, dc_attention(q3, k, v, out, NULL));
  EXPECT(DC_ERR_SHAPE, dc_attention(q, k, v_short, out, NULL));
  EXPECT(DC_ERR_SHAPE, dc_attention(q, k_heads, v, out, NULL));
  EXPECT(DC_ERR_SHAPE, dc_attention(q, k, v, out_bad, NULL));
  EXPECT(DC_ERR_SHAPE, dc_attention(wide, wide, wide, wide, NULL));

  p = dc_attention_params_init();
  p.scale = -1.0f;
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_attention(q, k, v, out, &p));
  p.scale = NAN;
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_attention(q, k, v, out, &p));
  p = dc_attention_params_init();
  p.key_mask = mask_bad;
  EXPECT(DC_ERR_SHAPE, dc_attention(q, k, v, out, &p));
  p.key_mask = mask_f16;
  EXPECT(DC_ERR_DTYPE, dc_attention(q, k, v, out, &p));
  p.key_mask = FOREIGN_T;
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_attention(q, k, v, out, &p));
  p = dc_attention_params_init();
  p.rope_freqs = freqs_bad;
  EXPECT(DC_ERR_SHAPE, dc_attention(q, k, v, out, &p));
  p = dc_attention_params_init();
  p.prefix_k = ring;
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_attention(q, k, v, out, &p));
  p.prefix_v = ring;
  p.prefix_len = 7;
  EXPECT(DC_ERR_RANGE, dc_attention(q, k, v, out, &p));
  p.prefix_len = -1;
  EXPECT(DC_ERR_RANGE, dc_attention(q, k, v, out, &p));
  p.prefix_len = 2;
  p.prefix_start = 6;
  EXPECT(DC_ERR_RANGE, dc_attention(q, k, v, out, &p));
  p.prefix_start = INT64_MIN;
  EXPECT(DC_ERR_RANGE, dc_attention(q, k, v, out, &p));
  p = dc_attention_params_init();
  p.prefix_len = 3; /* without a prefix */
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_attention(q, k, v, out, &p));
  p = dc_attention_params_init();
  p.causal = 1; /* 3 queries, 1 key */
  EXPECT(DC_ERR_SHAPE, dc_attention(q, k1, k1, out, &p));

  dc_tensor_release(q);
  dc_tensor_release(k);
  dc_tensor_release(v);
  dc_tensor_release(out);
  dc_tensor_release(v_short);
  dc_tensor_release(k_heads);
  dc_tensor_release(out_bad);
  dc_tensor_release(wide);
  dc_tensor_release(q3);
  dc_tensor_release(mask_bad);
  dc_tensor_release(mask_f16);
  dc_tensor_release(freqs_bad);
  dc_tensor_release(ring);
  dc_tensor_release(k1);
  dc_tensor_release(q_i32);
}

/* Causal attention with a key mask against the softmax written out: B = 1, H = 2, N = 3, D = 4. */
static void test_attention_values(void) {
  float q[24], k[24], v[24], want[24], got[24];
  const uint8_t mask[3] = {1, 0, 1}; /* key 1 is hidden */
  dc_tensor *tq, *tk, *tv, *to, *tm;
  dc_attention_params p = dc_attention_params_init();
  int h, i, j, d;

  for (i = 0; i < 24; ++i) {
    q[i] = (float)((i * 5) % 7) / 3.0f - 1.0f;
    k[i] = (float)((i * 3) % 8) / 4.0f - 1.0f;
    v[i] = (float)i / 6.0f - 2.0f;
  }
  for (h = 0; h < 2; ++h) {
    for (i = 0; i < 3; ++i) {
      double s[3], mx = -1e30, sum = 0;
      for (j = 0; j < 3; ++j) {
        s[j] = -1e30;
        if (j > i || !mask[j]) continue;
        s[j] = 0;
        for (d = 0; d < 4; ++d) s[j] += (double)q[(h * 3 + i) * 4 + d] * k[(h * 3 + j) * 4 + d];
        s[j] *= 0.5; /* head_dim^-0.5 */
        if (s[j] > mx) mx = s[j];
      }
      for (j = 0; j < 3; ++j) sum += s[j] > -1e29 ? exp(s[j] - mx) : 0.0;
      for (d = 0; d < 4; ++d) {
        double acc = 0;
        for (j = 0; j < 3; ++j)
          if (s[j] > -1e29) acc += exp(s[j] - mx) / sum * v[(h * 3 + j) * 4 + d];
        want[(h * 3 + i) * 4 + d] = (float)acc;
      }
    }
  }
  tq = bhnd(1, 2, 3, 4, q);
  tk = bhnd(1, 2, 3, 4, k);
  tv = bhnd(1, 2, 3, 4, v);
  to = bhnd(1, 2, 3, 4, NULL);
  tm = typed(DC_U8, 2, (const int64_t[]){1, 3});
  EXPECT(DC_OK, dc_tensor_write(tm, mask, DC_U8, 3));
  p = dc_attention_params_init();
  p.causal = 1;
  p.key_mask = tm;
  EXPECT(DC_OK, dc_attention(tq, tk, tv, to, &p));
  read_into(to, got, 24);
  CHECK(close_to(got, want, 24, 1e-5f));
  dc_tensor_release(tq);
  dc_tensor_release(tk);
  dc_tensor_release(tv);
  dc_tensor_release(to);
  dc_tensor_release(tm);
}

/* ------------------------------------------------------------------------ row-wise ops */

static void test_rowwise_errors(void) {
  dc_tensor *x = f32_2d(4, 6, NULL), *out = f32_2d(4, 6, NULL), *out_bad = f32_2d(6, 4, NULL);
  dc_tensor *c5 = f32(1, (const int64_t[]){5}, NULL), *c6 = f32(1, (const int64_t[]){6}, NULL);
  dc_tensor* g3 = f32_2d(3, 6, NULL);
  dc_tensor *g2 = f32_2d(2, 6, NULL), *freqs = f32(1, (const int64_t[]){3}, NULL);
  dc_tensor *x_i32 = typed(DC_I32, 2, (const int64_t[]){4, 6}), *odd = f32_2d(4, 5, NULL);
  dc_tensor *scalar = f32(0, NULL, NULL), *strided = NULL;
  dc_tensor *x_bf16 = typed(DC_BF16, 2, (const int64_t[]){4, 6}), *x_f16 = typed(DC_F16, 2, (const int64_t[]){4, 6});
  dc_tensor *c6_f16 = typed(DC_F16, 1, (const int64_t[]){6}), *freqs_bf16 = typed(DC_BF16, 1, (const int64_t[]){3});
  dc_norm_params p = dc_norm_params_init();

  /* Rows whose last dimension is not dense: every other column of x. */
  EXPECT(DC_OK, dc_tensor_view(x, 0, 2, (const int64_t[]){4, 3}, (const int64_t[]){6, 2}, &strided));

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_layernorm(NULL, out, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_layernorm(x, NULL, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_layernorm(FOREIGN_T, out, NULL));
  EXPECT(DC_ERR_SHAPE, dc_layernorm(x, out_bad, NULL));
  EXPECT(DC_ERR_DTYPE, dc_layernorm(x_i32, x_i32, NULL));
  EXPECT(DC_ERR_DTYPE, dc_layernorm(x, x_i32, NULL));
  EXPECT(DC_ERR_SHAPE, dc_layernorm(scalar, scalar, NULL));
  EXPECT(DC_ERR_SHAPE, dc_layernorm(strided, strided, NULL));
  p = dc_norm_params_init();
  p.eps = -1.0f;
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_layernorm(x, out, &p));
  p.eps = INFINITY;
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_rmsnorm(x, out, &p));
  p = dc_norm_params_init();
  p.weight = c5;
  EXPECT(DC_ERR_SHAPE, dc_layernorm(x, out, &p));
  EXPECT(DC_ERR_SHAPE, dc_rmsnorm(x, out, &p));
  p.weight = FOREIGN_T;
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_rmsnorm(x, out, &p));
  p = dc_norm_params_init();
  p.bias = c5;
  EXPECT(DC_ERR_SHAPE, dc_layernorm(x, out, &p));
  p = dc_norm_params_init();
  p.shift = g2;
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_layernorm(x, out, &p));
  p.scale = g3; /* 3 groups do not divide 4 rows */
  EXPECT(DC_ERR_SHAPE, dc_layernorm(x, out, &p));
  p = dc_norm_params_init();
  p.bias = c6;
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_rmsnorm(x, out, &p)); /* rmsnorm takes no bias */
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_rmsnorm(NULL, out, NULL));
  EXPECT(DC_ERR_SHAPE, dc_rmsnorm(x, out_bad, NULL));

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_modulate(x, NULL, g2, out));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_modulate(x, g2, NULL, out));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_modulate(NULL, g2, g2, out));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_modulate(x, FOREIGN_T, g2, out));
  EXPECT(DC_ERR_SHAPE, dc_modulate(x, g3, g2, out));
  EXPECT(DC_ERR_SHAPE, dc_modulate(x, g2, c5, out));
  EXPECT(DC_ERR_SHAPE, dc_modulate(x, g2, g2, out_bad));

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_activate(NULL, DC_ACT_SILU, out));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_activate(x, (dc_activation)-1, out));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_activate(x, (dc_activation)3, out));
  EXPECT(DC_ERR_SHAPE, dc_activate(x, DC_ACT_SILU, out_bad));
  EXPECT(DC_ERR_DTYPE, dc_activate(x_i32, DC_ACT_SILU, x_i32));

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_axpby(1, NULL, 1, x, out));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_axpby(1, x, 1, NULL, out));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_axpby(1, x, 1, x, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_axpby(NAN, x, 1, x, out));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_axpby(1, x, INFINITY, x, out));
  EXPECT(DC_ERR_SHAPE, dc_axpby(1, x, 1, g3, out));
  EXPECT(DC_ERR_SHAPE, dc_axpby(1, x, 1, odd, out));
  EXPECT(DC_ERR_DTYPE, dc_axpby(1, x, 1, x_i32, out));

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_mul(NULL, x, out));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_mul(x, NULL, out));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_mul(x, FOREIGN_T, out));
  EXPECT(DC_ERR_SHAPE, dc_mul(x, c5, out));
  EXPECT(DC_ERR_DTYPE, dc_mul(x, x_i32, out));

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_softmax(NULL, out));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_softmax(x, FOREIGN_T));
  EXPECT(DC_ERR_SHAPE, dc_softmax(x, out_bad));
  EXPECT(DC_ERR_SHAPE, dc_softmax(strided, strided));

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_rope(NULL, freqs, 0, out));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_rope(x, NULL, 0, out));
  EXPECT(DC_ERR_SHAPE, dc_rope(x, c5, 0, out));
  EXPECT(DC_ERR_SHAPE, dc_rope(odd, freqs, 0, odd));
  EXPECT(DC_ERR_SHAPE, dc_rope(c5, freqs, 0, c5)); /* needs [.., T, D] */
  EXPECT(DC_ERR_DTYPE, dc_rope(x, x_i32, 0, out));
  EXPECT(DC_ERR_SHAPE, dc_rope(x, freqs, 0, out_bad));
  /* pos0 + t must stay an int64: first positions are bounded by 2^62. */
  EXPECT(DC_ERR_RANGE, dc_rope(x, freqs, INT64_MAX, out));
  EXPECT(DC_ERR_RANGE, dc_rope(x, freqs, INT64_MIN, out));
  EXPECT(DC_OK, dc_rope(x, freqs, (int64_t)1 << 62, out));

  /* CPU float operands are F32 or BF16 each; a y of x's shape has x's dtype; freqs is F32. */
  EXPECT(DC_OK, dc_softmax(x, x_bf16));
  EXPECT(DC_OK, dc_axpby(1, x_bf16, 1, g2, out));
  EXPECT(DC_ERR_DTYPE, dc_softmax(x_f16, x_f16));
  EXPECT(DC_ERR_DTYPE, dc_layernorm(x, x_f16, NULL));
  EXPECT(DC_ERR_DTYPE, dc_axpby(1, x_bf16, 1, x, out));
  EXPECT(DC_ERR_DTYPE, dc_mul(x_bf16, x_f16, out));
  EXPECT(DC_ERR_DTYPE, dc_rope(x_bf16, freqs_bf16, 0, x_bf16));
  p = dc_norm_params_init();
  p.weight = c6_f16;
  EXPECT(DC_ERR_DTYPE, dc_rmsnorm(x_bf16, out, &p));

  dc_tensor_release(x);
  dc_tensor_release(out);
  dc_tensor_release(out_bad);
  dc_tensor_release(c5);
  dc_tensor_release(c6);
  dc_tensor_release(g3);
  dc_tensor_release(g2);
  dc_tensor_release(freqs);
  dc_tensor_release(x_i32);
  dc_tensor_release(odd);
  dc_tensor_release(scalar);
  dc_tensor_release(strided);
  dc_tensor_release(x_bf16);
  dc_tensor_release(x_f16);
  dc_tensor_release(c6_f16);
  dc_tensor_release(freqs_bf16);
}

/* LayerNorm with affine and grouped modulation, RMSNorm, softmax, axpby, mul and RoPE on a
 * [4, 6] input whose 4 rows form 2 groups. */
static void test_rowwise_values(void) {
  float x[24], w[6], b[6], shift[12], scale[12], want[24], got[24], freqs[3];
  dc_tensor *tx, *tw, *tb, *tsh, *tsc, *to, *tf;
  dc_norm_params p = dc_norm_params_init();
  int r, c;

  for (c = 0; c < 24; ++c) x[c] = (float)((c * 7) % 13) / 3.0f - 2.0f;
  for (c = 0; c < 6; ++c) {
    w[c] = 0.5f + 0.1f * (float)c;
    b[c] = 0.2f * (float)c - 0.5f;
  }
  for (c = 0; c < 12; ++c) {
    shift[c] = 0.05f * (float)c;
    scale[c] = 0.1f * (float)c - 0.6f;
  }
  for (c = 0; c < 3; ++c) freqs[c] = 1.0f / (float)(c + 1);
  tx = f32_2d(4, 6, x);
  tw = f32(1, (const int64_t[]){6}, w);
  tb = f32(1, (const int64_t[]){6}, b);
  tsh = f32_2d(2, 6, shift);
  tsc = f32_2d(2, 6, scale);
  to = f32_2d(4, 6, NULL);
  tf = f32(1, (const int64_t[]){3}, freqs);

  for (r = 0; r < 4; ++r) {
    double mean = 0, var = 0;
    for (c = 0; c < 6; ++c) mean += x[r * 6 + c] / 6.0;
    for (c = 0; c < 6; ++c) var += (x[r * 6 + c] - mean) * (x[r * 6 + c] - mean) / 6.0;
    for (c = 0; c < 6; ++c) {
      const double y = (x[r * 6 + c] - mean) / sqrt(var + 1e-6) * w[c] + b[c];
      const int g = (r / 2) * 6 + c;
      want[r * 6 + c] = (float)(y * (1.0 + scale[g]) + shift[g]);
    }
  }
  p = dc_norm_params_init();
  p.weight = tw;
  p.bias = tb;
  p.shift = tsh;
  p.scale = tsc;
  EXPECT(DC_OK, dc_layernorm(tx, to, &p));
  read_into(to, got, 24);
  CHECK(close_to(got, want, 24, 1e-5f));

  for (r = 0; r < 4; ++r) {
    double ms = 0;
    for (c = 0; c < 6; ++c) ms += (double)x[r * 6 + c] * x[r * 6 + c] / 6.0;
    for (c = 0; c < 6; ++c) want[r * 6 + c] = (float)(w[c] * x[r * 6 + c] / sqrt(ms + 1e-6));
  }
  p = dc_norm_params_init();
  p.weight = tw;
  EXPECT(DC_OK, dc_rmsnorm(tx, to, &p));
  read_into(to, got, 24);
  CHECK(close_to(got, want, 24, 1e-5f));

  for (r = 0; r < 4; ++r) {
    double mx = -1e30, sum = 0;
    for (c = 0; c < 6; ++c) mx = x[r * 6 + c] > mx ? x[r * 6 + c] : mx;
    for (c = 0; c < 6; ++c) sum += exp(x[r * 6 + c] - mx);
    for (c = 0; c < 6; ++c) want[r * 6 + c] = (float)(exp(x[r * 6 + c] - mx) / sum);
  }
  EXPECT(DC_OK, dc_softmax(tx, to));
  read_into(to, got, 24);
  CHECK(close_to(got, want, 24, 1e-5f));

  for (c = 0; c < 24; ++c) want[c] = 2.0f * x[c] - 0.5f * shift[(c / 12) * 6 + c % 6];
  EXPECT(DC_OK, dc_axpby(2.0f, tx, -0.5f, tsh, to));
  read_into(to, got, 24);
  CHECK(close_to(got, want, 24, 1e-6f));

  for (c = 0; c < 24; ++c) want[c] = x[c] * x[c];
  EXPECT(DC_OK, dc_mul(tx, tx, to));
  read_into(to, got, 24);
  CHECK(close_to(got, want, 24, 1e-6f));

  /* x as [4 positions, 6]: position pos0 + t rotates pair i by (pos0 + t) * freqs[i]. */
  for (r = 0; r < 4; ++r) {
    for (c = 0; c < 3; ++c) {
      const double angle = (double)(5 + r) * freqs[c];
      const double x0 = x[r * 6 + 2 * c], x1 = x[r * 6 + 2 * c + 1];
      want[r * 6 + 2 * c] = (float)(x0 * cos(angle) - x1 * sin(angle));
      want[r * 6 + 2 * c + 1] = (float)(x1 * cos(angle) + x0 * sin(angle));
    }
  }
  EXPECT(DC_OK, dc_rope(tx, tf, 5, to));
  read_into(to, got, 24);
  CHECK(close_to(got, want, 24, 1e-5f));

  dc_tensor_release(tx);
  dc_tensor_release(tw);
  dc_tensor_release(tb);
  dc_tensor_release(tsh);
  dc_tensor_release(tsc);
  dc_tensor_release(to);
  dc_tensor_release(tf);
}

/* x rounded to the nearest bf16 (ties to even), as a float: the value a BF16 tensor holds. */
static float bf16_round(float f) {
  uint32_t u;
  memcpy(&u, &f, sizeof u);
  u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
  memcpy(&f, &u, sizeof f);
  return f;
}

static dc_tensor* bf16_tensor(int ndim, const int64_t* shape, const float* values, size_t n) {
  dc_tensor* t = typed(DC_BF16, ndim, shape);
  if (values) EXPECT(DC_OK, dc_tensor_write(t, values, DC_F32, n));
  return t;
}

/* |got - want| <= tol (1 + |want|) + 2^-8 |want|: an fp32 bound plus one rounding to bf16. */
static int close_to_bf16(const float* got, const float* want, int n, float tol) {
  int i;
  for (i = 0; i < n; ++i) {
    if (!(fabsf(got[i] - want[i]) <= tol * (1.0f + fabsf(want[i])) + fabsf(want[i]) / 256.0f)) {
      fprintf(stderr, "  element %d: got %.7g, want %.7g (bf16 out, tolerance %g)\n", i, got[i], want[i], tol);
      return 0;
    }
  }
  return 1;
}

/* BF16 through the C ABI: LayerNorm of a BF16 x with a BF16 weight and an F32 bias into a BF16
 * out, then in place; a BF16 x plus a grouped F32 y into an F32 out. The references take the bf16
 * values of the inputs. */
static void test_rowwise_bf16_values(void) {
  const int64_t s46[2] = {4, 6}, s6[1] = {6}, s26[2] = {2, 6};
  float x[24], w[6], b[6], y[12], want[24], got[24];
  dc_tensor *tx, *tw, *tb, *ty, *to, *to32;
  dc_norm_params p;
  int r, c;

  for (c = 0; c < 24; ++c) x[c] = bf16_round((float)((c * 7) % 13) / 3.0f - 2.0f);
  for (c = 0; c < 6; ++c) {
    w[c] = bf16_round(0.5f + 0.1f * (float)c);
    b[c] = 0.2f * (float)c - 0.5f;
  }
  for (c = 0; c < 12; ++c) y[c] = 0.05f * (float)c - 0.3f;
  tx = bf16_tensor(2, s46, x, 24);
  tw = bf16_tensor(1, s6, w, 6);
  tb = f32(1, s6, b);
  ty = f32(2, s26, y);
  to = bf16_tensor(2, s46, NULL, 0);
  to32 = f32(2, s46, NULL);

  for (r = 0; r < 4; ++r) {
    double mean = 0, var = 0;
    for (c = 0; c < 6; ++c) mean += x[r * 6 + c] / 6.0;
    for (c = 0; c < 6; ++c) var += (x[r * 6 + c] - mean) * (x[r * 6 + c] - mean) / 6.0;
    for (c = 0; c < 6; ++c) want[r * 6 + c] = (float)((x[r * 6 + c] - mean) / sqrt(var + 1e-6) * w[c] + b[c]);
  }
  p = dc_norm_params_init();
  p.weight = tw;
  p.bias = tb;
  EXPECT(DC_OK, dc_layernorm(tx, to, &p));
  read_into(to, got, 24);
  CHECK(close_to_bf16(got, want, 24, 1e-5f));
  EXPECT(DC_OK, dc_layernorm(tx, tx, &p));
  read_into(tx, got, 24);
  CHECK(close_to_bf16(got, want, 24, 1e-5f));

  EXPECT(DC_OK, dc_tensor_write(tx, x, DC_F32, 24));
  for (c = 0; c < 24; ++c) want[c] = 2.0f * x[c] - 0.5f * y[(c / 12) * 6 + c % 6];
  EXPECT(DC_OK, dc_axpby(2.0f, tx, -0.5f, ty, to32));
  read_into(to32, got, 24);
  CHECK(close_to(got, want, 24, 1e-6f));

  dc_tensor_release(tx);
  dc_tensor_release(tw);
  dc_tensor_release(tb);
  dc_tensor_release(ty);
  dc_tensor_release(to);
  dc_tensor_release(to32);
}

/* ------------------------------------------------------------------------------- layout */

static void test_layout(void) {
  /* x [1, 2, 3, 4, 4] with patches (1, 2, 2): 3*2*2 = 12 tokens of 2*1*2*2 = 8 columns. */
  const int64_t vshape[5] = {1, 2, 3, 4, 4}, tshape[3] = {1, 12, 8}, bad_tshape[3] = {1, 11, 8};
  float video[96], back[96];
  dc_tensor *x = NULL, *tokens = f32(3, tshape, NULL), *bad = f32(3, bad_tshape, NULL);
  dc_tensor *y = f32(5, vshape, NULL), *x4 = f32(4, (const int64_t[]){2, 3, 4, 4}, NULL);
  dc_tensor* x_i32 = typed(DC_I32, 5, vshape);
  int i;

  for (i = 0; i < 96; ++i) video[i] = (float)i;
  x = f32(5, vshape, video);

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_patchify(NULL, 1, 2, 2, tokens));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_patchify(x, 1, 2, 2, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_patchify(x, 0, 2, 2, tokens));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_patchify(x, 1, -2, 2, tokens));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_patchify(x, 1, 2, 1 << 20, tokens));
  EXPECT(DC_ERR_SHAPE, dc_patchify(x4, 1, 2, 2, tokens));
  EXPECT(DC_ERR_SHAPE, dc_patchify(x, 1, 2, 2, bad));
  EXPECT(DC_ERR_SHAPE, dc_patchify(x, 1, 1, 2, tokens));
  EXPECT(DC_ERR_DTYPE, dc_patchify(x_i32, 1, 2, 2, tokens));

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_unpatchify(NULL, 1, 2, 2, y));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_unpatchify(tokens, 1, 2, 2, FOREIGN_T));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_unpatchify(tokens, 1, 0, 2, y));
  EXPECT(DC_ERR_SHAPE, dc_unpatchify(tokens, 1, 2, 2, x4));
  EXPECT(DC_ERR_SHAPE, dc_unpatchify(bad, 1, 2, 2, y));
  EXPECT(DC_ERR_SHAPE, dc_unpatchify(tokens, 2, 2, 2, y));

  /* Column order differs between the two layouts, so a round trip checks values only for
   * a single channel: patchify's column (c*pt + it)*ph*pw + ... equals unpatchify's when C = 1. */
  EXPECT(DC_OK, dc_patchify(x, 1, 2, 2, tokens));
  EXPECT(DC_OK, dc_tensor_read_f32(tokens, back, 96));
  /* token 0 = frame 0, rows 0-1, cols 0-1 of channel 0, then of channel 1. */
  CHECK(back[0] == 0 && back[1] == 1 && back[2] == 4 && back[3] == 5 && back[4] == 48);
  /* token 1 = cols 2-3. */
  CHECK(back[8] == 2 && back[9] == 3 && back[10] == 6 && back[11] == 7);
  {
    const int64_t one_channel[5] = {1, 1, 3, 4, 4};
    dc_tensor *v1 = NULL, *t1 = f32(3, (const int64_t[]){1, 12, 4}, NULL), *y1 = f32(5, one_channel, NULL);
    EXPECT(DC_OK, dc_tensor_view(x, 0, 5, one_channel, NULL, &v1));
    EXPECT(DC_OK, dc_patchify(v1, 1, 2, 2, t1));
    EXPECT(DC_OK, dc_unpatchify(t1, 1, 2, 2, y1));
    EXPECT(DC_OK, dc_tensor_read_f32(y1, back, 48));
    CHECK(close_to(back, video, 48, 0.0f));
    dc_tensor_release(v1);
    dc_tensor_release(t1);
    dc_tensor_release(y1);
  }

  dc_tensor_release(x);
  dc_tensor_release(tokens);
  dc_tensor_release(bad);
  dc_tensor_release(y);
  dc_tensor_release(x4);
  dc_tensor_release(x_i32);
}

/* ------------------------------------------------------------------------------ metrics */

static void test_metrics(void) {
  float c[12], f[12];
  const int64_t strides[2] = {1, 2}, bad_strides[1] = {3}, zero_stride[1] = {0};
  dc_tensor *cache, *fresh, *other = f32_2d(4, 3, NULL), *x_i32 = typed(DC_I32, 2, (const int64_t[]){3, 4});
  dc_tensor *r = NULL, *r2 = f32_2d(6, 2, NULL);
  double num = -1, den = -1, nums[2], dens[2], want_num = 0, want_den = 0;
  int i, s, t;

  for (i = 0; i < 12; ++i) {
    c[i] = (float)i / 4.0f - 1.0f;
    f[i] = (float)((i * 5) % 7) / 3.0f - 1.0f;
  }
  cache = f32_2d(3, 4, c);
  fresh = f32_2d(3, 4, f);

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_residual_distance(NULL, fresh, DC_L1, 0, &num, &den));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_residual_distance(cache, NULL, DC_L1, 0, &num, &den));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_residual_distance(cache, FOREIGN_T, DC_L1, 0, &num, &den));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_residual_distance(cache, fresh, DC_L1, 0, NULL, &den));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_residual_distance(cache, fresh, DC_L2, 0, &num, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_residual_distance(cache, fresh, (dc_norm_kind)3, 0, &num, &den));
  EXPECT(DC_ERR_SHAPE, dc_residual_distance(cache, other, DC_L1, 0, &num, &den));
  EXPECT(DC_ERR_DTYPE, dc_residual_distance(cache, x_i32, DC_L1, 0, &num, &den));
  EXPECT(DC_ERR_DTYPE, dc_residual_distance(x_i32, x_i32, DC_L1, 0, &num, &den));

  for (i = 0; i < 12; ++i) {
    want_num += ((double)c[i] - f[i]) * ((double)c[i] - f[i]);
    want_den += (double)c[i] * c[i];
  }
  EXPECT(DC_OK, dc_residual_distance(cache, fresh, DC_L2, 1, &num, &den));
  CHECK(fabs(num - sqrt(want_num)) < 1e-5 && fabs(den - sqrt(want_den)) < 1e-5);
  /* update = 1 refreshed the cache: the distance is now zero. */
  EXPECT(DC_OK, dc_residual_distance(cache, fresh, DC_L1, 0, &num, &den));
  CHECK(num == 0 && den > 0);

  /* r [1, 4 frames * 3 tokens, 1 channel]. */
  r = f32(3, (const int64_t[]){1, 12, 1}, c);
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_motion_score(NULL, 4, strides, 2, nums, dens));
  EXPECT(DC_ERR_SHAPE, dc_motion_score(r2, 4, strides, 2, nums, dens));
  EXPECT(DC_ERR_SHAPE, dc_motion_score(r, 0, strides, 2, nums, dens));
  EXPECT(DC_ERR_SHAPE, dc_motion_score(r, -4, strides, 2, nums, dens));
  EXPECT(DC_ERR_SHAPE, dc_motion_score(r, 5, strides, 2, nums, dens));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_motion_score(r, 4, NULL, 2, nums, dens));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_motion_score(r, 4, strides, 0, nums, dens));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_motion_score(r, 4, strides, -1, nums, dens));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_motion_score(r, 4, strides, 1 << 20, nums, dens));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_motion_score(r, 4, strides, 2, NULL, dens));
  EXPECT(DC_ERR_RANGE, dc_motion_score(r, 3, bad_strides, 1, nums, dens)); /* stride 3 of 3 frames */
  EXPECT(DC_ERR_RANGE, dc_motion_score(r, 4, zero_stride, 1, nums, dens));
  EXPECT(DC_ERR_DTYPE, dc_motion_score(x_i32, 1, strides, 1, nums, dens));

  EXPECT(DC_OK, dc_motion_score(r, 4, strides, 2, nums, dens));
  for (s = 0; s < 2; ++s) {
    double n = 0, d = 0;
    for (t = 0; t + strides[s] < 4; ++t) {
      for (i = 0; i < 3; ++i) {
        const double a = c[(t + strides[s]) * 3 + i], b = c[t * 3 + i];
        n += fabs(a - b);
        d += fabs(a) + fabs(b);
      }
    }
    CHECK(fabs(nums[s] - n) < 1e-5 && fabs(dens[s] - d) < 1e-5);
  }

  dc_tensor_release(cache);
  dc_tensor_release(fresh);
  dc_tensor_release(other);
  dc_tensor_release(x_i32);
  dc_tensor_release(r);
  dc_tensor_release(r2);
}

/* ------------------------------------------------------------------------------ KV ring */

static void test_kv_ring(void) {
  dc_kv_ring* ring = NULL;
  dc_kv_ring_state s = dc_kv_ring_state_init();
  dc_tensor *k = NULL, *v = NULL, *ring_k = NULL, *ring_v = NULL;
  dc_tensor *k3 = bhnd(1, 2, 3, 4, NULL), *k5 = bhnd(1, 2, 5, 4, NULL), *kd = bhnd(1, 2, 3, 8, NULL);
  dc_tensor* k_i32 = typed(DC_I32, 4, (const int64_t[]){1, 2, 3, 4});
  float values[24], back[32];
  int i;

  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_create(DC_F32, DC_DEVICE_CPU, 1, 2, 4, 4, NULL));
  EXPECT(DC_ERR_SHAPE, dc_kv_ring_create(DC_F32, DC_DEVICE_CPU, 0, 2, 4, 4, &ring));
  EXPECT(DC_ERR_SHAPE, dc_kv_ring_create(DC_F32, DC_DEVICE_CPU, 1, -2, 4, 4, &ring));
  EXPECT(DC_ERR_SHAPE, dc_kv_ring_create(DC_F32, DC_DEVICE_CPU, 1, 2, 0, 4, &ring));
  EXPECT(DC_ERR_SHAPE, dc_kv_ring_create(DC_F32, DC_DEVICE_CPU, 1, 2, 4, INT64_MIN, &ring));
  EXPECT(DC_ERR_RANGE, dc_kv_ring_create(DC_F32, DC_DEVICE_CPU, INT64_MAX, INT64_MAX, 4, 4, &ring));
  EXPECT(DC_ERR_RANGE, dc_kv_ring_create(DC_F32, DC_DEVICE_CPU, 1 << 20, 1 << 20, 1 << 20, 1, &ring));
  EXPECT(DC_ERR_DTYPE, dc_kv_ring_create(BAD_DTYPE, DC_DEVICE_CPU, 1, 2, 4, 4, &ring));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_create(DC_F32, BAD_DEVICE, 1, 2, 4, 4, &ring));
  if (!g_cuda) EXPECT(DC_ERR_UNAVAILABLE, dc_kv_ring_create(DC_F32, DC_DEVICE_CUDA, 1, 2, 4, 4, &ring));
  CHECK(ring == NULL);

  EXPECT(DC_OK, dc_kv_ring_release(NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_append(NULL, k3, k3));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_append(FOREIGN_RING, k3, k3));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_clear(NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_clear(FOREIGN_RING));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_state_get(NULL, &s));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_state_get(FOREIGN_RING, &s));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_tensors(NULL, &k, &v));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_tensors(FOREIGN_RING, &k, &v));

  EXPECT(DC_OK, dc_kv_ring_create(DC_F32, DC_DEVICE_CPU, 1, 2, 4, 4, &ring));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_state_get(ring, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_tensors(ring, NULL, &v));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_tensors(ring, &k, NULL));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_append(ring, NULL, k3));
  EXPECT(DC_ERR_INVALID_ARGUMENT, dc_kv_ring_append(ring, k3, FOREIGN_T));
  EXPECT(DC_ERR_SHAPE, dc_kv_ring_append(ring, k3, k5));
  EXPECT(DC_ERR_SHAPE, dc_kv_ring_append(ring, kd, kd));
  EXPECT(DC_ERR_RANGE, dc_kv_ring_append(ring, k5, k5));
  EXPECT(DC_ERR_DTYPE, dc_kv_ring_append(ring, k_i32, k_i32));

  /* Appending 3 + 3 entries to a ring of 4 evicts the 2 oldest; the second batch wraps around. */
  for (i = 0; i < 24; ++i) values[i] = (float)i;
  EXPECT(DC_OK, dc_tensor_write(k3, values, DC_F32, 24));
  EXPECT(DC_OK, dc_kv_ring_append(ring, k3, k3));
  EXPECT(DC_OK, dc_kv_ring_append(ring, k3, k3));
  EXPECT(DC_OK, dc_kv_ring_state_get(ring, &s));
  CHECK(s.capacity == 4 && s.length == 4 && s.start == 2 && s.evicted == 2);
  CHECK(s.bytes == 2 * 2 * 4 * 4 * sizeof(float));
  EXPECT(DC_OK, dc_kv_ring_tensors(ring, &ring_k, &ring_v));
  read_into(ring_k, back, 32);
  /* head 0 slots: [e1 of batch 2, e2 of batch 2, e2 of batch 1, e0 of batch 2] -> 4,8,8,0 */
  CHECK(back[0] == 4 && back[4] == 8 && back[8] == 8 && back[12] == 0);
  EXPECT(DC_OK, dc_kv_ring_clear(ring));
  EXPECT(DC_OK, dc_kv_ring_state_get(ring, &s));
  CHECK(s.length == 0 && s.start == 0 && s.evicted == 0);
  /* The storage tensors outlive the ring that handed them out. */
  EXPECT(DC_OK, dc_kv_ring_release(ring));
  read_into(ring_v, back, 32);
  CHECK(back[0] == 4);

  dc_tensor_release(ring_k);
  dc_tensor_release(ring_v);
  dc_tensor_release(k3);
  dc_tensor_release(k5);
  dc_tensor_release(kd);
  dc_tensor_release(k_i32);
}

/* ------------------------------------------------------------------------------------- */

/* ------------------------------------------------------------------------- versioned structs */

/* Whether the bytes of a record after its struct_size still hold the 0xAB pattern. */
static int untouched(const void* record, size_t size) {
  const unsigned char* b = (const unsigned char*)record;
  size_t i;
  for (i = sizeof(size_t); i < size; ++i)
    if (b[i] != 0xAB) return 0;
  return 1;
}

/* 0, one short of `own`, and larger than `own`. */
static size_t wrong_size(int i, size_t own) { return i == 0 ? 0 : i == 1 ? own - 1 : own + 8; }

/* Each struct with a size the library does not know: 0 and one short of its own are refused as
 * invalid, a larger one (a newer header) as unavailable, with a message naming the struct, before
 * the struct is read further (ASan reports a read past a plain struct) or a record is written. */
static void test_struct_sizes(void) {
  const dc_status want[3] = {DC_ERR_INVALID_ARGUMENT, DC_ERR_INVALID_ARGUMENT, DC_ERR_UNAVAILABLE};
  dc_tensor *a = f32_2d(2, 4, NULL), *w = f32_2d(3, 4, NULL), *out = f32_2d(2, 3, NULL);
  dc_tensor *x = f32_2d(2, 4, NULL), *y = f32_2d(2, 4, NULL);
  const int64_t bhnd[4] = {1, 1, 2, 4};
  dc_tensor *q = f32(4, bhnd, NULL), *o = f32(4, bhnd, NULL);
  dc_kv_ring* ring = NULL;
  int i;

  EXPECT(DC_OK, dc_kv_ring_create(DC_F32, DC_DEVICE_CPU, 1, 1, 2, 4, &ring));
  for (i = 0; i < 3; ++i) {
    dc_gemm_params gp = dc_gemm_params_init();
    dc_attention_params ap = dc_attention_params_init();
    dc_norm_params np = dc_norm_params_init();
    dc_backend_info info;
    dc_memory_stats stats;
    dc_tensor_desc desc;
    dc_kv_ring_state state;

    gp.struct_size = wrong_size(i, sizeof gp);
    EXPECT(want[i], dc_gemm(a, w, out, &gp));
    CHECK(strstr(dc_last_error(), "dc_gemm_params") != NULL);
    ap.struct_size = wrong_size(i, sizeof ap);
    EXPECT(want[i], dc_attention(q, q, q, o, &ap));
    CHECK(strstr(dc_last_error(), "dc_attention_params") != NULL);
    np.struct_size = wrong_size(i, sizeof np);
    EXPECT(want[i], dc_layernorm(x, y, &np));
    EXPECT(want[i], dc_rmsnorm(x, y, &np));
    CHECK(strstr(dc_last_error(), "dc_norm_params") != NULL);

    memset(&info, 0xAB, sizeof info);
    info.struct_size = wrong_size(i, sizeof info);
    EXPECT(want[i], dc_backend_get(0, &info));
    CHECK(untouched(&info, sizeof info));
    memset(&stats, 0xAB, sizeof stats);
    stats.struct_size = wrong_size(i, sizeof stats);
    EXPECT(want[i], dc_memory_stats_get(DC_DEVICE_CPU, &stats));
    CHECK(untouched(&stats, sizeof stats));
    memset(&desc, 0xAB, sizeof desc);
    desc.struct_size = wrong_size(i, sizeof desc);
    EXPECT(want[i], dc_tensor_describe(a, &desc));
    CHECK(untouched(&desc, sizeof desc));
    CHECK(strstr(dc_last_error(), "dc_tensor_desc") != NULL);
    memset(&state, 0xAB, sizeof state);
    state.struct_size = wrong_size(i, sizeof state);
    EXPECT(want[i], dc_kv_ring_state_get(ring, &state));
    CHECK(untouched(&state, sizeof state));
  }

  /* The init functions give the struct's own size and zeroes; a filled record keeps its size. */
  {
    dc_attention_params ap = dc_attention_params_init();
    dc_tensor_desc desc = dc_tensor_desc_init();
    CHECK(ap.struct_size == sizeof ap && ap.scale == 0 && ap.key_mask == NULL && ap.prefix_len == 0);
    EXPECT(DC_OK, dc_tensor_describe(a, &desc));
    CHECK(desc.struct_size == sizeof desc && desc.ndim == 2 && desc.shape[1] == 4);
  }

  dc_kv_ring_release(ring);
  dc_tensor_release(a);
  dc_tensor_release(w);
  dc_tensor_release(out);
  dc_tensor_release(x);
  dc_tensor_release(y);
  dc_tensor_release(q);
  dc_tensor_release(o);
}

static void test_values_on_every_isa(void) {
  const dc_isa detected = dc_cpu_isa_detected();
  int isa;
  for (isa = DC_ISA_PORTABLE; isa <= DC_ISA_AMX; ++isa) {
    const int before = g_failures;
    if (dc_cpu_set_isa((dc_isa)isa) != DC_OK) continue; /* not compiled in or not supported */
    test_gemm_values();
    test_attention_values();
    test_rowwise_values();
    test_rowwise_bf16_values();
    test_layout();
    test_metrics();
    printf("values on %-11s %s\n", dc_isa_name((dc_isa)isa), g_failures == before ? "ok" : "FAILED");
  }
  EXPECT(DC_OK, dc_cpu_set_isa(detected));
}

int main(void) {
  g_cuda = dc_device_available(DC_DEVICE_CUDA) == DC_OK;
  test_information();
  test_settings();
  test_fma_peak();
  test_creation();
  test_wrap_and_views();
  test_handles();
  test_stale_handles();
  test_copy_write_read();
  test_gemm_errors();
  test_attention_errors();
  test_rowwise_errors();
  test_kv_ring();
  test_struct_sizes();
  test_values_on_every_isa();
  printf("c_api_test: %d checks, %d failed\n", g_checks, g_failures);
  return g_failures ? EXIT_FAILURE : EXIT_SUCCESS;
}
