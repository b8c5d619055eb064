// Patchify / unpatchify: the layout changes between a [B, C, T, H, W] video and its tokens.
#include "dispatch.h"

using namespace dc;

namespace {

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

dc_status check_patch(int pt, int ph, int pw) {
  if (pt < 1 || ph < 1 || pw < 1 || pt > 64 || ph > 64 || pw > 64)
    return fail(DC_ERR_INVALID_ARGUMENT, "patch sizes must be in [1, 64], got (%d, %d, %d)", pt, ph, pw);
  return DC_OK;
}

// Fills the video side of `a` from a [B, C, T, H, W] tensor.
void video_side(const dc_tensor* v, int pt, int ph, int pw, PatchArgs* a) {
  a->B = v->shape[0];
  a->C = v->shape[1];
  a->T = v->shape[2];
  a->H = v->shape[3];
  a->W = v->shape[4];
  a->pt = pt;
  a->ph = ph;
  a->pw = pw;
  a->Tp = ceil_div(a->T, pt);
  a->Hp = ceil_div(a->H, ph);
  a->Wp = ceil_div(a->W, pw);
  a->video_sb = v->strides[0];
  a->video_sc = v->strides[1];
  a->video_st = v->strides[2];
  a->video_sh = v->strides[3];
  a->video_sw = v->strides[4];
}

dc_status check_tokens(const dc_tensor* tok, const char* what, const PatchArgs& a, int64_t min_cols,
                       int64_t exact_cols) {
  DC_TRY(check_ndim(tok, what, 3));
  if (!tok->contiguous()) return fail(DC_ERR_SHAPE, "%s %s must be contiguous", what, shape_str(tok));
  const int64_t tokens = a.Tp * a.Hp * a.Wp;
  const bool cols_ok = exact_cols ? tok->shape[2] == exact_cols : tok->shape[2] >= min_cols;
  if (tok->shape[0] != a.B || tok->shape[1] != tokens || !cols_ok)
    return fail(DC_ERR_SHAPE, "%s %s: expected [%lld, %lld, %lld]", what, shape_str(tok),
                (long long)a.B, (long long)tokens, (long long)(exact_cols ? exact_cols : min_cols));
  return DC_OK;
}

}  // namespace

extern "C" {

dc_status dc_patchify(const dc_tensor* x, int pt, int ph, int pw, dc_tensor* out) {
  DC_TRY(check_tensor(x, "x"));
  DC_TRY(check_tensor(out, "out"));
  DC_TRY(check_float_operand(x, "x", x));
  DC_TRY(check_float_operand(out, "out", x));
  DC_TRY(check_same_device(x, "x", out, "out"));
  DC_TRY(check_ndim(x, "x", 5));
  DC_TRY(check_patch(pt, ph, pw));
  PatchArgs a;
  video_side(x, pt, ph, pw, &a);
  DC_TRY(check_tokens(out, "out", a, 0, a.C * pt * ph * pw));
  a.video = x->data();
  a.video_dtype = x->dtype;
  a.tokens = out->data();
  a.tokens_dtype = out->dtype;
  a.token_channels = a.C;
  if (out->numel() == 0) return DC_OK;
  return run_on(
      x->device(), [&](const cpu::KernelTable&) { cpu::patchify(a); },
      [&] { return cuda::patchify(a); });
}

dc_status dc_unpatchify(const dc_tensor* x, int pt, int ph, int pw, dc_tensor* out) {
  DC_TRY(check_tensor(x, "x"));
  DC_TRY(check_tensor(out, "out"));
  DC_TRY(check_float_operand(x, "x", x));
  DC_TRY(check_float_operand(out, "out", x));
  DC_TRY(check_same_device(x, "x", out, "out"));
  DC_TRY(check_ndim(out, "out", 5));
  DC_TRY(check_patch(pt, ph, pw));
  PatchArgs a;
  video_side(out, pt, ph, pw, &a);
  DC_TRY(check_tokens(x, "x", a, a.C * pt * ph * pw, 0));
  if (x->shape[2] % (int64_t(pt) * ph * pw) != 0)
    return fail(DC_ERR_SHAPE, "x %s: last dim must be a multiple of pt*ph*pw = %d", shape_str(x),
                pt * ph * pw);
  a.video = out->data();
  a.video_dtype = out->dtype;
  a.tokens = x->data();
  a.tokens_dtype = x->dtype;
  a.token_channels = x->shape[2] / (int64_t(pt) * ph * pw);
  if (out->numel() == 0) return DC_OK;
  return run_on(
      x->device(), [&](const cpu::KernelTable&) { cpu::unpatchify(a); },
      [&] { return cuda::unpatchify(a); });
}

}  // extern "C"
