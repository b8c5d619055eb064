// Vector operation sets of the attention kernel. Each is a struct of static functions over one
// register type, so the kernel templates can be instantiated for more than one width in the same
// build: the AVX-512 build also uses the 8-lane set for sequences of at most 8 queries, where
// 16 lanes would leave half of every score vector empty, and for a last head_dim vector that is at
// most half full. The portable set is a plain array the
// compiler vectorises with the baseline instruction set.
#pragma once
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "intrinsics.h"

// Fixed-count loops over registers must be unrolled for the registers to stay registers.
#define DC_UNROLL _Pragma("GCC unroll 32")

namespace dc::cpu::DC_ISA_NS {
namespace {

// 2^f on [-0.5, 0.5], least-squares fit of the relative error (max 2e-9 before rounding), so the
// softmax weights are within a few float ulps of exp.
constexpr float kExp2C1 = 0.6931471824645996f, kExp2C2 = 0.24022646248340607f,
                kExp2C3 = 0.05550329014658928f, kExp2C4 = 0.009618519805371761f,
                kExp2C5 = 0.0013399870367720723f, kExp2C6 = 0.0001533758477307856f;


#if defined(__AVX2__)

struct Avx2Ops {
  using Vec = __m256;
  static constexpr int kLanes = 8;
  static constexpr bool kHasHalf = false;
#if defined(__AVX512F__)
  // EVEX encoding: 32 vector registers, the tiles of Avx512Ops.
  static constexpr int score_rows(int query_vecs) { return query_vecs == 1 ? 16 : 12; }
  static constexpr int kOutVecs = 8;
  static constexpr int out_rows(int vecs) { return vecs <= 2 ? 8 : vecs <= 6 ? 4 : 2; }
#else
  static constexpr int score_rows(int query_vecs) { return query_vecs == 1 ? 12 : 6; }
  static constexpr int kOutVecs = 4;
  static constexpr int out_rows(int vecs) { return vecs <= 1 ? 8 : vecs <= 2 ? 4 : 2; }
#endif

  static Vec zero() { return _mm256_setzero_ps(); }
  static Vec set(float x) { return _mm256_set1_ps(x); }
  static Vec load(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, Vec x) { _mm256_storeu_ps(p, x); }
  static Vec narrow(Vec x) { return x; }
  // bf16 lanes widened exactly (a shift into the high half of each float).
  static Vec load_bf16(const uint16_t* p) {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p));
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
#if defined(__AVX512F__)
  static Vec load_first_bf16(const uint16_t* p, int n) {
    const __m128i h = _mm_maskz_loadu_epi16(__mmask8((1u << n) - 1), p);
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
  }
#else
  static Vec load_first_bf16(const uint16_t* p, int n) {
    alignas(16) uint16_t h[kLanes] = {};
    for (int i = 0; i < n; ++i) h[i] = p[i];
    return load_bf16(h);
  }
#endif
#if defined(__AVX512F__)
  // The low half of a 16-lane register (the 8-lane half-width set of Avx512Ops).
  static Vec narrow(__m512 x) { return _mm512_castps512_ps256(x); }
  static __mmask8 first(int n) { return __mmask8((1u << n) - 1); }
  static Vec load_first(const float* p, int n) { return _mm256_maskz_loadu_ps(first(n), p); }
  static void store_first(float* p, Vec x, int n) { _mm256_mask_storeu_ps(p, first(n), x); }
  static Vec hide_below(Vec x, int n) {
    return _mm256_mask_mov_ps(x, first(n), _mm256_set1_ps(-INFINITY));
  }
#else
  static __m256i first(int n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  // vmaskmovps is slow on some cores: a whole vector takes a plain load or store.
  static Vec load_first(const float* p, int n) {
    return n == kLanes ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, first(n));
  }
  static void store_first(float* p, Vec x, int n) {
    if (n == kLanes) {
      _mm256_storeu_ps(p, x);
    } else {
      _mm256_maskstore_ps(p, first(n), x);
    }
  }
  static Vec hide_below(Vec x, int n) {
    return _mm256_blendv_ps(x, _mm256_set1_ps(-INFINITY), _mm256_castsi256_ps(first(n)));
  }
#endif
  static Vec add(Vec a, Vec b) { return _mm256_add_ps(a, b); }
  static Vec sub(Vec a, Vec b) { return _mm256_sub_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm256_mul_ps(a, b); }
  static Vec max(Vec a, Vec b) { return _mm256_max_ps(a, b); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm256_fmadd_ps(a, b, c); }
  static Vec swap_pairs(Vec x) { return _mm256_permute_ps(x, 0xB1); }
  static Vec inv_or_zero(Vec x) {
    const Vec positive = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_GT_OQ);
    return _mm256_and_ps(positive, _mm256_div_ps(_mm256_set1_ps(1.f), x));
  }
  // 2^x; exactly 0 below -126 (so for -inf), where the exponent field cannot hold 2^n.
  static Vec exp2(Vec x) {
    const Vec representable = _mm256_cmp_ps(x, _mm256_set1_ps(-126.f), _CMP_GE_OQ);
    x = _mm256_max_ps(x, _mm256_set1_ps(-126.f));
    const Vec n = _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const Vec f = _mm256_sub_ps(x, n);
    Vec p = _mm256_fmadd_ps(_mm256_set1_ps(kExp2C6), f, _mm256_set1_ps(kExp2C5));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C4));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C3));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C2));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(kExp2C1));
    p = _mm256_fmadd_ps(p, f, _mm256_set1_ps(1.f));
    const __m256i scale =
        _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_and_ps(representable, _mm256_mul_ps(p, _mm256_castsi256_ps(scale)));
  }
  // r[i] = row i of an 8 x 8 block -> r[c] = column c.
  static void transpose(Vec* r) {
    Vec t[8], s[8];
    DC_UNROLL for (int i = 0; i < 4; ++i) {
      t[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    DC_UNROLL for (int i = 0; i < 2; ++i) {
      s[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
      s[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
      s[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
      s[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
    }
    DC_UNROLL for (int k = 0; k < 4; ++k) {
      r[k] = _mm256_permute2f128_ps(s[k], s[4 + k], 0x20);
      r[4 + k] = _mm256_permute2f128_ps(s[k], s[4 + k], 0x31);
    }
  }
};

#endif

#if defined(__AVX512F__)

struct Avx512Ops {
  using Vec = __m512;
  static constexpr int kLanes = 16;
  // A last head_dim vector at most half full is accumulated in 8-lane registers.
  static constexpr bool kHasHalf = true;
  using Half = Avx2Ops;
  // Score micro-tile: key rows x query vectors of accumulators (32 registers).
  static constexpr int score_rows(int query_vecs) { return query_vecs == 1 ? 16 : 12; }
  // Weights . V micro-tile: at most kOutVecs vectors of head_dim for out_rows(vecs) query rows.
  static constexpr int kOutVecs = 6;
  static constexpr int out_rows(int vecs) { return vecs <= 2 ? 8 : vecs <= 6 ? 4 : 2; }

  static __mmask16 first(int n) { return __mmask16((1u << n) - 1); }
  static Vec narrow(Vec x) { return x; }
  static Vec zero() { return _mm512_setzero_ps(); }
  static Vec set(float x) { return _mm512_set1_ps(x); }
  static Vec load(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, Vec x) { _mm512_storeu_ps(p, x); }
  // The first n lanes (1 <= n <= kLanes); the others read as zero and are never touched in memory.
  static Vec load_first(const float* p, int n) { return _mm512_maskz_loadu_ps(first(n), p); }
  static void store_first(float* p, Vec x, int n) { _mm512_mask_storeu_ps(p, first(n), x); }
  static Vec load_bf16(const uint16_t* p) {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static Vec load_first_bf16(const uint16_t* p, int n) {
    const __m256i h = _mm256_maskz_loadu_epi16(first(n), p);
    return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
  }
  static Vec add(Vec a, Vec b) { return _mm512_add_ps(a, b); }
  static Vec sub(Vec a, Vec b) { return _mm512_sub_ps(a, b); }
  static Vec mul(Vec a, Vec b) { return _mm512_mul_ps(a, b); }
  static Vec max(Vec a, Vec b) { return _mm512_max_ps(a, b); }
  static Vec fma(Vec a, Vec b, Vec c) { return _mm512_fmadd_ps(a, b, c); }
  // (x0, x1, x2, x3, ..) -> (x1, x0, x3, x2, ..): the partner of each rotary pair.
  static Vec swap_pairs(Vec x) { return _mm512_permute_ps(x, 0xB1); }
  // Lanes below `n` (0 <= n <= kLanes) become -inf.
  static Vec hide_below(Vec x, int n) {
    return _mm512_mask_mov_ps(x, first(n), _mm512_set1_ps(-INFINITY));
  }
  // 1/x where x > 0, else 0.
  static Vec inv_or_zero(Vec x) {
    return _mm512_maskz_div_ps(_mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GT_OQ),
                               _mm512_set1_ps(1.f), x);
  }
  // 2^x; exactly 0 for x = -inf. vscalefps applies the integer part and underflows cleanly.
  static Vec exp2(Vec x) {
    x = _mm512_max_ps(x, _mm512_set1_ps(-160.f));
    const Vec n = _mm512_roundscale_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const Vec f = _mm512_sub_ps(x, n);
    Vec p = _mm512_fmadd_ps(_mm512_set1_ps(kExp2C6), f, _mm512_set1_ps(kExp2C5));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kExp2C4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kExp2C3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kExp2C2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(kExp2C1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.f));
    return _mm512_scalef_ps(p, n);
  }
  // r[i] = row i of a 16 x 16 block -> r[c] = column c.
  static void transpose(Vec* r) {
    Vec t[16];
    DC_UNROLL for (int i = 0; i < 8; ++i) {
      t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
      t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    DC_UNROLL for (int i = 0; i < 4; ++i) {
      const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
      const __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
      r[4 * i] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
      r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
      r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
      r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    // r[4g + k], 128-bit lane L: column 4L + k of rows 4g..4g+3.
    DC_UNROLL for (int i = 0; i < 2; ++i)
      DC_UNROLL for (int k = 0; k < 4; ++k) {
        t[8 * i + k] = _mm512_shuffle_f32x4(r[8 * i + k], r[8 * i + 4 + k], 0x88);
        t[8 * i + 4 + k] = _mm512_shuffle_f32x4(r[8 * i + k], r[8 * i + 4 + k], 0xDD);
      }
    DC_UNROLL for (int k = 0; k < 8; ++k) {
      r[k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0x88);
      r[8 + k] = _mm512_shuffle_f32x4(t[k], t[8 + k], 0xDD);
    }
  }
};

#endif

#if !defined(__AVX2__)

struct PortableOps {
  static constexpr int kLanes = 8;
  struct Vec {
    float v[kLanes];
  };
  static constexpr bool kHasHalf = false;
  static constexpr int score_rows(int query_vecs) { return query_vecs == 1 ? 12 : 6; }
  static constexpr int kOutVecs = 4;
  static constexpr int out_rows(int vecs) { return vecs <= 1 ? 8 : vecs <= 2 ? 4 : 2; }

  static Vec narrow(Vec x) { return x; }
  static Vec zero() { return Vec{}; }
  static Vec set(float x) {
    Vec r;
    for (int i = 0; i < kLanes; ++i) r.v[i] = x;
    return r;
  }
  static Vec load(const float* p) {
    Vec r;
    for (int i = 0; i < kLanes; ++i) r.v[i] = p[i];
    return r;
  }
  static void store(float* p, Vec x) {
    for (int i = 0; i < kLanes; ++i) p[i] = x.v[i];
  }
  static Vec load_first(const float* p, int n) {
    Vec r{};
    for (int i = 0; i < n; ++i) r.v[i] = p[i];
    return r;
  }
  static Vec load_first_bf16(const uint16_t* p, int n) {
    Vec r{};
    for (int i = 0; i < n; ++i) {
      const uint32_t u = uint32_t(p[i]) << 16;
      std::memcpy(&r.v[i], &u, 4);
    }
    return r;
  }
  static Vec load_bf16(const uint16_t* p) { return load_first_bf16(p, kLanes); }
  static void store_first(float* p, Vec x, int n) {
    for (int i = 0; i < n; ++i) p[i] = x.v[i];
  }
  static Vec add(Vec a, Vec b) {
    for (int i = 0; i < kLanes; ++i) a.v[i] += b.v[i];
    return a;
  }
  static Vec sub(Vec a, Vec b) {
    for (int i = 0; i < kLanes; ++i) a.v[i] -= b.v[i];
    return a;
  }
  static Vec mul(Vec a, Vec b) {
    for (int i = 0; i < kLanes; ++i) a.v[i] *= b.v[i];
    return a;
  }
  static Vec max(Vec a, Vec b) {
    for (int i = 0; i < kLanes; ++i) a.v[i] = a.v[i] > b.v[i] ? a.v[i] : b.v[i];
    return a;
  }
  static Vec fma(Vec a, Vec b, Vec c) {
    for (int i = 0; i < kLanes; ++i) c.v[i] += a.v[i] * b.v[i];
    return c;
  }
  static Vec swap_pairs(Vec x) {
    Vec r;
    for (int i = 0; i < kLanes; ++i) r.v[i] = x.v[i ^ 1];
    return r;
  }
  static Vec hide_below(Vec x, int n) {
    for (int i = 0; i < n; ++i) x.v[i] = -INFINITY;
    return x;
  }
  static Vec inv_or_zero(Vec x) {
    for (int i = 0; i < kLanes; ++i) x.v[i] = x.v[i] > 0.f ? 1.f / x.v[i] : 0.f;
    return x;
  }
  static Vec exp2(Vec x) {
    Vec r;
    for (int i = 0; i < kLanes; ++i) {
      const float xi = x.v[i] > -126.f ? x.v[i] : -126.f;
      const float n = std::nearbyint(xi), f = xi - n;
      float p = kExp2C6 * f + kExp2C5;
      p = p * f + kExp2C4;
      p = p * f + kExp2C3;
      p = p * f + kExp2C2;
      p = p * f + kExp2C1;
      p = p * f + 1.f;
      const uint32_t bits = uint32_t(int32_t(n) + 127) << 23;
      float scale;
      std::memcpy(&scale, &bits, sizeof scale);
      r.v[i] = x.v[i] >= -126.f ? p * scale : 0.f;
    }
    return r;
  }
  static void transpose(Vec* r) {
    for (int i = 0; i < kLanes; ++i)
      for (int c = i + 1; c < kLanes; ++c) {
        const float t = r[i].v[c];
        r[i].v[c] = r[c].v[i];
        r[c].v[i] = t;
      }
  }
};

#endif

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
