// Tensors: a reference-counted storage (one allocation, or caller memory) and a strided view of it.
#pragma once
#include <atomic>
#include <cstddef>
#include <cstdint>

#include "ditcache.h"

namespace dc {

struct Storage {
  std::atomic<int> refs{1};
  void* data = nullptr;
  size_t bytes = 0;
  dc_device device = DC_DEVICE_CPU;
  // Where the memory goes with the last reference: the device's caching allocator, or the
  // caller's release callback for wrapped memory.
  void (*release)(void* user) = nullptr;
  void* release_user = nullptr;
  bool pooled = false;

  void retain() { refs.fetch_add(1, std::memory_order_relaxed); }
  void drop();
};

// Allocates `bytes` on `device` from its caching allocator; throws Failure on failure.
Storage* new_storage(dc_device device, size_t bytes);

}  // namespace dc

struct dc_tensor;

namespace dc {
template <class T>
class HandleRegistry;
// The live tensor handles (see handles.h).
HandleRegistry<dc_tensor>& tensor_handles();
}  // namespace dc

struct dc_tensor {
  std::atomic<int> refs{1};
  dc::Storage* storage = nullptr;
  int64_t offset = 0;  // elements from storage->data
  dc_dtype dtype = DC_F32;
  int ndim = 0;
  int64_t shape[DC_MAX_DIMS] = {};
  int64_t strides[DC_MAX_DIMS] = {};
  // A GEMM weight [N, K] packed into the panels of cpu/gemm_panels.h (dc_gemm_pack_weight): its
  // storage is not addressable by shape and strides, so only dc_gemm (as w) reads it.
  bool packed = false;

  dc_device device() const { return storage->device; }
  int64_t numel() const;
  bool contiguous() const;
  void* data() const;
  template <class T>
  T* ptr() const { return static_cast<T*>(data()); }
  int64_t dim(int i) const { return shape[i < 0 ? ndim + i : i]; }
  int64_t stride(int i) const { return strides[i < 0 ? ndim + i : i]; }
};

namespace dc {

// A registered handle holding one reference to `s`, which it takes over (dropped if this throws).
dc_tensor* new_tensor(Storage* s, int64_t offset, dc_dtype dtype, int ndim, const int64_t* shape,
                      const int64_t* strides);

// Validation shared by every entry point. Each returns DC_OK or records a message naming `what`.
// check_handle reports NULL, released and foreign handles without reading their memory;
// check_tensor also refuses packed weights, which only the entry points that say so accept.
dc_status check_handle(const dc_tensor* t, const char* what);
dc_status check_tensor(const dc_tensor* t, const char* what);
dc_status check_optional(const dc_tensor* t, const char* what);  // NULL allowed
dc_status check_shape_args(int ndim, const int64_t* shape, int64_t* numel);
dc_status check_dtype(const dc_tensor* t, const char* what, dc_dtype expected);
// A float dtype of the kernels of t's device: F32 or BF16 on the CPU, F32/F16/BF16 on CUDA.
dc_status check_float(const dc_tensor* t, const char* what);
// A float operand whose dtype the CPU kernels take independently of the op's other operands
// (check_float); on CUDA, where an op's float operands share one dtype, `like`'s dtype.
dc_status check_float_operand(const dc_tensor* t, const char* what, const dc_tensor* like);
dc_status check_same_shape(const dc_tensor* a, const char* an, const dc_tensor* b, const char* bn);
dc_status check_same_device(const dc_tensor* a, const char* an, const dc_tensor* b, const char* bn);
dc_status check_ndim(const dc_tensor* t, const char* what, int ndim);
dc_status check_last_dense(const dc_tensor* t, const char* what);
// A first rotary position: |pos0| <= 2^62, so pos0 plus any position count of a tensor (at most
// 2^48) stays an int64.
dc_status check_position(int64_t pos0, const char* what);
// Formats a shape as "[2, 3, 4]" into a thread-local buffer (for messages).
const char* shape_str(const dc_tensor* t);

// Rows of a tensor: all dims but the last, with arbitrary strides, and a dense last dim.
struct Rows {
  int nd = 0;                       // number of row dims (collapsed where possible)
  int64_t shape[DC_MAX_DIMS] = {};
  int64_t stride[DC_MAX_DIMS] = {};
  int64_t count = 1;                // number of rows
  int64_t len = 0;                  // elements per row

  int64_t offset(int64_t r) const {
    int64_t off = 0;
    for (int i = nd - 1; i >= 0; --i) {
      off += (r % shape[i]) * stride[i];
      r /= shape[i];
    }
    return off;
  }
  // Uniform row stride when the rows collapse to one dim (or there is one row); else -1.
  int64_t uniform_stride() const { return nd == 0 ? len : (nd == 1 ? stride[0] : -1); }
};

Rows rows_of(const dc_tensor* t);

// A grouped [G, C] per-row parameter (see ditcache.h); p == nullptr when absent.
struct Grouped {
  const void* p = nullptr;
  dc_dtype dtype = DC_F32;
  int64_t ld = 0;            // elements between groups
  int64_t rows_per_group = 1;
  template <class T>
  const T* row(int64_t r) const {
    return static_cast<const T*>(p) + (r / rows_per_group) * ld;
  }
};

dc_status grouped_of(const dc_tensor* g, const char* what, int64_t rows, int64_t len, Grouped* out);

}  // namespace dc
