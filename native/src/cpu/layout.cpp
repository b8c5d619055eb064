// ISA-independent layout kernels: patchify/unpatchify, strided copies with conversion, fills.
#include <cstring>

#include "../core/half.h"
#include "../core/thread_pool.h"
#include "kernels.h"

namespace dc::cpu {

namespace {

template <class T>
double load_as_double(const void* p, int64_t i) {
  return double(static_cast<const T*>(p)[i]);
}

double load_element(dc_dtype dt, const void* p, int64_t i) {
  switch (dt) {
    case DC_F32: return load_as_double<float>(p, i);
    case DC_F16: return double(half_to_float(static_cast<const uint16_t*>(p)[i]));
    case DC_BF16: return double(bf16_to_float(static_cast<const uint16_t*>(p)[i]));
    case DC_I32: return load_as_double<int32_t>(p, i);
    case DC_I64: return load_as_double<int64_t>(p, i);
    case DC_U8: return load_as_double<uint8_t>(p, i);
  }
  return 0;
}

void store_element(dc_dtype dt, void* p, int64_t i, double v) {
  switch (dt) {
    case DC_F32: static_cast<float*>(p)[i] = float(v); break;
    case DC_F16: static_cast<uint16_t*>(p)[i] = float_to_half(float(v)); break;
    case DC_BF16: static_cast<uint16_t*>(p)[i] = float_to_bf16(float(v)); break;
    case DC_I32: static_cast<int32_t*>(p)[i] = int32_t(v); break;
    case DC_I64: static_cast<int64_t*>(p)[i] = int64_t(v); break;
    case DC_U8: static_cast<uint8_t*>(p)[i] = uint8_t(v != 0); break;
  }
}

// Offsets of element `i` (row-major over `shape`) in two strided tensors.
struct PairIndexer {
  int nd;
  const int64_t* shape;
  const int64_t* s1;
  const int64_t* s2;
  void offsets(int64_t i, int64_t* o1, int64_t* o2) const {
    int64_t a = 0, b = 0;
    for (int d = nd - 1; d >= 0; --d) {
      const int64_t idx = i % shape[d];
      i /= shape[d];
      a += idx * s1[d];
      b += idx * s2[d];
    }
    *o1 = a;
    *o2 = b;
  }
};

}  // namespace

void copy(const dc_tensor* dst, const dc_tensor* src) {
  const int64_t n = dst->numel();
  const size_t es = dc_dtype_size(dst->dtype);
  void* d = dst->data();
  const void* s = src->data();
  if (dst->dtype == src->dtype && dst->contiguous() && src->contiguous()) {
    if (d != s) std::memmove(d, s, size_t(n) * es);
    return;
  }
  const int64_t last = dst->ndim ? dst->shape[dst->ndim - 1] : 1;
  const bool rows_dense = dst->ndim && dst->dtype == src->dtype && dst->strides[dst->ndim - 1] == 1 &&
                          src->strides[src->ndim - 1] == 1;
  const PairIndexer ix{dst->ndim, dst->shape, dst->strides, src->strides};
  if (rows_dense) {
    parallel_for(n / last, 64, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        int64_t od, os;
        ix.offsets(r * last, &od, &os);
        std::memcpy(static_cast<char*>(d) + od * es, static_cast<const char*>(s) + os * es,
                    size_t(last) * es);
      }
    });
    return;
  }
  parallel_for(n, 1 << 14, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      int64_t od, os;
      ix.offsets(i, &od, &os);
      store_element(dst->dtype, d, od, load_element(src->dtype, s, os));
    }
  });
}

void fill(const dc_tensor* t, double value) {
  const int64_t n = t->numel();
  void* p = t->data();
  if (value == 0 && t->contiguous()) {
    std::memset(p, 0, size_t(n) * dc_dtype_size(t->dtype));
    return;
  }
  const int64_t zero[DC_MAX_DIMS] = {};
  const PairIndexer ix{t->ndim, t->shape, t->strides, zero};
  for (int64_t i = 0; i < n; ++i) {
    int64_t o, unused;
    ix.offsets(i, &o, &unused);
    store_element(t->dtype, p, o, value);
  }
}

// Both directions walk tokens; `to_tokens` selects gather (patchify) or scatter (unpatchify).
template <bool to_tokens>
static void patch_walk(const PatchArgs& a) {
  const int64_t S = a.Hp * a.Wp, tokens = a.Tp * S, P = int64_t(a.pt) * a.ph * a.pw;
  const int64_t cols = P * a.token_channels;
  float* video = static_cast<float*>(a.video);
  float* tok = static_cast<float*>(a.tokens);
  parallel_for(a.B * tokens, 64, [&](int64_t begin, int64_t end) {
    for (int64_t bt = begin; bt < end; ++bt) {
      const int64_t b = bt / tokens, n = bt % tokens;
      const int64_t tp = n / S, hp = (n % S) / a.Wp, wp = n % a.Wp;
      float* row = tok + bt * cols;
      for (int64_t c = 0; c < a.C; ++c) {
        for (int it = 0; it < a.pt; ++it) {
          for (int ih = 0; ih < a.ph; ++ih) {
            for (int iw = 0; iw < a.pw; ++iw) {
              const int64_t t = tp * a.pt + it, h = hp * a.ph + ih, w = wp * a.pw + iw;
              const bool inside = t < a.T && h < a.H && w < a.W;
              const int64_t vo = b * a.video_sb + c * a.video_sc + t * a.video_st +
                                 h * a.video_sh + w * a.video_sw;
              const int64_t pos = (int64_t(it) * a.ph + ih) * a.pw + iw;
              if (to_tokens) {
                row[c * P + pos] = inside ? video[vo] : 0.f;
              } else if (inside) {
                video[vo] = row[pos * a.token_channels + c];
              }
            }
          }
        }
      }
    }
  });
}

void patchify(const PatchArgs& a) { patch_walk<true>(a); }
void unpatchify(const PatchArgs& a) { patch_walk<false>(a); }

const KernelTable& kernels() {
  switch (dc_cpu_isa()) {
#if DC_HAVE_AVX512
    case DC_ISA_AVX512: return avx512::table();
#endif
#if DC_HAVE_AVX2
    case DC_ISA_AVX2: return avx2::table();
#endif
    default: return portable::table();
  }
}

}  // namespace dc::cpu
