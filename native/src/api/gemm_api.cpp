#include "../core/abi_struct.h"
#include "../cpu/gemm_panels.h"
#include "dispatch.h"

using namespace dc;


extern "C" dc_status dc_gemm(const dc_tensor* a, const dc_tensor* w, dc_tensor* out,
                             const dc_gemm_params* params) {
  DC_TRY(check_tensor(a, "a"));
  DC_TRY(check_handle(w, "w"));
  DC_TRY(check_tensor(out, "out"));
  dc_gemm_params p;
  DC_TRY(read_params(params, "dc_gemm_params", "params", &p));
  DC_TRY(check_optional(p.bias, "bias"));
  DC_TRY(check_optional(p.residual, "residual"));
  DC_TRY(check_optional(p.gate, "gate"));
  DC_TRY(check_float(a, "a"));
  DC_TRY(check_float_operand(out, "out", a));
  if (w->dtype != a->dtype && w->dtype != DC_BF16 && !(a->device() == DC_DEVICE_CPU && w->dtype == DC_F32))
    return fail(DC_ERR_DTYPE, "w: expected dtype %s or bf16, got %s", dc_dtype_name(a->dtype),
                dc_dtype_name(w->dtype));
  DC_TRY(check_same_device(a, "a", w, "w"));
  DC_TRY(check_same_device(a, "a", out, "out"));
  DC_TRY(check_ndim(w, "w", 2));
  DC_TRY(check_last_dense(a, "a"));
  if (!w->packed) DC_TRY(check_last_dense(w, "w"));
  DC_TRY(check_last_dense(out, "out"));
  const Rows ar = rows_of(a), orow = rows_of(out);
  GemmArgs g;
  g.K = ar.len;
  g.N = w->shape[0];
  g.M = ar.count;
  if (w->shape[1] != g.K)
    return fail(DC_ERR_SHAPE, "a %s and w %s: w must be [N, %lld]", shape_str(a), shape_str(w),
                (long long)g.K);
  if (orow.len != g.N || orow.count != g.M)
    return fail(DC_ERR_SHAPE, "out %s: expected %lld rows of %lld (a %s, w %s)", shape_str(out),
                (long long)g.M, (long long)g.N, shape_str(a), shape_str(w));
  if (g.M == 0 || g.N == 0) return DC_OK;
  g.lda = ar.uniform_stride();
  g.ldo = orow.uniform_stride();
  if (g.lda < 0) return fail(DC_ERR_SHAPE, "a %s: rows must be uniformly strided", shape_str(a));
  if (g.ldo < 0) return fail(DC_ERR_SHAPE, "out %s: rows must be uniformly strided", shape_str(out));
  g.a_dtype = a->dtype;
  g.a = a->data();
  g.w = w->data();
  g.ldw = w->strides[0];
  g.w_dtype = w->dtype;
  g.w_packed = w->packed;
  g.out = out->data();
  g.out_dtype = out->dtype;
  if (p.activation < DC_ACT_NONE || p.activation > DC_ACT_SILU)
    return fail(DC_ERR_INVALID_ARGUMENT, "unknown activation %d", int(p.activation));
  g.act = p.activation;
  if (p.bias) {
    DC_TRY(check_float_operand(p.bias, "bias", a));
    DC_TRY(check_same_device(a, "a", p.bias, "bias"));
    if (p.bias->numel() != g.N || !p.bias->contiguous())
      return fail(DC_ERR_SHAPE, "bias %s: expected %lld contiguous elements", shape_str(p.bias),
                  (long long)g.N);
    g.bias = p.bias->data();
    g.bias_dtype = p.bias->dtype;
  }
  if (p.gate) {
    DC_TRY(check_float_operand(p.gate, "gate", a));
    DC_TRY(check_same_device(a, "a", p.gate, "gate"));
    DC_TRY(grouped_of(p.gate, "gate", g.M, g.N, &g.gate));
  }
  if (p.residual) {
    DC_TRY(check_float_operand(p.residual, "residual", a));
    DC_TRY(check_same_device(a, "a", p.residual, "residual"));
    DC_TRY(check_last_dense(p.residual, "residual"));
    const Rows rr = rows_of(p.residual);
    if (rr.count != g.M || rr.len != g.N || rr.uniform_stride() < 0)
      return fail(DC_ERR_SHAPE, "residual %s: expected %lld uniformly strided rows of %lld",
                  shape_str(p.residual), (long long)g.M, (long long)g.N);
    g.residual = p.residual->data();
    g.ldr = rr.uniform_stride();
    g.residual_dtype = p.residual->dtype;
  }
  return run_on(
      a->device(),
      [&](const cpu::KernelTable& k) {
        (g.w_dtype == DC_BF16 ? k.gemm_bf16 : k.gemm)(g);
      },
      [&] { return cuda::gemm(g); });
}

extern "C" dc_status dc_gemm_pack_weight(const dc_tensor* w, dc_dtype dtype, dc_tensor** packed) {
  return guard([&]() -> dc_status {
    if (!packed) return fail(DC_ERR_INVALID_ARGUMENT, "packed is NULL");
    *packed = nullptr;
    DC_TRY(check_tensor(w, "w"));
    DC_TRY(check_ndim(w, "w", 2));
    DC_TRY(check_last_dense(w, "w"));
    if (w->device() != DC_DEVICE_CPU)
      return fail(DC_ERR_DEVICE, "w: packed weights are a CPU layout; w is on %s",
                  w->device() == DC_DEVICE_CUDA ? "cuda" : "an unknown device");
    if (w->dtype != DC_F32 && w->dtype != DC_BF16)
      return fail(DC_ERR_DTYPE, "w: expected dtype f32 or bf16, got %s", dc_dtype_name(w->dtype));
    if (dtype != DC_F32 && dtype != DC_BF16)
      return fail(DC_ERR_DTYPE, "packed dtype: expected f32 or bf16, got %s", dc_dtype_name(dtype));
    GemmArgs g;
    g.N = w->shape[0];
    g.K = w->shape[1];
    g.w = w->data();
    g.ldw = w->strides[0];
    g.w_dtype = w->dtype;
    Storage* s = new_storage(DC_DEVICE_CPU, cpu::packed_weight_bytes(dtype, g.N, g.K));
    const int64_t strides[2] = {0, 0};
    dc_tensor* t = new_tensor(s, 0, dtype, 2, w->shape, strides);
    t->packed = true;
    try {
      if (g.N > 0 && g.K > 0) cpu::kernels().pack_weight(g, dtype, s->data);
    } catch (...) {
      dc_tensor_release(t);
      throw;
    }
    *packed = t;
    return DC_OK;
  });
}
