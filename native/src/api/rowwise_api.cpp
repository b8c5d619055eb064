// Norms, modulation, activations, linear combinations, softmax and RoPE: ops over rows.
#include <cmath>

#include "../core/abi_struct.h"
#include "dispatch.h"

using namespace dc;

namespace {

// x and out: float tensors of one shape and device with a dense last dim (on the CPU, F32 or BF16
// each).
dc_status check_pair(const dc_tensor* x, const dc_tensor* out) {
  DC_TRY(check_tensor(x, "x"));
  DC_TRY(check_tensor(out, "out"));
  DC_TRY(check_float_operand(x, "x", x));
  DC_TRY(check_float_operand(out, "out", x));
  DC_TRY(check_same_device(x, "x", out, "out"));
  DC_TRY(check_same_shape(x, "x", out, "out"));
  DC_TRY(check_last_dense(x, "x"));
  DC_TRY(check_last_dense(out, "out"));
  return DC_OK;
}

dc_status check_vector(const dc_tensor* t, const char* what, const dc_tensor* x, int64_t n) {
  if (!t) return DC_OK;
  DC_TRY(check_tensor(t, what));
  DC_TRY(check_float_operand(t, what, x));
  DC_TRY(check_same_device(x, "x", t, what));
  if (t->numel() != n || !t->contiguous())
    return fail(DC_ERR_SHAPE, "%s %s: expected %lld contiguous elements", what, shape_str(t),
                (long long)n);
  return DC_OK;
}

dc_status check_grouped(const dc_tensor* g, const char* what, const dc_tensor* x, Grouped* out) {
  *out = Grouped{};
  if (!g) return DC_OK;
  DC_TRY(check_tensor(g, what));
  DC_TRY(check_float_operand(g, what, x));
  DC_TRY(check_same_device(x, "x", g, what));
  const Rows xr = rows_of(x);
  return grouped_of(g, what, xr.count, xr.len, out);
}

dc_status run_norm(NormArgs::Kind kind, const dc_tensor* x, dc_tensor* out,
                   const dc_norm_params* params) {
  DC_TRY(check_pair(x, out));
  dc_norm_params p;
  DC_TRY(read_params(params, "dc_norm_params", "params", &p));
  NormArgs a;
  a.kind = kind;
  a.x = row_operand(x);
  a.out = row_operand(out);
  if (!std::isfinite(p.eps) || p.eps < 0)
    return fail(DC_ERR_INVALID_ARGUMENT, "eps must be finite and non-negative, got %g", double(p.eps));
  a.eps = p.eps == 0 ? 1e-6f : p.eps;
  DC_TRY(check_vector(p.weight, "weight", x, a.x.rows.len));
  DC_TRY(check_vector(p.bias, "bias", x, a.x.rows.len));
  if (kind == NormArgs::kRmsNorm && (p.bias || p.shift || p.scale))
    return fail(DC_ERR_INVALID_ARGUMENT, "rmsnorm takes no bias, shift or scale");
  if (!p.shift != !p.scale)
    return fail(DC_ERR_INVALID_ARGUMENT, "shift and scale must be given together");
  if (p.weight) {
    a.weight = p.weight->data();
    a.weight_dtype = p.weight->dtype;
  }
  if (p.bias) {
    a.bias = p.bias->data();
    a.bias_dtype = p.bias->dtype;
  }
  DC_TRY(check_grouped(p.shift, "shift", x, &a.shift));
  DC_TRY(check_grouped(p.scale, "scale", x, &a.scale));
  if (a.x.rows.count == 0 || a.x.rows.len == 0) return DC_OK;
  return run_on(
      x->device(), [&](const cpu::KernelTable& k) { k.norm(a); }, [&] { return cuda::norm(a); });
}

dc_status run_elementwise(ElementwiseArgs& a, const dc_tensor* x) {
  if (a.x.rows.count == 0 || a.x.rows.len == 0) return DC_OK;
  return run_on(
      x->device(), [&](const cpu::KernelTable& k) { k.elementwise(a); },
      [&] { return cuda::elementwise(a); });
}

// y: same shape and dtype as x, or grouped [G, C] (on the CPU, F32 or BF16 whatever x's dtype).
dc_status second_operand(const dc_tensor* x, const dc_tensor* y, ElementwiseArgs* a) {
  DC_TRY(check_tensor(y, "y"));
  DC_TRY(check_float_operand(y, "y", x));
  DC_TRY(check_same_device(x, "x", y, "y"));
  DC_TRY(check_last_dense(y, "y"));
  bool same = y->ndim == x->ndim;
  for (int i = 0; same && i < x->ndim; ++i) same = x->shape[i] == y->shape[i];
  if (same) {
    DC_TRY(check_dtype(y, "y", x->dtype));
    a->y = row_operand(y);
    return DC_OK;
  }
  const dc_status st = check_grouped(y, "y", x, &a->y_grouped);
  if (st != DC_OK)
    return fail(DC_ERR_SHAPE, "y %s must have the shape of x %s or be grouped [G, %lld]",
                shape_str(y), shape_str(x), (long long)a->x.rows.len);
  return DC_OK;
}

}  // namespace

extern "C" {

dc_status dc_layernorm(const dc_tensor* x, dc_tensor* out, const dc_norm_params* params) {
  return run_norm(NormArgs::kLayerNorm, x, out, params);
}

dc_status dc_rmsnorm(const dc_tensor* x, dc_tensor* out, const dc_norm_params* params) {
  return run_norm(NormArgs::kRmsNorm, x, out, params);
}

dc_status dc_modulate(const dc_tensor* x, const dc_tensor* shift, const dc_tensor* scale,
                      dc_tensor* out) {
  DC_TRY(check_pair(x, out));
  if (!shift || !scale) return fail(DC_ERR_INVALID_ARGUMENT, "shift and scale are required");
  ElementwiseArgs a;
  a.kind = ElementwiseArgs::kModulate;
  a.x = row_operand(x);
  a.out = row_operand(out);
  DC_TRY(check_grouped(shift, "shift", x, &a.shift));
  DC_TRY(check_grouped(scale, "scale", x, &a.scale));
  return run_elementwise(a, x);
}

dc_status dc_activate(const dc_tensor* x, dc_activation act, dc_tensor* out) {
  DC_TRY(check_pair(x, out));
  if (act < DC_ACT_NONE || act > DC_ACT_SILU)
    return fail(DC_ERR_INVALID_ARGUMENT, "unknown activation %d", int(act));
  ElementwiseArgs a;
  a.kind = ElementwiseArgs::kActivate;
  a.act = act;
  a.x = row_operand(x);
  a.out = row_operand(out);
  return run_elementwise(a, x);
}

dc_status dc_axpby(float alpha, const dc_tensor* x, float beta, const dc_tensor* y,
                   dc_tensor* out) {
  DC_TRY(check_pair(x, out));
  if (!std::isfinite(alpha) || !std::isfinite(beta))
    return fail(DC_ERR_INVALID_ARGUMENT, "alpha and beta must be finite");
  ElementwiseArgs a;
  a.kind = ElementwiseArgs::kAxpby;
  a.alpha = alpha;
  a.beta = beta;
  a.x = row_operand(x);
  a.out = row_operand(out);
  DC_TRY(second_operand(x, y, &a));
  return run_elementwise(a, x);
}

dc_status dc_mul(const dc_tensor* x, const dc_tensor* y, dc_tensor* out) {
  DC_TRY(check_pair(x, out));
  ElementwiseArgs a;
  a.kind = ElementwiseArgs::kMul;
  a.x = row_operand(x);
  a.out = row_operand(out);
  DC_TRY(second_operand(x, y, &a));
  return run_elementwise(a, x);
}

dc_status dc_softmax(const dc_tensor* x, dc_tensor* out) {
  DC_TRY(check_pair(x, out));
  ElementwiseArgs a;
  a.kind = ElementwiseArgs::kSoftmax;
  a.x = row_operand(x);
  a.out = row_operand(out);
  return run_elementwise(a, x);
}

dc_status dc_rope(const dc_tensor* x, const dc_tensor* freqs, int64_t pos0, dc_tensor* out) {
  DC_TRY(check_pair(x, out));
  DC_TRY(check_tensor(freqs, "freqs"));
  DC_TRY(check_dtype(freqs, "freqs", DC_F32));
  DC_TRY(check_same_device(x, "x", freqs, "freqs"));
  if (x->ndim < 2) return fail(DC_ERR_SHAPE, "x %s: expected [.., T, D]", shape_str(x));
  const int64_t D = x->dim(-1);
  if (D % 2 != 0) return fail(DC_ERR_SHAPE, "x %s: rotary embedding needs an even last dim", shape_str(x));
  if (freqs->numel() != D / 2 || !freqs->contiguous())
    return fail(DC_ERR_SHAPE, "freqs %s: expected %lld contiguous elements", shape_str(freqs),
                (long long)(D / 2));
  DC_TRY(check_position(pos0, "pos0"));
  RopeArgs a;
  a.x = row_operand(x);
  a.out = row_operand(out);
  a.T = x->dim(-2);
  a.freqs = freqs->ptr<float>();
  a.pos0 = pos0;
  if (a.x.rows.count == 0 || D == 0) return DC_OK;
  return run_on(
      x->device(), [&](const cpu::KernelTable& k) { k.rope(a); }, [&] { return cuda::rope(a); });
}

}  // extern "C"
