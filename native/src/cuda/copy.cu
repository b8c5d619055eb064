// dc_copy and dc_fill on the device: strided copies with dtype conversion between any pair of
// dtypes, host <-> device transfers staged through contiguous buffers, and fills.
#include "copy.h"

#include <optional>

#include "../core/allocator.h"
#include "../core/tensor.h"
#include "../cpu/kernels.h"
#include "backend.h"
#include "device_util.cuh"

namespace dc::cuda {

namespace {

// Dimensions after dropping size-1 dims and merging dims that are contiguous in both operands.
struct CopyPlan {
  int nd = 0;
  int64_t shape[DC_MAX_DIMS] = {};
  int64_t dst_stride[DC_MAX_DIMS] = {};
  int64_t src_stride[DC_MAX_DIMS] = {};
  int64_t count = 1;
  void* dst = nullptr;
  const void* src = nullptr;
  dc_dtype dst_dtype = DC_F32, src_dtype = DC_F32;

  bool dense() const { return nd == 0 || (nd == 1 && dst_stride[0] == 1 && src_stride[0] == 1); }
};

CopyPlan plan_copy(int nd, const int64_t* shape, const int64_t* ds, const int64_t* ss) {
  CopyPlan p;
  for (int i = 0; i < nd; ++i) {
    p.count *= shape[i];
    if (shape[i] == 1) continue;
    const int last = p.nd - 1;
    if (last >= 0 && p.dst_stride[last] == shape[i] * ds[i] && p.src_stride[last] == shape[i] * ss[i]) {
      p.shape[last] *= shape[i];
      p.dst_stride[last] = ds[i];
      p.src_stride[last] = ss[i];
    } else {
      p.shape[p.nd] = shape[i];
      p.dst_stride[p.nd] = ds[i];
      p.src_stride[p.nd] = ss[i];
      p.nd++;
    }
  }
  return p;
}

__device__ double load_element(dc_dtype dt, const void* p, int64_t i) {
  switch (dt) {
    case DC_F32: return static_cast<const float*>(p)[i];
    case DC_F16: return __half2float(static_cast<const __half*>(p)[i]);
    case DC_BF16: return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case DC_I32: return static_cast<const int32_t*>(p)[i];
    case DC_I64: return double(static_cast<const int64_t*>(p)[i]);
    case DC_U8: return static_cast<const uint8_t*>(p)[i];
  }
  return 0;
}

// Rounds as the CPU copy does: through float for the float kinds, truncation for integers,
// non-zero = 1 for U8.
__device__ void store_element(dc_dtype dt, void* p, int64_t i, double v) {
  switch (dt) {
    case DC_F32: static_cast<float*>(p)[i] = float(v); break;
    case DC_F16: static_cast<__half*>(p)[i] = __float2half_rn(float(v)); break;
    case DC_BF16: static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(float(v)); break;
    case DC_I32: static_cast<int32_t*>(p)[i] = int32_t(v); break;
    case DC_I64: static_cast<int64_t*>(p)[i] = int64_t(v); break;
    case DC_U8: static_cast<uint8_t*>(p)[i] = uint8_t(v != 0); break;
  }
}

__global__ void copy_kernel(CopyPlan p) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.count;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rest = i, od = 0, os = 0;
    for (int d = p.nd - 1; d >= 0; --d) {
      const int64_t idx = rest % p.shape[d];
      rest /= p.shape[d];
      od += idx * p.dst_stride[d];
      os += idx * p.src_stride[d];
    }
    store_element(p.dst_dtype, p.dst, od, load_element(p.src_dtype, p.src, os));
  }
}

__global__ void fill_kernel(CopyPlan p, double value) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < p.count;
       i += int64_t(gridDim.x) * blockDim.x) {
    int64_t rest = i, od = 0;
    for (int d = p.nd - 1; d >= 0; --d) {
      od += (rest % p.shape[d]) * p.dst_stride[d];
      rest /= p.shape[d];
    }
    store_element(p.dst_dtype, p.dst, od, value);
  }
}

constexpr int kCopyThreads = 256;

dc_status run_plan(const CopyPlan& p) {
  if (p.count == 0) return DC_OK;
  if (p.dense() && p.dst_dtype == p.src_dtype)
    return check(cudaMemcpyAsync(p.dst, p.src, size_t(p.count) * dc_dtype_size(p.src_dtype),
                                 cudaMemcpyDeviceToDevice, stream()),
                 "device copy");
  copy_kernel<<<grid_for(p.count, kCopyThreads * 4), kCopyThreads, 0, stream()>>>(p);
  return check_launch("device copy kernel");
}

void dense_strides(int nd, const int64_t* shape, int64_t* strides) {
  int64_t s = 1;
  for (int i = nd - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape[i];
  }
}

// A contiguous host tensor shaped like `like`, over scratch from the host allocator.
class HostScratch {
 public:
  HostScratch(const dc_tensor* like, dc_dtype dtype) {
    storage_.bytes = size_t(like->numel()) * dc_dtype_size(dtype);
    storage_.data = host_allocator().allocate(storage_.bytes);
    if (!storage_.data) throw Failure(DC_ERR_OUT_OF_MEMORY, "out of host memory staging a device copy");
    view_.storage = &storage_;
    view_.dtype = dtype;
    view_.ndim = like->ndim;
    for (int i = 0; i < like->ndim; ++i) view_.shape[i] = like->shape[i];
    dense_strides(like->ndim, like->shape, view_.strides);
  }
  ~HostScratch() { host_allocator().deallocate(storage_.data); }
  HostScratch(const HostScratch&) = delete;
  HostScratch& operator=(const HostScratch&) = delete;
  const dc_tensor* tensor() const { return &view_; }
  void* data() const { return storage_.data; }

 private:
  Storage storage_;
  dc_tensor view_;
};

// Page-locked host memory makes a host->device copy truly asynchronous: the caller's buffer must
// then outlive the transfer, so such copies are waited for.
bool is_pinned(const void* host) {
  cudaPointerAttributes attr;
  if (cudaPointerGetAttributes(&attr, host) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return attr.type == cudaMemoryTypeHost;
}

dc_status copy_to_device(const dc_tensor* dst, const dc_tensor* src) {
  const size_t bytes = size_t(src->numel()) * dc_dtype_size(src->dtype);
  const void* host = src->data();
  std::optional<HostScratch> staged;
  if (!src->contiguous()) {
    staged.emplace(src, src->dtype);
    cpu::copy(staged->tensor(), src);
    host = staged->data();
  }
  // From pageable memory the runtime stages the bytes before returning, so `host` may go away
  // right after; the device-side conversion then runs in stream order.
  if (dst->contiguous() && dst->dtype == src->dtype) {
    DC_TRY(check(cudaMemcpyAsync(dst->data(), host, bytes, cudaMemcpyHostToDevice, stream()),
                 "host to device copy"));
  } else {
    DeviceBuffer dev(bytes);
    DC_TRY(check(cudaMemcpyAsync(dev.get(), host, bytes, cudaMemcpyHostToDevice, stream()),
                 "host to device copy"));
    int64_t dense[DC_MAX_DIMS];
    dense_strides(src->ndim, src->shape, dense);
    DC_TRY(copy_device(dst->ndim, dst->shape, dst->data(), dst->dtype, dst->strides, dev.get(),
                       src->dtype, dense));
  }
  if (is_pinned(host)) return synchronize();
  return DC_OK;
}

dc_status copy_to_host(const dc_tensor* dst, const dc_tensor* src) {
  const size_t bytes = size_t(dst->numel()) * dc_dtype_size(dst->dtype);
  const void* device = src->data();
  std::optional<DeviceBuffer> converted;
  if (!(src->contiguous() && src->dtype == dst->dtype)) {
    converted.emplace(bytes);
    int64_t dense[DC_MAX_DIMS];
    dense_strides(dst->ndim, dst->shape, dense);
    DC_TRY(copy_device(dst->ndim, dst->shape, converted->get(), dst->dtype, dense, src->data(),
                       src->dtype, src->strides));
    device = converted->get();
  }
  if (dst->contiguous()) {
    DC_TRY(check(cudaMemcpyAsync(dst->data(), device, bytes, cudaMemcpyDeviceToHost, stream()),
                 "device to host copy"));
    return synchronize();
  }
  HostScratch staged(dst, dst->dtype);
  DC_TRY(check(cudaMemcpyAsync(staged.data(), device, bytes, cudaMemcpyDeviceToHost, stream()),
               "device to host copy"));
  DC_TRY(synchronize());
  cpu::copy(dst, staged.tensor());
  return DC_OK;
}

}  // namespace

dc_status copy_device(int nd, const int64_t* shape, void* dst, dc_dtype dst_dtype,
                      const int64_t* dst_strides, const void* src, dc_dtype src_dtype,
                      const int64_t* src_strides) {
  CopyPlan p = plan_copy(nd, shape, dst_strides, src_strides);
  p.dst = dst;
  p.src = src;
  p.dst_dtype = dst_dtype;
  p.src_dtype = src_dtype;
  return run_plan(p);
}

dc_status copy(const dc_tensor* dst, const dc_tensor* src) {
  const bool dst_dev = dst->device() == DC_DEVICE_CUDA, src_dev = src->device() == DC_DEVICE_CUDA;
  if (dst_dev && src_dev)
    return copy_device(dst->ndim, dst->shape, dst->data(), dst->dtype, dst->strides, src->data(),
                       src->dtype, src->strides);
  return dst_dev ? copy_to_device(dst, src) : copy_to_host(dst, src);
}

dc_status fill(const dc_tensor* t, double value) {
  CopyPlan p = plan_copy(t->ndim, t->shape, t->strides, t->strides);
  p.dst = t->data();
  p.dst_dtype = t->dtype;
  if (p.count == 0) return DC_OK;
  if (value == 0 && p.dense())
    return check(cudaMemsetAsync(p.dst, 0, size_t(p.count) * dc_dtype_size(t->dtype), stream()),
                 "device fill");
  fill_kernel<<<grid_for(p.count, kCopyThreads * 4), kCopyThreads, 0, stream()>>>(p, value);
  return check_launch("device fill kernel");
}

}  // namespace dc::cuda
