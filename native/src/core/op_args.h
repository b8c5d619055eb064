// Device-neutral kernel arguments: plain pointers, sizes and strides (in elements), filled and
// validated by the C API layer (native/src/api) and consumed by the CPU and CUDA backends.
#pragma once
#include <cstdint>

#include "ditcache.h"
#include "tensor.h"

namespace dc {

struct GemmArgs {
  int64_t M = 0, N = 0, K = 0;
  const void* a = nullptr;      // [M, K], row stride lda
  int64_t lda = 0;
  dc_dtype a_dtype = DC_F32;    // F32 or BF16 (CPU); the dtype of every operand (CUDA)
  // W: a Linear weight [N, K], row-major with row stride ldw, or packed once into the panels of
  // cpu/impl/gemm_panels.h (w_packed; ldw unused).
  const void* w = nullptr;
  int64_t ldw = 0;
  dc_dtype w_dtype = DC_F32;    // F32 or BF16 (CPU); like a_dtype or BF16 (CUDA)
  bool w_packed = false;
  void* out = nullptr;          // [M, N], row stride ldo
  int64_t ldo = 0;
  dc_dtype out_dtype = DC_F32;
  const void* bias = nullptr;   // [N]
  dc_dtype bias_dtype = DC_F32;
  dc_activation act = DC_ACT_NONE;
  Grouped gate;                 // [G, N]
  const void* residual = nullptr;  // [M, N], row stride ldr; may equal out (then out's dtype)
  int64_t ldr = 0;
  dc_dtype residual_dtype = DC_F32;
};

struct AttentionArgs {
  int64_t B = 0, H = 0, Nq = 0, Nk = 0, D = 0;  // Nk: keys of the current segment
  dc_dtype dtype = DC_F32;      // of q, k, v and the prefix
  dc_dtype out_dtype = DC_F32;  // like dtype (CUDA); F32 or BF16 (CPU)
  const void* q = nullptr;
  int64_t q_stride[3] = {};  // b, h, n (d is dense)
  const void* k = nullptr;
  int64_t k_stride[3] = {};
  const void* v = nullptr;
  int64_t v_stride[3] = {};
  void* out = nullptr;
  int64_t o_stride[3] = {};
  float scale = 1.f;
  bool causal = false;  // query i sees key j (over prefix + current) iff j <= i + (P + Nk - Nq)
  // Key mask over P + Nk keys: mask[b * mask_stride_b + j * mask_stride_j] != 0 = visible.
  const void* mask = nullptr;
  dc_dtype mask_dtype = DC_U8;
  int64_t mask_stride_b = 0, mask_stride_j = 0;
  // Prefix segment (ring buffer of capacity p_cap; entry j at slot (p_start + j) % p_cap).
  const void* pk = nullptr;
  int64_t pk_stride[3] = {};
  const void* pv = nullptr;
  int64_t pv_stride[3] = {};
  int64_t p_cap = 0, p_start = 0, p_len = 0;
  // Rotary embedding applied on the fly (freqs [D/2], F32); nullptr = none.
  const float* rope_freqs = nullptr;
  int64_t q_pos0 = 0, k_pos0 = 0;
};

// One operand of a row-wise op: the tensor's rows, base pointer and dtype. On the CPU every float
// operand of the ops below is F32 or BF16, each its own unless stated; on CUDA all the float
// operands of one op share x's dtype (F32, F16 or BF16).
struct RowOperand {
  void* p = nullptr;
  Rows rows;
  dc_dtype dtype = DC_F32;
};

struct NormArgs {
  enum Kind { kLayerNorm, kRmsNorm } kind = kLayerNorm;
  RowOperand x, out;  // same row count and length; out may alias x (then with x's dtype)
  float eps = 1e-6f;
  const void* weight = nullptr;  // [C]
  dc_dtype weight_dtype = DC_F32;
  const void* bias = nullptr;    // [C]
  dc_dtype bias_dtype = DC_F32;
  Grouped shift, scale;          // t2i modulate after the norm
};

struct ElementwiseArgs {
  enum Kind { kModulate, kActivate, kAxpby, kMul, kSoftmax } kind = kActivate;
  RowOperand x, out;
  RowOperand y;          // same shape and dtype as x (kAxpby, kMul), unless y_grouped.p is set
  Grouped y_grouped;     // grouped [G, C] second operand
  Grouped shift, scale;  // kModulate
  dc_activation act = DC_ACT_NONE;
  float alpha = 1.f, beta = 1.f;
};

struct RopeArgs {
  RowOperand x, out;   // rows of [.., T, D]; row r is at position pos0 + r % T
  int64_t T = 0;
  const float* freqs = nullptr;  // [D/2]
  int64_t pos0 = 0;
};

struct PatchArgs {
  void* video = nullptr;   // [B, C, T, H, W] with the strides below
  dc_dtype video_dtype = DC_F32;
  void* tokens = nullptr;  // [B, Tp*Hp*Wp, pt*ph*pw*token_channels] dense
  dc_dtype tokens_dtype = DC_F32;
  int64_t B = 0, C = 0, T = 0, H = 0, W = 0;
  int pt = 1, ph = 1, pw = 1;
  int64_t Tp = 0, Hp = 0, Wp = 0;  // patch grid (ceil division; the padding reads as zeros)
  // Channels per patch position on the token side. Patchify: == C, columns ordered
  // (c, it, ih, iw) as the Conv3d weight. Unpatchify: >= C, columns ordered (it, ih, iw, c), and
  // only the first C channels are read.
  int64_t token_channels = 0;
  int64_t video_sb = 0, video_sc = 0, video_st = 0, video_sh = 0, video_sw = 0;
};

struct DistanceArgs {
  RowOperand cache, fresh;
  dc_norm_kind norm = DC_L1;
  bool update = false;
};

struct MotionArgs {
  const void* r = nullptr;  // [B, T*S, C] dense
  dc_dtype dtype = DC_F32;  // r's
  int64_t B = 0, T = 0, S = 0, C = 0;
  const int64_t* strides = nullptr;
  int n_strides = 0;
};

}  // namespace dc
