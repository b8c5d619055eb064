#include "tensor.h"

#include <cstdio>
#include <cstring>
#include <limits>

#include <memory>

#include "abi_struct.h"
#include "allocator.h"
#include "device_memory.h"
#include "handles.h"
#include "status.h"

namespace dc {

void Storage::drop() {
  if (refs.fetch_sub(1, std::memory_order_acq_rel) != 1) return;
  if (pooled) {
    device_free(device, data);
  } else if (release) {
    release(release_user);
  }
  delete this;
}

Storage* new_storage(dc_device device, size_t bytes) {
  auto s = std::make_unique<Storage>();      // before the memory, so a failure leaks neither
  s->data = device_allocate(device, bytes);  // throws Failure
  s->bytes = bytes;
  s->device = device;
  s->pooled = true;
  return s.release();
}

HandleRegistry<dc_tensor>& tensor_handles() {
  // Leaked on purpose: tensors released during process teardown must still find it.
  static auto* registry = new HandleRegistry<dc_tensor>();
  return *registry;
}

}  // namespace dc

int64_t dc_tensor::numel() const {
  int64_t n = 1;
  for (int i = 0; i < ndim; ++i) n *= shape[i];
  return n;
}

bool dc_tensor::contiguous() const {
  int64_t expect = 1;
  for (int i = ndim - 1; i >= 0; --i) {
    if (shape[i] != 1 && strides[i] != expect) return false;
    expect *= shape[i];
  }
  return true;
}

void* dc_tensor::data() const {
  return static_cast<char*>(storage->data) + offset * int64_t(dc_dtype_size(dtype));
}

namespace dc {

namespace {

constexpr int64_t kMaxElements = int64_t(1) << 48;

void contiguous_strides(int ndim, const int64_t* shape, int64_t* strides) {
  int64_t s = 1;
  for (int i = ndim - 1; i >= 0; --i) {
    strides[i] = s;
    s *= shape[i];
  }
}

// Element range [lo, hi] addressed by a view (hi = -1 when it is empty); false when a size
// overflows. An empty view's extents are bounded as a full one's would be: kernels still multiply
// its shapes by its strides before they see it has no elements.
bool address_range(int ndim, const int64_t* shape, const int64_t* strides, int64_t* hi) {
  int64_t h = 0;
  bool empty = false;
  for (int i = 0; i < ndim; ++i) {
    if (shape[i] == 0) {
      empty = true;
      continue;
    }
    if (strides[i] != 0 && (shape[i] - 1) > std::numeric_limits<int64_t>::max() / strides[i])
      return false;
    const int64_t extent = (shape[i] - 1) * strides[i];
    if (extent > kMaxElements - h) return false;  // h <= 2^48 here: no overflow either way
    h += extent;
  }
  *hi = empty ? -1 : h;
  return true;
}

}  // namespace

dc_tensor* new_tensor(Storage* s, int64_t offset, dc_dtype dtype, int ndim, const int64_t* shape,
                      const int64_t* strides) {
  std::unique_ptr<dc_tensor> t;
  try {
    t = std::make_unique<dc_tensor>();
    tensor_handles().add(t.get());
  } catch (...) {
    s->drop();
    throw;
  }
  t->storage = s;
  t->offset = offset;
  t->dtype = dtype;
  t->ndim = ndim;
  for (int i = 0; i < ndim; ++i) {
    t->shape[i] = shape[i];
    t->strides[i] = strides[i];
  }
  return t.release();
}

namespace {

// The given strides (non-negative), or row-major ones when `strides` is NULL.
dc_status resolve_strides(int ndim, const int64_t* shape, const int64_t* strides, int64_t* st) {
  if (!strides) {
    contiguous_strides(ndim, shape, st);
    return DC_OK;
  }
  for (int i = 0; i < ndim; ++i) {
    if (strides[i] < 0) return fail(DC_ERR_SHAPE, "stride %d is negative", i);
    st[i] = strides[i];
  }
  return DC_OK;
}

dc_status check_dtype_value(dc_dtype dtype) {
  if (dc_dtype_size(dtype) == 0) return fail(DC_ERR_DTYPE, "unknown dtype %d", int(dtype));
  return DC_OK;
}

dc_status check_device_value(dc_device device) {
  if (device != DC_DEVICE_CPU && device != DC_DEVICE_CUDA)
    return fail(DC_ERR_INVALID_ARGUMENT, "unknown device %d", int(device));
  return DC_OK;
}

}  // namespace

dc_status check_shape_args(int ndim, const int64_t* shape, int64_t* numel) {
  if (ndim < 0 || ndim > DC_MAX_DIMS)
    return fail(DC_ERR_SHAPE, "ndim must be in [0, %d], got %d", DC_MAX_DIMS, ndim);
  if (ndim > 0 && !shape) return fail(DC_ERR_INVALID_ARGUMENT, "shape is NULL");
  // The non-zero dims are bounded together too: row-major strides multiply them whatever a
  // zero-size dim does to the element count.
  int64_t n = 1, nonzero = 1;
  for (int i = 0; i < ndim; ++i) {
    if (shape[i] < 0)
      return fail(DC_ERR_SHAPE, "dimension %d is negative (%lld)", i, (long long)shape[i]);
    if (shape[i] != 0 && nonzero > kMaxElements / shape[i])
      return fail(DC_ERR_RANGE, "tensor of more than 2^48 elements requested (dimension %d)", i);
    if (shape[i] != 0) nonzero *= shape[i];
    n *= shape[i];
  }
  if (numel) *numel = n;
  return DC_OK;
}

dc_status check_handle(const dc_tensor* t, const char* what) {
  if (!t) return fail(DC_ERR_INVALID_ARGUMENT, "%s: tensor handle is NULL", what);
  if (!tensor_handles().live(t))
    return fail(DC_ERR_INVALID_ARGUMENT, "%s: not a live tensor handle (released or foreign)", what);
  return DC_OK;
}

dc_status check_tensor(const dc_tensor* t, const char* what) {
  DC_TRY(check_handle(t, what));
  if (t->packed)
    return fail(DC_ERR_INVALID_ARGUMENT,
                "%s: a packed GEMM weight is read only by dc_gemm, as its w", what);
  return DC_OK;
}

dc_status check_optional(const dc_tensor* t, const char* what) {
  return t ? check_tensor(t, what) : DC_OK;
}

const char* shape_str(const dc_tensor* t) {
  static thread_local char buf[8][160];
  static thread_local int slot = 0;
  char* b = buf[slot = (slot + 1) % 8];
  int n = std::snprintf(b, 160, "[");
  for (int i = 0; i < t->ndim && n < 140; ++i)
    n += std::snprintf(b + n, 160 - n, i ? ", %lld" : "%lld", (long long)t->shape[i]);
  std::snprintf(b + n, 160 - n, "]");
  return b;
}

dc_status check_dtype(const dc_tensor* t, const char* what, dc_dtype expected) {
  if (t->dtype != expected)
    return fail(DC_ERR_DTYPE, "%s: expected dtype %s, got %s", what, dc_dtype_name(expected),
                dc_dtype_name(t->dtype));
  return DC_OK;
}

dc_status check_float(const dc_tensor* t, const char* what) {
  if (t->device() == DC_DEVICE_CPU) {
    if (t->dtype != DC_F32 && t->dtype != DC_BF16)
      return fail(DC_ERR_DTYPE, "%s: expected dtype f32 or bf16, got %s", what, dc_dtype_name(t->dtype));
    return DC_OK;
  }
  if (t->dtype != DC_F32 && t->dtype != DC_F16 && t->dtype != DC_BF16)
    return fail(DC_ERR_DTYPE, "%s: expected a float dtype (f32, f16, bf16), got %s", what,
                dc_dtype_name(t->dtype));
  return DC_OK;
}

dc_status check_float_operand(const dc_tensor* t, const char* what, const dc_tensor* like) {
  if (t != like && like->device() == DC_DEVICE_CUDA) return check_dtype(t, what, like->dtype);
  return check_float(t, what);
}

dc_status check_same_shape(const dc_tensor* a, const char* an, const dc_tensor* b, const char* bn) {
  bool same = a->ndim == b->ndim;
  for (int i = 0; same && i < a->ndim; ++i) same = a->shape[i] == b->shape[i];
  if (!same)
    return fail(DC_ERR_SHAPE, "%s %s and %s %s must have the same shape", an, shape_str(a), bn,
                shape_str(b));
  return DC_OK;
}

dc_status check_same_device(const dc_tensor* a, const char* an, const dc_tensor* b, const char* bn) {
  if (a->device() != b->device())
    return fail(DC_ERR_DEVICE, "%s is on %s but %s is on %s", an,
                a->device() == DC_DEVICE_CPU ? "cpu" : "cuda", bn,
                b->device() == DC_DEVICE_CPU ? "cpu" : "cuda");
  return DC_OK;
}

dc_status check_ndim(const dc_tensor* t, const char* what, int ndim) {
  if (t->ndim != ndim)
    return fail(DC_ERR_SHAPE, "%s: expected %d dimensions, got %d %s", what, ndim, t->ndim,
                shape_str(t));
  return DC_OK;
}

dc_status check_last_dense(const dc_tensor* t, const char* what) {
  if (t->ndim == 0) return fail(DC_ERR_SHAPE, "%s: expected at least one dimension", what);
  if (t->shape[t->ndim - 1] > 1 && t->strides[t->ndim - 1] != 1)
    return fail(DC_ERR_SHAPE, "%s: the last dimension must have stride 1 (got %lld)", what,
                (long long)t->strides[t->ndim - 1]);
  return DC_OK;
}

dc_status check_position(int64_t pos0, const char* what) {
  constexpr int64_t kMaxPosition = int64_t(1) << 62;
  if (pos0 > kMaxPosition || pos0 < -kMaxPosition)
    return fail(DC_ERR_RANGE, "%s %lld: positions must lie within ±2^62", what, (long long)pos0);
  return DC_OK;
}

Rows rows_of(const dc_tensor* t) {
  Rows r;
  r.len = t->ndim ? t->shape[t->ndim - 1] : 1;
  for (int i = 0; i + 1 < t->ndim; ++i) {
    if (t->shape[i] == 1) continue;
    if (r.nd > 0 && r.stride[r.nd - 1] == t->shape[i] * t->strides[i]) {
      r.shape[r.nd - 1] *= t->shape[i];
      r.stride[r.nd - 1] = t->strides[i];
    } else {
      r.shape[r.nd] = t->shape[i];
      r.stride[r.nd] = t->strides[i];
      r.nd++;
    }
  }
  r.count = 1;
  for (int i = 0; i < r.nd; ++i) r.count *= r.shape[i];
  return r;
}

dc_status grouped_of(const dc_tensor* g, const char* what, int64_t rows, int64_t len, Grouped* out) {
  *out = Grouped{};
  if (!g) return DC_OK;
  DC_TRY(check_tensor(g, what));
  DC_TRY(check_last_dense(g, what));
  const Rows gr = rows_of(g);
  if (gr.len != len)
    return fail(DC_ERR_SHAPE, "%s %s: last dimension must be %lld", what, shape_str(g),
                (long long)len);
  if (gr.count == 0 || rows % gr.count != 0)
    return fail(DC_ERR_SHAPE, "%s %s: %lld groups do not divide %lld rows", what, shape_str(g),
                (long long)gr.count, (long long)rows);
  if (gr.uniform_stride() < 0)
    return fail(DC_ERR_SHAPE, "%s %s: groups must be uniformly strided", what, shape_str(g));
  out->p = g->data();
  out->dtype = g->dtype;
  out->ld = gr.count == 1 ? 0 : gr.uniform_stride();
  out->rows_per_group = rows / gr.count;
  return DC_OK;
}

}  // namespace dc

using namespace dc;

extern "C" {

size_t dc_dtype_size(dc_dtype dtype) {
  switch (dtype) {
    case DC_F32: case DC_I32: return 4;
    case DC_F16: case DC_BF16: return 2;
    case DC_I64: return 8;
    case DC_U8: return 1;
  }
  return 0;
}

const char* dc_dtype_name(dc_dtype dtype) {
  switch (dtype) {
    case DC_F32: return "f32";
    case DC_F16: return "f16";
    case DC_BF16: return "bf16";
    case DC_I32: return "i32";
    case DC_I64: return "i64";
    case DC_U8: return "u8";
  }
  return "unknown";
}

dc_status dc_tensor_empty(dc_dtype dtype, dc_device device, int ndim, const int64_t* shape,
                          dc_tensor** out) {
  return guard([&]() -> dc_status {
    if (!out) return fail(DC_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = nullptr;
    DC_TRY(check_dtype_value(dtype));
    DC_TRY(check_device_value(device));
    int64_t n = 0;
    DC_TRY(check_shape_args(ndim, shape, &n));
    DC_TRY(dc_device_available(device));
    int64_t strides[DC_MAX_DIMS];
    contiguous_strides(ndim, shape, strides);
    Storage* s = new_storage(device, size_t(n) * dc_dtype_size(dtype));
    *out = new_tensor(s, 0, dtype, ndim, shape, strides);
    return DC_OK;
  });
}

dc_status dc_tensor_zeros(dc_dtype dtype, dc_device device, int ndim, const int64_t* shape,
                          dc_tensor** out) {
  DC_TRY(dc_tensor_empty(dtype, device, ndim, shape, out));
  dc_status st = dc_fill(*out, 0.0);
  if (st != DC_OK) {
    dc_tensor_release(*out);
    *out = nullptr;
  }
  return st;
}

dc_status dc_tensor_wrap(dc_dtype dtype, int ndim, const int64_t* shape, const int64_t* strides,
                         void* data, size_t bytes, void (*release)(void*), void* user,
                         dc_tensor** out) {
  return guard([&]() -> dc_status {
    if (!out) return fail(DC_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = nullptr;
    DC_TRY(check_dtype_value(dtype));
    DC_TRY(check_shape_args(ndim, shape, nullptr));
    if (!data && bytes) return fail(DC_ERR_INVALID_ARGUMENT, "data is NULL");
    const size_t es = dc_dtype_size(dtype);
    if (reinterpret_cast<uintptr_t>(data) % es != 0)
      return fail(DC_ERR_INVALID_ARGUMENT, "data is not aligned to its %zu-byte elements", es);
    int64_t st[DC_MAX_DIMS];
    DC_TRY(resolve_strides(ndim, shape, strides, st));
    int64_t hi = 0;
    if (!address_range(ndim, shape, st, &hi)) return fail(DC_ERR_RANGE, "view size overflows");
    if (hi >= 0 && size_t(hi + 1) * es > bytes)
      return fail(DC_ERR_RANGE, "shape and strides address %lld bytes but only %zu were given",
                  (long long)((hi + 1) * int64_t(es)), bytes);
    Storage* s = new Storage();
    s->data = data;
    s->bytes = bytes;
    s->device = DC_DEVICE_CPU;
    *out = new_tensor(s, 0, dtype, ndim, shape, st);
    // Only now: a wrap that fails leaves the memory with the caller, release never called.
    s->release = release;
    s->release_user = user;
    return DC_OK;
  });
}

dc_status dc_tensor_view(const dc_tensor* base, int64_t offset, int ndim, const int64_t* shape,
                         const int64_t* strides, dc_tensor** out) {
  return guard([&]() -> dc_status {
    if (!out) return fail(DC_ERR_INVALID_ARGUMENT, "out is NULL");
    *out = nullptr;
    DC_TRY(check_tensor(base, "base"));
    DC_TRY(check_shape_args(ndim, shape, nullptr));
    int64_t st[DC_MAX_DIMS];
    DC_TRY(resolve_strides(ndim, shape, strides, st));
    const int64_t es = int64_t(dc_dtype_size(base->dtype));
    const int64_t capacity = int64_t(base->storage->bytes) / es;
    // The offset is bounded before it is added, so no caller value can overflow the sums below.
    if (offset < -base->offset || offset > capacity - base->offset)
      return fail(DC_ERR_RANGE,
                  "view offset %lld from element %lld lies outside the storage of %lld elements",
                  (long long)offset, (long long)base->offset, (long long)capacity);
    const int64_t start = base->offset + offset;
    int64_t hi = 0;
    if (!address_range(ndim, shape, st, &hi)) return fail(DC_ERR_RANGE, "view size overflows");
    if (start < 0 || (hi >= 0 && (start > capacity || hi >= capacity - start)))
      return fail(DC_ERR_RANGE,
                  "view (offset %lld, last element %lld) lies outside the storage of %lld elements",
                  (long long)start, (long long)(start + hi), (long long)capacity);
    base->storage->retain();
    *out = new_tensor(base->storage, start, base->dtype, ndim, shape, st);
    return DC_OK;
  });
}

dc_status dc_tensor_retain(dc_tensor* t) {
  DC_TRY(check_handle(t, "tensor"));
  t->refs.fetch_add(1, std::memory_order_relaxed);
  return DC_OK;
}

dc_status dc_tensor_release(dc_tensor* t) {
  if (!t) return DC_OK;
  DC_TRY(check_handle(t, "tensor"));
  if (t->refs.fetch_sub(1, std::memory_order_acq_rel) == 1) {
    t->storage->drop();
    tensor_handles().retire(t);
  }
  return DC_OK;
}

dc_status dc_tensor_describe(const dc_tensor* t, dc_tensor_desc* desc) {
  DC_TRY(check_handle(t, "tensor"));
  DC_TRY(check_record(desc, "dc_tensor_desc", "desc"));
  dc_tensor_desc d{};
  d.dtype = t->dtype;
  d.device = t->device();
  d.ndim = t->ndim;
  for (int i = 0; i < t->ndim; ++i) {
    d.shape[i] = t->shape[i];
    d.strides[i] = t->strides[i];
  }
  d.data = t->data();
  d.numel = t->numel();
  d.contiguous = !t->packed && t->contiguous();
  d.packed = t->packed;
  write_record(desc, d);
  return DC_OK;
}

dc_status dc_tensor_storage_bytes(const dc_tensor* t, size_t* bytes) {
  DC_TRY(check_handle(t, "tensor"));
  if (!bytes) return fail(DC_ERR_INVALID_ARGUMENT, "bytes is NULL");
  *bytes = t->storage->bytes;
  return DC_OK;
}

}  // extern "C"
