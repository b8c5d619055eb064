// Copies, conversions, fills and host reads/writes.
#include <cstring>

#include "dispatch.h"

using namespace dc;

extern "C" {

dc_status dc_copy(dc_tensor* dst, const dc_tensor* src) {
  DC_TRY(check_tensor(dst, "dst"));
  DC_TRY(check_tensor(src, "src"));
  DC_TRY(check_same_shape(dst, "dst", src, "src"));
  if (dst->numel() == 0) return DC_OK;
  return guard([&]() -> dc_status {
    if (dst->device() == DC_DEVICE_CUDA || src->device() == DC_DEVICE_CUDA)
      return cuda::copy(dst, src);
    cpu::copy(dst, src);
    return DC_OK;
  });
}

dc_status dc_tensor_write(dc_tensor* dst, const void* src, dc_dtype dtype, size_t count) {
  DC_TRY(check_tensor(dst, "dst"));
  if (!src && count) return fail(DC_ERR_INVALID_ARGUMENT, "src is NULL");
  if (dc_dtype_size(dtype) == 0) return fail(DC_ERR_DTYPE, "unknown dtype %d", int(dtype));
  if (int64_t(count) != dst->numel())
    return fail(DC_ERR_SHAPE, "dst %s has %lld elements but %zu were given", shape_str(dst),
                (long long)dst->numel(), count);
  if (count == 0) return DC_OK;
  dc_tensor* host = nullptr;
  DC_TRY(dc_tensor_wrap(dtype, dst->ndim, dst->shape, nullptr, const_cast<void*>(src),
                        count * dc_dtype_size(dtype), nullptr, nullptr, &host));
  const dc_status st = dc_copy(dst, host);
  dc_tensor_release(host);
  return st;
}

dc_status dc_tensor_read_f32(const dc_tensor* t, float* dst, size_t dst_count) {
  DC_TRY(check_tensor(t, "tensor"));
  if (!dst && dst_count) return fail(DC_ERR_INVALID_ARGUMENT, "dst is NULL");
  if (int64_t(dst_count) != t->numel())
    return fail(DC_ERR_SHAPE, "tensor %s has %lld elements but the destination holds %zu",
                shape_str(t), (long long)t->numel(), dst_count);
  if (dst_count == 0) return DC_OK;
  dc_tensor* host = nullptr;
  DC_TRY(dc_tensor_wrap(DC_F32, t->ndim, t->shape, nullptr, dst, dst_count * sizeof(float), nullptr,
                        nullptr, &host));
  const dc_status st = dc_copy(host, t);
  dc_tensor_release(host);
  return st;
}

dc_status dc_fill(dc_tensor* t, double value) {
  DC_TRY(check_tensor(t, "tensor"));
  if (t->numel() == 0) return DC_OK;
  return guard([&]() -> dc_status {
    if (t->device() == DC_DEVICE_CUDA) return cuda::fill(t, value);
    cpu::fill(t, value);
    return DC_OK;
  });
}

dc_status dc_synchronize(dc_device device) {
  if (device == DC_DEVICE_CPU) return DC_OK;
  DC_TRY(dc_device_available(device));
  return guard([] { return cuda::synchronize(); });
}

}  // extern "C"
