// Walking the rows of an operand in order: each step updates the offset with additions instead of
// the per-row divisions of Rows::offset, which matter for short rows such as a 72-wide q/k head.
#pragma once
#include <cstdint>

#include "../kernels.h"

namespace dc::cpu::DC_ISA_NS {
namespace {

// Offset (in elements) of the current row of a tensor with arbitrary row strides.
struct RowWalk {
  const Rows& rows;
  int64_t idx[DC_MAX_DIMS] = {};
  int64_t off = 0;

  RowWalk(const Rows& r, int64_t first) : rows(r) {
    for (int i = r.nd - 1; i >= 0; --i) {
      idx[i] = first % r.shape[i];
      first /= r.shape[i];
      off += idx[i] * r.stride[i];
    }
  }
  void next() {
    for (int i = rows.nd - 1; i >= 0; --i) {
      off += rows.stride[i];
      if (++idx[i] < rows.shape[i]) return;
      off -= idx[i] * rows.stride[i];
      idx[i] = 0;
    }
  }
};

// Rows about 4 KiB ahead of a walk, fetched into cache early: short rows of a strided view (a
// 72-wide head every 3·1152 floats) defeat the hardware prefetcher at each jump. Rows longer than
// 1 KiB are left to the hardware.
struct RowPrefetch {
  RowWalk ahead;
  const char* base;
  int64_t elem, bytes, left;

  // Rows ahead for rows of `bytes` bytes.
  static int64_t distance(int64_t bytes) { return bytes == 0 || bytes > 1024 ? 0 : 4096 / bytes; }
  template <class T>
  RowPrefetch(const Rows& r, int64_t first, int64_t end, const T* p)
      : ahead(r, first + distance(r.len * int64_t(sizeof(T))) < end
                     ? first + distance(r.len * int64_t(sizeof(T)))
                     : end),
        base(reinterpret_cast<const char*>(p)),
        elem(sizeof(T)),
        bytes(r.len * elem),
        left(distance(bytes) ? end - first - distance(bytes) : 0) {}
  // Call once per row walked.
  void next() {
    if (left-- <= 0) return;
    const char* row = base + ahead.off * elem;
    for (int64_t b = 0; b < bytes; b += 64) __builtin_prefetch(row + b);
    ahead.next();
  }
};

// `src` re-expressed with the row dims of `like` (same row count): each dim of `like` takes its
// stride from the dim of `src` it falls in. False when a dim of `like` straddles two dims of `src`.
inline bool rows_like(const Rows& src, const Rows& like, Rows* out) {
  *out = like;
  int i = src.nd - 1;
  int64_t rem = i >= 0 ? src.shape[i] : 1, stride = i >= 0 ? src.stride[i] : 0;
  for (int j = like.nd - 1; j >= 0; --j) {
    const int64_t n = like.shape[j];
    if (rem % n != 0) return false;
    out->stride[j] = stride;
    rem /= n;
    stride *= n;
    if (rem == 1 && --i >= 0) {
      rem = src.shape[i];
      stride = src.stride[i];
    }
  }
  return true;
}

// Swaps the walking order of the two innermost row dims (nd >= 2).
inline void swap_inner_dims(Rows& r) {
  const int i = r.nd - 1;
  const int64_t shape = r.shape[i], stride = r.stride[i];
  r.shape[i] = r.shape[i - 1];
  r.stride[i] = r.stride[i - 1];
  r.shape[i - 1] = shape;
  r.stride[i - 1] = stride;
}

// The current row of a grouped [G, C] parameter (nullptr when absent).
struct GroupWalk {
  const float* p = nullptr;
  int64_t ld = 0, per = 1, left = 1;

  GroupWalk(const Grouped& g, int64_t first) {
    if (!g.p) return;
    p = g.row<float>(first);
    ld = g.ld;
    per = g.rows_per_group;
    left = per - first % per;
  }
  void next() {
    if (p && --left == 0) {
      p += ld;
      left = per;
    }
  }
};

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
