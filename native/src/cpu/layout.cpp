// ISA-independent layout kernels: patchify/unpatchify, strided copies with conversion, fills.
// Each walks memory in the order that keeps both sides sequential (or the scattered side in L1),
// and splits the work across the thread pool once there is enough of it.
#include <cmath>
#include <cstring>
#include <limits>
#include <type_traits>

#include "../core/half.h"
#include "../core/thread_pool.h"
#include "kernels.h"

namespace dc::cpu {

namespace {

// Elements per unit of copy/fill work: long runs are cut so that one tensor still spreads over
// every thread.
constexpr int64_t kPiece = 1 << 16;

// Up to two strided tensors of one shape, with dims of size 1 dropped and neighbouring dims merged
// where both tensors are dense across them. The last dim is the inner run; the others are rows.
struct Layout2 {
  int nd = 0;
  int64_t shape[DC_MAX_DIMS] = {};
  int64_t s1[DC_MAX_DIMS] = {};
  int64_t s2[DC_MAX_DIMS] = {};

  Layout2(int ndim, const int64_t* shp, const int64_t* a, const int64_t* b) {
    for (int i = 0; i < ndim; ++i) {
      if (shp[i] == 1) continue;
      if (nd > 0 && s1[nd - 1] == shp[i] * a[i] && s2[nd - 1] == shp[i] * b[i]) {
        shape[nd - 1] *= shp[i];
        s1[nd - 1] = a[i];
        s2[nd - 1] = b[i];
      } else {
        shape[nd] = shp[i];
        s1[nd] = a[i];
        s2[nd] = b[i];
        ++nd;
      }
    }
    if (nd == 0) {  // a single element
      shape[0] = 1;
      s1[0] = s2[0] = 1;
      nd = 1;
    }
  }
  int64_t inner() const { return shape[nd - 1]; }
  int64_t rows() const {
    int64_t r = 1;
    for (int i = 0; i + 1 < nd; ++i) r *= shape[i];
    return r;
  }
};

// Offsets of the current row of a Layout2, advanced with additions.
struct RowCursor {
  const Layout2& l;
  int64_t idx[DC_MAX_DIMS] = {};
  int64_t o1 = 0, o2 = 0;

  RowCursor(const Layout2& layout, int64_t row) : l(layout) {
    for (int i = l.nd - 2; i >= 0; --i) {
      idx[i] = row % l.shape[i];
      row /= l.shape[i];
      o1 += idx[i] * l.s1[i];
      o2 += idx[i] * l.s2[i];
    }
  }
  void next() {
    for (int i = l.nd - 2; i >= 0; --i) {
      o1 += l.s1[i];
      o2 += l.s2[i];
      if (++idx[i] < l.shape[i]) return;
      o1 -= idx[i] * l.s1[i];
      o2 -= idx[i] * l.s2[i];
      idx[i] = 0;
    }
  }
};

// Calls run(o1, o2, first, count) for pieces of the inner runs of `l`, in parallel: o1/o2 are the
// element offsets of the run's start, [first, first + count) the part of the run to do.
template <class Run>
void for_each_piece(const Layout2& l, Run&& run) {
  const int64_t n = l.inner(), pieces = (n + kPiece - 1) / kPiece, piece = (n + pieces - 1) / pieces;
  const int64_t units = l.rows() * pieces;
  parallel_for(units, 1 + kPiece / n, [&](int64_t begin, int64_t end) {
    RowCursor row(l, begin / pieces);
    int64_t p = begin % pieces;
    for (int64_t u = begin; u < end; ++u) {
      const int64_t first = p * piece;
      run(row.o1, row.o2, first, (n - first < piece ? n - first : piece));
      if (++p == pieces) {
        p = 0;
        row.next();
      }
    }
  });
}

// Conversions from double with defined results for every input (a C++ cast of an out-of-range
// value is undefined): beyond float's range a float is ±inf, as IEEE rounding gives; an integer
// saturates at its type's bounds and NaN becomes 0, as the CUDA conversions do.
inline float to_float(double v) {
  constexpr float kMax = std::numeric_limits<float>::max();
  constexpr double kRoundsUp = double(kMax) + 0x1p103;  // half an ulp above: rounds to inf
  if (v > double(kMax) || v < -double(kMax)) {
    const float big = std::fabs(v) >= kRoundsUp ? std::numeric_limits<float>::infinity() : kMax;
    return v < 0 ? -big : big;
  }
  return float(v);
}
template <class I>
I saturate(double v) {
  if (v != v) return 0;
  // 2^63 (or 2^31) exactly; anything at or above it saturates.
  constexpr double kLimit = double(std::numeric_limits<I>::max()) + 1.0;
  if (v >= kLimit) return std::numeric_limits<I>::max();
  if (v < -kLimit) return std::numeric_limits<I>::min();
  return I(v);
}

// Element types with their conversion through double (the widest common type).
struct F32 {
  using T = float;
  static double get(T v) { return v; }
  static T put(double v) { return to_float(v); }
};
struct F16 {
  using T = uint16_t;
  static double get(T v) { return half_to_float(v); }
  static T put(double v) { return float_to_half(to_float(v)); }
};
struct BF16 {
  using T = uint16_t;
  static double get(T v) { return bf16_to_float(v); }
  static T put(double v) { return float_to_bf16(to_float(v)); }
};
struct I32 {
  using T = int32_t;
  static double get(T v) { return v; }
  static T put(double v) { return saturate<int32_t>(v); }
};
struct I64 {
  using T = int64_t;
  static double get(T v) { return double(v); }
  static T put(double v) { return saturate<int64_t>(v); }
};
struct U8 {  // also boolean masks: any non-zero value stores as 1
  using T = uint8_t;
  static double get(T v) { return v; }
  static T put(double v) { return uint8_t(v != 0); }
};

template <class F>
auto with_kind(dc_dtype dt, F&& f) {
  switch (dt) {
    case DC_F16: return f(F16{});
    case DC_BF16: return f(BF16{});
    case DC_I32: return f(I32{});
    case DC_I64: return f(I64{});
    case DC_U8: return f(U8{});
    default: return f(F32{});
  }
}

template <class D, class S>
void convert_run(typename D::T* d, int64_t ds, const typename S::T* s, int64_t ss, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i * ds] = D::put(S::get(s[i * ss]));
}

template <class T>
void strided_run(T* d, int64_t ds, const T* s, int64_t ss, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i * ds] = s[i * ss];
}

template <class T>
void fill_run(T* d, int64_t ds, T v, int64_t n) {
  for (int64_t i = 0; i < n; ++i) d[i * ds] = v;
}

// Same dtype: byte copies of dense runs, else element moves of the dtype's width.
void copy_same(const Layout2& l, char* d, const char* s, size_t es) {
  const int64_t ds = l.s1[l.nd - 1], ss = l.s2[l.nd - 1];
  for_each_piece(l, [&](int64_t od, int64_t os, int64_t first, int64_t n) {
    char* dp = d + (od + first * ds) * int64_t(es);
    const char* sp = s + (os + first * ss) * int64_t(es);
    if (ds == 1 && ss == 1) {
      std::memcpy(dp, sp, size_t(n) * es);
      return;
    }
    switch (es) {
      case 1: strided_run(dp, ds, sp, ss, n); break;
      case 2: strided_run(reinterpret_cast<uint16_t*>(dp), ds, reinterpret_cast<const uint16_t*>(sp), ss, n); break;
      case 4: strided_run(reinterpret_cast<uint32_t*>(dp), ds, reinterpret_cast<const uint32_t*>(sp), ss, n); break;
      default: strided_run(reinterpret_cast<uint64_t*>(dp), ds, reinterpret_cast<const uint64_t*>(sp), ss, n); break;
    }
  });
}

bool overlaps(const void* a, const void* b, size_t bytes) {
  const char* x = static_cast<const char*>(a);
  const char* y = static_cast<const char*>(b);
  return x < y + bytes && y < x + bytes;
}

}  // namespace

void copy(const dc_tensor* dst, const dc_tensor* src) {
  const size_t es = dc_dtype_size(dst->dtype);
  void* d = dst->data();
  const void* s = src->data();
  if (dst->dtype == src->dtype && dst->contiguous() && src->contiguous()) {
    const size_t bytes = size_t(dst->numel()) * es;
    if (d == s) return;
    if (overlaps(d, s, bytes)) {  // a shift within one buffer: memmove's order matters
      std::memmove(d, s, bytes);
      return;
    }
  }
  const Layout2 l(dst->ndim, dst->shape, dst->strides, src->strides);
  if (dst->dtype == src->dtype) {
    copy_same(l, static_cast<char*>(d), static_cast<const char*>(s), es);
    return;
  }
  const int64_t ds = l.s1[l.nd - 1], ss = l.s2[l.nd - 1];
  with_kind(dst->dtype, [&](auto dk) {
    with_kind(src->dtype, [&](auto sk) {
      using D = decltype(dk);
      using S = decltype(sk);
      auto* dp = static_cast<typename D::T*>(d);
      const auto* sp = static_cast<const typename S::T*>(s);
      for_each_piece(l, [&](int64_t od, int64_t os, int64_t first, int64_t n) {
        convert_run<D, S>(dp + od + first * ds, ds, sp + os + first * ss, ss, n);
      });
    });
  });
}

void fill(const dc_tensor* t, double value) {
  void* p = t->data();
  const int64_t zero[DC_MAX_DIMS] = {};
  const Layout2 l(t->ndim, t->shape, t->strides, zero);
  const int64_t ds = l.s1[l.nd - 1];
  with_kind(t->dtype, [&](auto k) {
    using K = decltype(k);
    const typename K::T v = K::put(value);
    auto* base = static_cast<typename K::T*>(p);
    for_each_piece(l, [&](int64_t o, int64_t, int64_t first, int64_t n) {
      fill_run(base + o + first * ds, ds, v, n);
    });
  });
}

// Both directions go strip by strip: a strip is the Wp tokens of one (sample, frame patch, row
// patch), contiguous on the token side, and covers pt x ph whole rows of every channel on the video
// side, so each side is read or written sequentially and the strip's tokens stay in L1. One video
// row maps to pw adjacent columns of each of the Wp tokens; the row helpers keep that inner walk
// in registers, with the common case (pw = 2, dense rows) spelled out. Either side is F32 or BF16:
// elements of one dtype are moved as they are, others converted (BF16 widened exactly, F32 rounded
// to nearest even).
namespace {

struct Strip {
  int64_t b, tp, hp;
  Strip(const PatchArgs& a, int64_t i) : b(i / (a.Tp * a.Hp)), tp((i / a.Hp) % a.Tp), hp(i % a.Hp) {}
};

int64_t strip_grain(const PatchArgs& a) {
  const int64_t per_strip = a.Wp * int64_t(a.pt) * a.ph * a.pw * a.token_channels;
  return 1 + (1 << 14) / (per_strip ? per_strip : 1);
}

// One element of kind S as kind D.
template <class D, class S>
inline typename D::T cast(typename S::T v) {
  if constexpr (std::is_same_v<D, S>) {
    return v;
  } else {
    return D::put(S::get(v));
  }
}

// Calls f(D{}, S{}) with the element kinds of the two float dtypes.
template <class F>
void with_float_kinds(dc_dtype d, dc_dtype s, F&& f) {
  const auto kind = [](dc_dtype dt, auto&& g) {
    if (dt == DC_BF16) {
      g(BF16{});
    } else {
      g(F32{});
    }
  };
  kind(d, [&](auto dk) { kind(s, [&](auto sk) { f(dk, sk); }); });
}

// dst[wp * cols + iw] = src[(wp * pw + iw) * sw] for wp < Wp, iw < pw; zero past the row's W.
template <class D, class S>
void row_to_tokens(typename D::T* dst, int64_t cols, const typename S::T* src, int64_t sw, int64_t W,
                   int64_t Wp, int pw) {
  const int64_t full = W / pw;
  const typename D::T zero = D::put(0.0);
  if (pw == 2 && sw == 1) {
    for (int64_t wp = 0; wp < full; ++wp, dst += cols, src += 2) {
      dst[0] = cast<D, S>(src[0]);
      dst[1] = cast<D, S>(src[1]);
    }
  } else {
    for (int64_t wp = 0; wp < full; ++wp, dst += cols, src += pw * sw)
      for (int iw = 0; iw < pw; ++iw) dst[iw] = cast<D, S>(src[iw * sw]);
  }
  for (int64_t wp = full; wp < Wp; ++wp, dst += cols, src += pw * sw)
    for (int iw = 0; iw < pw; ++iw) dst[iw] = wp * pw + iw < W ? cast<D, S>(src[iw * sw]) : zero;
}

// The inverse: dst[w * sw] = src[(w / pw) * cols + (w % pw) * ct] for w < W.
template <class D, class S>
void tokens_to_row(typename D::T* dst, int64_t sw, const typename S::T* src, int64_t cols, int64_t ct,
                   int64_t W, int pw) {
  const int64_t full = W / pw;
  if (pw == 2 && sw == 1) {
    for (int64_t wp = 0; wp < full; ++wp, dst += 2, src += cols) {
      dst[0] = cast<D, S>(src[0]);
      dst[1] = cast<D, S>(src[ct]);
    }
  } else {
    for (int64_t wp = 0; wp < full; ++wp, dst += pw * sw, src += cols)
      for (int iw = 0; iw < pw; ++iw) dst[iw * sw] = cast<D, S>(src[iw * ct]);
  }
  for (int64_t iw = 0; iw < W - full * pw; ++iw) dst[iw * sw] = cast<D, S>(src[iw * ct]);
}

template <class D, class S>
void patchify_strips(const PatchArgs& a) {
  const int64_t P = int64_t(a.pt) * a.ph * a.pw, cols = P * a.C;
  const auto* video = static_cast<const typename S::T*>(a.video);
  auto* tokens = static_cast<typename D::T*>(a.tokens);
  const typename D::T zero = D::put(0.0);
  parallel_for(a.B * a.Tp * a.Hp, strip_grain(a), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const Strip st(a, i);
      typename D::T* strip = tokens + i * a.Wp * cols;
      for (int64_t c = 0; c < a.C; ++c) {
        for (int it = 0; it < a.pt; ++it) {
          for (int ih = 0; ih < a.ph; ++ih) {
            const int64_t t = st.tp * a.pt + it, h = st.hp * a.ph + ih;
            typename D::T* dst = strip + c * P + (int64_t(it) * a.ph + ih) * a.pw;
            if (t < a.T && h < a.H) {
              const typename S::T* src =
                  video + st.b * a.video_sb + c * a.video_sc + t * a.video_st + h * a.video_sh;
              row_to_tokens<D, S>(dst, cols, src, a.video_sw, a.W, a.Wp, a.pw);
            } else {  // a padding row
              for (int64_t wp = 0; wp < a.Wp; ++wp)
                for (int iw = 0; iw < a.pw; ++iw) dst[wp * cols + iw] = zero;
            }
          }
        }
      }
    }
  });
}

template <class D, class S>
void unpatchify_strips(const PatchArgs& a) {
  const int64_t Ct = a.token_channels, cols = int64_t(a.pt) * a.ph * a.pw * Ct;
  auto* video = static_cast<typename D::T*>(a.video);
  const auto* tokens = static_cast<const typename S::T*>(a.tokens);
  parallel_for(a.B * a.Tp * a.Hp, strip_grain(a), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) {
      const Strip st(a, i);
      const typename S::T* strip = tokens + i * a.Wp * cols;
      for (int64_t c = 0; c < a.C; ++c) {
        for (int it = 0; it < a.pt; ++it) {
          for (int ih = 0; ih < a.ph; ++ih) {
            const int64_t t = st.tp * a.pt + it, h = st.hp * a.ph + ih;
            if (t >= a.T || h >= a.H) continue;  // padding: cropped
            typename D::T* dst =
                video + st.b * a.video_sb + c * a.video_sc + t * a.video_st + h * a.video_sh;
            const typename S::T* src = strip + (int64_t(it) * a.ph + ih) * a.pw * Ct + c;
            tokens_to_row<D, S>(dst, a.video_sw, src, cols, Ct, a.W, a.pw);
          }
        }
      }
    }
  });
}

}  // namespace

void patchify(const PatchArgs& a) {
  with_float_kinds(a.tokens_dtype, a.video_dtype,
                   [&](auto d, auto s) { patchify_strips<decltype(d), decltype(s)>(a); });
}

void unpatchify(const PatchArgs& a) {
  with_float_kinds(a.video_dtype, a.tokens_dtype,
                   [&](auto d, auto s) { unpatchify_strips<decltype(d), decltype(s)>(a); });
}

}  // namespace dc::cpu
