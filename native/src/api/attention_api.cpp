#include <cmath>

#include "../core/abi_struct.h"
#include "dispatch.h"

using namespace dc;

namespace {

// t is [B, H, *, D] like q, with q's dtype, or for out on the CPU F32 or BF16.
dc_status check_bhnd(const dc_tensor* t, const char* what, const dc_tensor* q, bool is_out = false) {
  DC_TRY(check_tensor(t, what));
  DC_TRY(check_ndim(t, what, 4));
  DC_TRY(check_last_dense(t, what));
  DC_TRY(is_out ? check_float_operand(t, what, q) : check_dtype(t, what, q->dtype));
  DC_TRY(check_same_device(q, "q", t, what));
  if (t->shape[0] != q->shape[0] || t->shape[1] != q->shape[1] || t->shape[3] != q->shape[3])
    return fail(DC_ERR_SHAPE, "%s %s: batch, heads and head_dim must match q %s", what,
                shape_str(t), shape_str(q));
  return DC_OK;
}

void strides3(const dc_tensor* t, int64_t* s) {
  for (int i = 0; i < 3; ++i) s[i] = t->strides[i];
}

}  // namespace

extern "C" dc_status dc_attention(const dc_tensor* q, const dc_tensor* k, const dc_tensor* v,
                                  dc_tensor* out, const dc_attention_params* params) {
  DC_TRY(check_tensor(q, "q"));
  DC_TRY(check_float(q, "q"));
  DC_TRY(check_ndim(q, "q", 4));
  DC_TRY(check_last_dense(q, "q"));
  DC_TRY(check_bhnd(k, "k", q));
  DC_TRY(check_bhnd(v, "v", q));
  DC_TRY(check_bhnd(out, "out", q, true));
  dc_attention_params p;
  DC_TRY(read_params(params, "dc_attention_params", "params", &p));
  AttentionArgs a;
  a.B = q->shape[0];
  a.H = q->shape[1];
  a.Nq = q->shape[2];
  a.D = q->shape[3];
  a.Nk = k->shape[2];
  if (a.D < 1 || a.D > 256)
    return fail(DC_ERR_SHAPE, "q %s: head_dim must be in [1, 256]", shape_str(q));
  if (v->shape[2] != a.Nk)
    return fail(DC_ERR_SHAPE, "k %s and v %s must have the same number of keys", shape_str(k),
                shape_str(v));
  if (out->shape[2] != a.Nq)
    return fail(DC_ERR_SHAPE, "out %s must have the shape of q %s", shape_str(out), shape_str(q));
  a.dtype = q->dtype;
  a.out_dtype = out->dtype;
  a.q = q->data();
  a.k = k->data();
  a.v = v->data();
  a.out = out->data();
  strides3(q, a.q_stride);
  strides3(k, a.k_stride);
  strides3(v, a.v_stride);
  strides3(out, a.o_stride);
  if (!std::isfinite(p.scale) || p.scale < 0)
    return fail(DC_ERR_INVALID_ARGUMENT, "scale must be finite and non-negative, got %g",
                double(p.scale));
  a.scale = p.scale == 0 ? float(1.0 / std::sqrt(double(a.D))) : p.scale;
  a.causal = p.causal != 0;

  if (p.prefix_k || p.prefix_v) {
    if (!p.prefix_k || !p.prefix_v)
      return fail(DC_ERR_INVALID_ARGUMENT, "prefix_k and prefix_v must be given together");
    DC_TRY(check_bhnd(p.prefix_k, "prefix_k", q));
    DC_TRY(check_bhnd(p.prefix_v, "prefix_v", q));
    a.p_cap = p.prefix_k->shape[2];
    if (p.prefix_v->shape[2] != a.p_cap)
      return fail(DC_ERR_SHAPE, "prefix_k %s and prefix_v %s must have the same capacity",
                  shape_str(p.prefix_k), shape_str(p.prefix_v));
    if (p.prefix_len < 0 || p.prefix_len > a.p_cap)
      return fail(DC_ERR_RANGE, "prefix_len %lld outside [0, %lld]", (long long)p.prefix_len,
                  (long long)a.p_cap);
    if (p.prefix_start < 0 || (a.p_cap > 0 && p.prefix_start >= a.p_cap) ||
        (a.p_cap == 0 && p.prefix_start != 0))
      return fail(DC_ERR_RANGE, "prefix_start %lld outside [0, %lld)", (long long)p.prefix_start,
                  (long long)a.p_cap);
    a.pk = p.prefix_k->data();
    a.pv = p.prefix_v->data();
    strides3(p.prefix_k, a.pk_stride);
    strides3(p.prefix_v, a.pv_stride);
    a.p_start = p.prefix_start;
    a.p_len = p.prefix_len;
  } else if (p.prefix_len != 0) {
    return fail(DC_ERR_INVALID_ARGUMENT, "prefix_len is %lld but no prefix_k/prefix_v were given",
                (long long)p.prefix_len);
  }
  const int64_t nk_total = a.p_len + a.Nk;
  if (a.causal && a.Nq > nk_total)
    return fail(DC_ERR_SHAPE, "causal attention needs at least as many keys (%lld) as queries (%lld)",
                (long long)nk_total, (long long)a.Nq);

  if (p.key_mask) {
    const dc_tensor* m = p.key_mask;
    DC_TRY(check_tensor(m, "key_mask"));
    DC_TRY(check_same_device(q, "q", m, "key_mask"));
    if (m->dtype != DC_U8 && m->dtype != DC_I32 && m->dtype != DC_I64 && m->dtype != DC_F32)
      return fail(DC_ERR_DTYPE, "key_mask: expected dtype u8, i32, i64 or f32, got %s",
                  dc_dtype_name(m->dtype));
    if (m->ndim != 2 || m->shape[0] != a.B || m->shape[1] != nk_total)
      return fail(DC_ERR_SHAPE, "key_mask %s: expected [%lld, %lld] (batch, keys)", shape_str(m),
                  (long long)a.B, (long long)nk_total);
    a.mask = m->data();
    a.mask_dtype = m->dtype;
    a.mask_stride_b = m->strides[0];
    a.mask_stride_j = m->strides[1];
  }
  if (p.rope_freqs) {
    DC_TRY(check_tensor(p.rope_freqs, "rope_freqs"));
    DC_TRY(check_dtype(p.rope_freqs, "rope_freqs", DC_F32));
    DC_TRY(check_same_device(q, "q", p.rope_freqs, "rope_freqs"));
    if (a.D % 2 != 0) return fail(DC_ERR_SHAPE, "rotary embedding needs an even head_dim");
    if (p.rope_freqs->numel() != a.D / 2 || !p.rope_freqs->contiguous())
      return fail(DC_ERR_SHAPE, "rope_freqs %s: expected %lld contiguous elements",
                  shape_str(p.rope_freqs), (long long)(a.D / 2));
    DC_TRY(check_position(p.q_pos0, "q_pos0"));
    DC_TRY(check_position(p.k_pos0, "k_pos0"));
    a.rope_freqs = p.rope_freqs->ptr<float>();
    a.q_pos0 = p.q_pos0;
    a.k_pos0 = p.k_pos0;
  }
  if (a.B == 0 || a.H == 0 || a.Nq == 0) return DC_OK;
  return run_on(
      q->device(), [&](const cpu::KernelTable& kt) { kt.attention(a); },
      [&] { return cuda::attention(a); });
}
