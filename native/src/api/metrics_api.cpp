// Residual metrics for the caching policies: relative distance (with the fused slot refresh) and
// the frame-difference motion score.
#include "dispatch.h"

using namespace dc;

extern "C" {

dc_status dc_residual_distance(dc_tensor* cache, const dc_tensor* fresh, dc_norm_kind norm,
                               int update, double* num, double* den) {
  DC_TRY(check_tensor(cache, "cache"));
  DC_TRY(check_tensor(fresh, "fresh"));
  DC_TRY(check_float_operand(cache, "cache", cache));
  DC_TRY(check_float_operand(fresh, "fresh", cache));
  DC_TRY(check_same_device(cache, "cache", fresh, "fresh"));
  DC_TRY(check_same_shape(cache, "cache", fresh, "fresh"));
  DC_TRY(check_last_dense(cache, "cache"));
  DC_TRY(check_last_dense(fresh, "fresh"));
  if (norm != DC_L1 && norm != DC_L2)
    return fail(DC_ERR_INVALID_ARGUMENT, "norm must be DC_L1 or DC_L2, got %d", int(norm));
  if (!num || !den) return fail(DC_ERR_INVALID_ARGUMENT, "num and den are required");
  *num = *den = 0;
  DistanceArgs a;
  a.cache = row_operand(cache);
  a.fresh = row_operand(fresh);
  a.norm = norm;
  a.update = update != 0;
  if (cache->numel() == 0) return DC_OK;
  return run_on(
      cache->device(), [&](const cpu::KernelTable& k) { k.distance(a, num, den); },
      [&] { return cuda::distance(a, num, den); });
}

dc_status dc_motion_score(const dc_tensor* r, int64_t frames, const int64_t* strides,
                          int n_strides, double* num, double* den) {
  DC_TRY(check_tensor(r, "r"));
  DC_TRY(check_float_operand(r, "r", r));
  DC_TRY(check_ndim(r, "r", 3));
  if (!r->contiguous()) return fail(DC_ERR_SHAPE, "r %s must be contiguous", shape_str(r));
  if (frames < 1 || r->shape[1] % frames != 0)
    return fail(DC_ERR_SHAPE, "r %s: %lld frames do not divide %lld tokens", shape_str(r),
                (long long)frames, (long long)r->shape[1]);
  if (n_strides < 1 || n_strides > 64 || !strides)
    return fail(DC_ERR_INVALID_ARGUMENT, "between 1 and 64 frame strides are required");
  if (!num || !den) return fail(DC_ERR_INVALID_ARGUMENT, "num and den are required");
  for (int i = 0; i < n_strides; ++i) {
    if (strides[i] < 1 || strides[i] >= frames)
      return fail(DC_ERR_RANGE, "frame stride %lld outside [1, %lld)", (long long)strides[i],
                  (long long)frames);
    num[i] = den[i] = 0;
  }
  MotionArgs a;
  a.dtype = r->dtype;
  a.r = r->data();
  a.B = r->shape[0];
  a.T = frames;
  a.S = r->shape[1] / frames;
  a.C = r->shape[2];
  a.strides = strides;
  a.n_strides = n_strides;
  if (r->numel() == 0) return DC_OK;
  return run_on(
      r->device(), [&](const cpu::KernelTable& k) { k.motion(a, num, den); },
      [&] { return cuda::motion(a, num, den); });
}

}  // extern "C"
