/*
 * A tour of the C ABI: library information, tensors over caller memory, a fused linear layer and
 * a LayerNorm, and what a failing call reports. Uses nothing but ditcache.h.
 *
 *   make -C examples/c run        (after the CMake build has written build/libditcache.so)
 */
#include <stdio.h>
#include <stdlib.h>

#include "ditcache.h"

/* Every failure is reported the same way: the status name and the calling thread's message. */
static int check(dc_status status, const char* what) {
  if (status == DC_OK) return 0;
  fprintf(stderr, "%s failed: %s: %s\n", what, dc_status_name(status), dc_last_error());
  return 1;
}

static void print_rows(const char* name, const float* v, int rows, int cols) {
  int r, c;
  printf("%s =\n", name);
  for (r = 0; r < rows; ++r) {
    printf("  [");
    for (c = 0; c < cols; ++c) printf(c ? ", %8.4f" : "%8.4f", v[r * cols + c]);
    printf("]\n");
  }
}

static int print_library(void) {
  int major, minor, patch, count, i;
  dc_backend_info info = dc_backend_info_init();
  dc_version(&major, &minor, &patch);
  printf("ditcache %s (%d.%d.%d), build: %s\n", dc_version_string(), major, minor, patch,
         dc_build_info());
  printf("cpu isa: %s (detected %s), bf16 dot products: %s, threads: %d\n",
         dc_isa_name(dc_cpu_isa()), dc_isa_name(dc_cpu_isa_detected()),
         dc_cpu_has_bf16() ? "yes" : "no", dc_get_num_threads());
  if (check(dc_backend_count(&count), "dc_backend_count")) return 1;
  for (i = 0; i < count; ++i) {
    if (check(dc_backend_get(i, &info), "dc_backend_get")) return 1;
    printf("backend %d: %s, %.1f GiB\n", i, info.name,
           (double)info.memory_bytes / (1024.0 * 1024.0 * 1024.0));
  }
  return 0;
}

/* y = gelu(x w^T + b), then LayerNorm of y, on a 2x4 input and a 3x4 weight. */
static int run_ops(void) {
  static float x_data[2 * 4] = {1, 2, 3, 4, -1, 0.5f, 0, 2};
  static float w_data[3 * 4] = {0.1f, 0.2f, 0.3f, 0.4f, -0.5f, 0, 0.5f, 0, 1, -1, 1, -1};
  static float b_data[3] = {0, 0.5f, -0.25f};
  const int64_t x_shape[2] = {2, 4}, w_shape[2] = {3, 4}, b_shape[1] = {3}, y_shape[2] = {2, 3};
  dc_tensor *x = NULL, *w = NULL, *b = NULL, *y = NULL;
  dc_gemm_params gemm = dc_gemm_params_init();
  dc_norm_params norm = dc_norm_params_init();
  float y_host[2 * 3];
  int failed = 1;

  /* x, w and b share the arrays above (no copy); y comes from the library's pool. */
  if (check(dc_tensor_wrap(DC_F32, 2, x_shape, NULL, x_data, sizeof x_data, NULL, NULL, &x), "wrap x") ||
      check(dc_tensor_wrap(DC_F32, 2, w_shape, NULL, w_data, sizeof w_data, NULL, NULL, &w), "wrap w") ||
      check(dc_tensor_wrap(DC_F32, 1, b_shape, NULL, b_data, sizeof b_data, NULL, NULL, &b), "wrap b") ||
      check(dc_tensor_empty(DC_F32, DC_DEVICE_CPU, 2, y_shape, &y), "empty y"))
    goto done;

  gemm.bias = b;
  gemm.activation = DC_ACT_GELU_TANH;
  if (check(dc_gemm(x, w, y, &gemm), "dc_gemm")) goto done;
  if (check(dc_tensor_read_f32(y, y_host, 6), "read y")) goto done;
  print_rows("gelu(x w^T + b)", y_host, 2, 3);

  norm.eps = 1e-5f;
  if (check(dc_layernorm(y, y, &norm), "dc_layernorm")) goto done; /* in place */
  if (check(dc_tensor_read_f32(y, y_host, 6), "read y")) goto done;
  print_rows("layernorm(y)", y_host, 2, 3);
  failed = 0;

done:
  dc_tensor_release(x);
  dc_tensor_release(w);
  dc_tensor_release(b);
  dc_tensor_release(y);
  return failed;
}

/* Two calls that must fail: the program checks the statuses it expects and prints the messages. */
static int show_errors(void) {
  const int64_t a_shape[2] = {2, 4}, w_shape[2] = {3, 5}, o_shape[2] = {2, 3};
  dc_tensor *a = NULL, *w = NULL, *out = NULL, *gpu = NULL;
  dc_status st;
  int failed = 1;

  if (check(dc_tensor_zeros(DC_F32, DC_DEVICE_CPU, 2, a_shape, &a), "zeros a") ||
      check(dc_tensor_zeros(DC_F32, DC_DEVICE_CPU, 2, w_shape, &w), "zeros w") ||
      check(dc_tensor_empty(DC_F32, DC_DEVICE_CPU, 2, o_shape, &out), "empty out"))
    goto done;

  st = dc_gemm(a, w, out, NULL); /* K = 4 against a [3, 5] weight */
  printf("gemm [2, 4] x [3, 5]^T -> %s: %s\n", dc_status_name(st), dc_last_error());
  if (st != DC_ERR_SHAPE) goto done;

  st = dc_tensor_empty(DC_F32, DC_DEVICE_CUDA, 2, a_shape, &gpu);
  printf("CUDA tensor -> %s: %s\n", dc_status_name(st), st == DC_OK ? "created" : dc_last_error());
  if (st != DC_OK && st != DC_ERR_UNAVAILABLE) goto done;
  failed = 0;

done:
  dc_tensor_release(a);
  dc_tensor_release(w);
  dc_tensor_release(out);
  dc_tensor_release(gpu);
  return failed;
}

int main(void) {
  int failed = print_library() || run_ops() || show_errors();
  printf(failed ? "tour: FAILED\n" : "tour: ok\n");
  return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
