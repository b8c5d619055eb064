// Tensor-core attention with online softmax (the FlashAttention-2 schedule): a block of 4 warps
// owns 64 queries of one (batch, head), each warp 16 of them; key/value tiles of 64 rows stream
// through shared memory in two stages while the previous tile is multiplied.
//
// Products use mma.sync m16n8k16 on f16 or bf16 operands with fp32 accumulators: f16 storage
// computes in f16, bf16 and f32 storage in bf16 (f32 is rounded while it is staged, which keeps
// the fp32 range). A head_dim of 72 is 4 k16 steps plus one m16n8k8 step, without padding.
// f16/bf16 tiles without rotary embedding are copied with cp.async; f32 tiles and rotated tiles
// pass through registers, converted (and rotated in fp32) on the way.
#pragma once
#include <type_traits>

#include "attention_common.cuh"
#include "attention_kernels.h"

namespace dc::cuda::attn {

template <int D>
struct Tile {
  static constexpr int kM = 64, kN = 64, kThreads = 128;
  // Rows padded to an odd number of 16-byte chunks so ldmatrix reads hit 8 distinct bank groups.
  static constexpr int kPitch = (D / 8) % 2 == 0 ? D + 8 : D;
  static constexpr int kK16 = D / 16;          // m16n8k16 steps over head_dim
  static constexpr bool kTail8 = D % 16 == 8;  // one m16n8k8 step after them
  static constexpr int kOutTiles = D / 8;      // n8 tiles of the output
  static constexpr size_t kSmemBytes = size_t(kM + 4 * kN) * kPitch * 2 + 2 * kN;
  static_assert(D % 8 == 0 && D <= 128, "head_dim must be a multiple of 8 up to 128");
};

__device__ __forceinline__ uint32_t smem_addr(const void* p) {
  return static_cast<uint32_t>(__cvta_generic_to_shared(p));
}

__device__ __forceinline__ void cp_async16(void* dst, const void* src, int src_bytes) {
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(smem_addr(dst)), "l"(src),
               "r"(src_bytes));
}
__device__ __forceinline__ void cp_async_commit() { asm volatile("cp.async.commit_group;\n" ::); }
__device__ __forceinline__ void cp_async_wait_all() { asm volatile("cp.async.wait_group 0;\n" ::); }

__device__ __forceinline__ void ldsm_x4(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldsm_x2(uint32_t (&r)[2], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldsm_x4_trans(uint32_t (&r)[4], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(smem_addr(p)));
}
__device__ __forceinline__ void ldsm_x2_trans(uint32_t (&r)[2], const void* p) {
  asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\n"
               : "=r"(r[0]), "=r"(r[1])
               : "r"(smem_addr(p)));
}

// c += a (16x16, row) . b (16x8, col)
template <class Tc>
__device__ __forceinline__ void mma_k16(float (&c)[4], const uint32_t (&a)[4], uint32_t b0,
                                        uint32_t b1) {
  if constexpr (std::is_same_v<Tc, __half>) {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, "
        "{%8, %9}, {%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
  }
}

// c += a (16x8, row) . b (8x8, col)
template <class Tc>
__device__ __forceinline__ void mma_k8(float (&c)[4], const uint32_t (&a)[2], uint32_t b) {
  if constexpr (std::is_same_v<Tc, __half>) {
    asm volatile(
        "mma.sync.aligned.m16n8k8.row.col.f32.f16.f16.f32 {%0, %1, %2, %3}, {%4, %5}, {%6}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(b));
  } else {
    asm volatile(
        "mma.sync.aligned.m16n8k8.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5}, {%6}, "
        "{%0, %1, %2, %3};\n"
        : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
        : "r"(a[0]), "r"(a[1]), "r"(b));
  }
}

template <class Tc>
__device__ __forceinline__ uint32_t pack(float lo, float hi) {
  if constexpr (std::is_same_v<Tc, __half>) {
    const __half2 v = __floats2half2_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&v);
  } else {
    const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
    return *reinterpret_cast<const uint32_t*>(&v);
  }
}

__device__ __forceinline__ float fast_exp2(float x) {
  float y;
  asm("ex2.approx.ftz.f32 %0, %1;\n" : "=f"(y) : "f"(x));
  return y;
}

// Eight elements (one 16-byte chunk of the staged tile) of a source row, as float.
__device__ __forceinline__ void load8(const char* row, int col, dc_dtype dt, float (&v)[8]) {
  if (dt == DC_F32) {
    const float4* p = reinterpret_cast<const float4*>(reinterpret_cast<const float*>(row) + col);
    const float4 x = p[0], y = p[1];
    v[0] = x.x, v[1] = x.y, v[2] = x.z, v[3] = x.w, v[4] = y.x, v[5] = y.y, v[6] = y.z, v[7] = y.w;
    return;
  }
  const uint4 raw = *reinterpret_cast<const uint4*>(reinterpret_cast<const uint16_t*>(row) + col);
  const uint32_t w[4] = {raw.x, raw.y, raw.z, raw.w};
  for (int i = 0; i < 4; ++i) {
    if (dt == DC_F16) {
      const float2 f = __half22float2(*reinterpret_cast<const __half2*>(&w[i]));
      v[2 * i] = f.x, v[2 * i + 1] = f.y;
    } else {
      const float2 f = __bfloat1622float2(*reinterpret_cast<const __nv_bfloat162*>(&w[i]));
      v[2 * i] = f.x, v[2 * i + 1] = f.y;
    }
  }
}

// Stages `rows` rows into a tile (pitch Tile<D>::kPitch). row_ptr(r) gives row r's first byte
// or nullptr for rows past the end (staged as zeros). `async`: raw cp.async copies (storage is
// Tc, nothing to rotate); else converted, and rotated at position pos0 + r when freqs is set.
template <int D, class Tc, class RowPtr>
__device__ __forceinline__ void stage_rows(Tc* tile, int rows, const RowPtr& row_ptr,
                                           dc_dtype dt, bool async, const float* freqs,
                                           int64_t pos0, const void* any_valid) {
  constexpr int kChunks = D / 8;
  for (int c = threadIdx.x; c < rows * kChunks; c += Tile<D>::kThreads) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    const char* src = row_ptr(r);
    Tc* dst = tile + r * Tile<D>::kPitch + col;
    if (async) {
      cp_async16(dst, src ? src + col * 2 : any_valid, src ? 16 : 0);
      continue;
    }
    float v[8] = {};
    if (src) {
      load8(src, col, dt, v);
      if (freqs)
        for (int p = 0; p < 4; ++p) rotate(v[2 * p], v[2 * p + 1], float(pos0 + r), freqs[col / 2 + p]);
    }
    uint4 packed;
    packed.x = pack<Tc>(v[0], v[1]);
    packed.y = pack<Tc>(v[2], v[3]);
    packed.z = pack<Tc>(v[4], v[5]);
    packed.w = pack<Tc>(v[6], v[7]);
    *reinterpret_cast<uint4*>(dst) = packed;
  }
}

template <int D, class Tc>
__global__ void __launch_bounds__(Tile<D>::kThreads) attention_tc_kernel(AttentionArgs a) {
  using S = Tile<D>;
  constexpr int kP = S::kPitch, kN = S::kN, kM = S::kM;
  extern __shared__ __align__(16) unsigned char smem[];
  Tc* sq = reinterpret_cast<Tc*>(smem);
  Tc* sk = sq + kM * kP;      // [2][kN][kP]
  Tc* sv = sk + 2 * kN * kP;  // [2][kN][kP]
  uint8_t* visible = reinterpret_cast<uint8_t*>(sv + 2 * kN * kP);  // [2][kN]

  const int warp = threadIdx.x / 32, lane = threadIdx.x % 32, g = lane / 4, t4 = lane % 4;
  const int64_t q_tiles = (a.Nq + kM - 1) / kM;
  const int64_t q0 = (blockIdx.x % q_tiles) * kM;
  const int64_t h = (blockIdx.x / q_tiles) % a.H, b = blockIdx.x / q_tiles / a.H;
  const int64_t total = a.p_len + a.Nk, shift = total - a.Nq;
  const int64_t kv_end = a.causal ? min(total, q0 + kM + shift) : total;
  const int tiles = int((kv_end + kN - 1) / kN);
  const bool async = a.dtype != DC_F32 && !a.rope_freqs;
  const int esize = element_size(a.dtype);

  const auto q_row = [&](int r) -> const char* {
    return q0 + r < a.Nq ? slice_row(a.q, a.q_stride, b, h, q0 + r, esize) : nullptr;
  };
  stage_rows<D, Tc>(sq, kM, q_row, a.dtype, false, a.rope_freqs, a.q_pos0 + q0, a.q);

  const auto issue = [&](int tile, int stage) {
    const int64_t key0 = int64_t(tile) * kN;
    if (threadIdx.x < kN) {
      const int64_t j = key0 + threadIdx.x;
      visible[stage * kN + threadIdx.x] = j < total && (!a.mask || mask_visible(a, b, j));
    }
    const auto k_row = [&](int r) { return key0 + r < total ? key_row(a, b, h, key0 + r, false) : nullptr; };
    const auto v_row = [&](int r) { return key0 + r < total ? key_row(a, b, h, key0 + r, true) : nullptr; };
    stage_rows<D, Tc>(sk + stage * kN * kP, kN, k_row, a.dtype, async, a.rope_freqs, a.k_pos0 + key0, a.k);
    stage_rows<D, Tc>(sv + stage * kN * kP, kN, v_row, a.dtype, async, nullptr, 0, a.v);
  };
  if (tiles > 0) issue(0, 0);
  cp_async_commit();
  cp_async_wait_all();
  __syncthreads();

  uint32_t qf[S::kK16][4];
  uint32_t qt[2];
  const Tc* q_warp = sq + warp * 16 * kP;
  for (int kk = 0; kk < S::kK16; ++kk) ldsm_x4(qf[kk], q_warp + (lane % 16) * kP + kk * 16 + (lane / 16) * 8);
  if constexpr (S::kTail8) ldsm_x2(qt, q_warp + (lane % 16) * kP + S::kK16 * 16);

  const float scale_log2 = a.scale * 1.4426950408889634f;
  float m[2] = {-INFINITY, -INFINITY}, l[2] = {0.f, 0.f};
  float o[S::kOutTiles][4] = {};
  const int64_t q_mine = q0 + warp * 16 + g;  // this thread's rows: q_mine and q_mine + 8

  for (int tile = 0; tile < tiles; ++tile) {
    const int stage = tile & 1;
    if (tile + 1 < tiles) issue(tile + 1, stage ^ 1);
    cp_async_commit();

    // s = q k^T over this tile: 16 queries x 64 keys per warp.
    const Tc* kt = sk + stage * kN * kP;
    float s[kN / 8][4] = {};
    for (int np = 0; np < kN / 16; ++np) {
      const int key = np * 16 + (lane / 16) * 8 + lane % 8;
      for (int kk = 0; kk < S::kK16; ++kk) {
        uint32_t r[4];
        ldsm_x4(r, kt + key * kP + kk * 16 + ((lane / 8) % 2) * 8);
        mma_k16<Tc>(s[2 * np], qf[kk], r[0], r[1]);
        mma_k16<Tc>(s[2 * np + 1], qf[kk], r[2], r[3]);
      }
    }
    if constexpr (S::kTail8) {
      for (int nq = 0; nq < kN / 32; ++nq) {
        uint32_t r[4];
        ldsm_x4(r, kt + (nq * 32 + lane) * kP + S::kK16 * 16);
        for (int i = 0; i < 4; ++i) mma_k8<Tc>(s[nq * 4 + i], qt, r[i]);
      }
    }

    // Masks, then the online softmax update of rows q_mine (e = 0, 1) and q_mine + 8 (e = 2, 3).
    const int64_t key0 = int64_t(tile) * kN;
    const uint8_t* vis = visible + stage * kN;
    for (int nt = 0; nt < kN / 8; ++nt) {
      for (int e = 0; e < 4; ++e) {
        const int kl = nt * 8 + 2 * t4 + (e & 1);
        const int64_t qi = q_mine + (e >= 2 ? 8 : 0);
        const bool ok = vis[kl] && (!a.causal || key0 + kl <= qi + shift);
        s[nt][e] = ok ? s[nt][e] * scale_log2 : -INFINITY;
      }
    }
    for (int hr = 0; hr < 2; ++hr) {
      float mx = -INFINITY;
      for (int nt = 0; nt < kN / 8; ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * hr], s[nt][2 * hr + 1]));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 1));
      mx = fmaxf(mx, __shfl_xor_sync(0xffffffffu, mx, 2));
      const float m_new = fmaxf(m[hr], mx);
      const float base = m_new == -INFINITY ? 0.f : m_new;  // a row with nothing visible yet
      const float corr = fast_exp2(m[hr] - base);
      float sum = 0.f;
      for (int nt = 0; nt < kN / 8; ++nt) {
        s[nt][2 * hr] = fast_exp2(s[nt][2 * hr] - base);
        s[nt][2 * hr + 1] = fast_exp2(s[nt][2 * hr + 1] - base);
        sum += s[nt][2 * hr] + s[nt][2 * hr + 1];
      }
      l[hr] = l[hr] * corr + sum;
      for (int dn = 0; dn < S::kOutTiles; ++dn) {
        o[dn][2 * hr] *= corr;
        o[dn][2 * hr + 1] *= corr;
      }
      m[hr] = m_new;
    }

    // o += p v: the s accumulators are already laid out as the A fragments of p.
    const Tc* vt = sv + stage * kN * kP;
    for (int kk = 0; kk < kN / 16; ++kk) {
      const uint32_t pa[4] = {pack<Tc>(s[2 * kk][0], s[2 * kk][1]), pack<Tc>(s[2 * kk][2], s[2 * kk][3]),
                              pack<Tc>(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                              pack<Tc>(s[2 * kk + 1][2], s[2 * kk + 1][3])};
      const int row = kk * 16 + lane % 8 + ((lane / 8) % 2) * 8;
      for (int dp = 0; dp < S::kOutTiles / 2; ++dp) {
        uint32_t r[4];
        ldsm_x4_trans(r, vt + row * kP + dp * 16 + (lane / 16) * 8);
        mma_k16<Tc>(o[2 * dp], pa, r[0], r[1]);
        mma_k16<Tc>(o[2 * dp + 1], pa, r[2], r[3]);
      }
      if constexpr (S::kOutTiles % 2 == 1) {
        uint32_t r[2];
        ldsm_x2_trans(r, vt + (kk * 16 + lane % 16) * kP + (S::kOutTiles - 1) * 8);
        mma_k16<Tc>(o[S::kOutTiles - 1], pa, r[0], r[1]);
      }
    }
    cp_async_wait_all();
    __syncthreads();
  }

  for (int hr = 0; hr < 2; ++hr) {
    float sum = l[hr];
    sum += __shfl_xor_sync(0xffffffffu, sum, 1);
    sum += __shfl_xor_sync(0xffffffffu, sum, 2);
    const float inv = sum > 0.f ? 1.f / sum : 0.f;
    const int64_t qi = q_mine + hr * 8;
    if (qi >= a.Nq) continue;
    char* out = const_cast<char*>(slice_row(a.out, a.o_stride, b, h, qi, esize));
    for (int dn = 0; dn < S::kOutTiles; ++dn)
      store_pair(out, dn * 8 + 2 * t4, o[dn][2 * hr] * inv, o[dn][2 * hr + 1] * inv, a.dtype);
  }
}

template <int D, class Tc>
dc_status launch_tc(const AttentionArgs& a) {
  using S = Tile<D>;
  const auto kernel = attention_tc_kernel<D, Tc>;
  static const cudaError_t configured =
      cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, int(S::kSmemBytes));
  DC_TRY(check(configured, "configuring the attention kernel"));
  const int64_t blocks = (a.Nq + S::kM - 1) / S::kM * a.H * a.B;
  if (blocks > 0x7fffffff) return fail(DC_ERR_RANGE, "attention grid of %lld blocks is too large", (long long)blocks);
  kernel<<<unsigned(blocks), S::kThreads, S::kSmemBytes, stream()>>>(a);
  return check_launch("attention kernel");
}

// f16 storage computes in f16; bf16 and f32 storage in bf16.
template <int D>
dc_status launch_tc_for_dtype(const AttentionArgs& a) {
  return a.dtype == DC_F16 ? launch_tc<D, __half>(a) : launch_tc<D, __nv_bfloat16>(a);
}

}  // namespace dc::cuda::attn
