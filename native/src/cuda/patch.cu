// Patchify / unpatchify: one thread per element of the dense side (tokens for patchify, the
// video for unpatchify), so the writes are coalesced; the padding reads as zeros and is cropped.
#include "backend.h"
#include "device_util.cuh"

namespace dc::cuda {

namespace {

constexpr int kThreads = 256;

template <class T>
__global__ void patchify_kernel(PatchArgs a) {
  const int64_t P = int64_t(a.pt) * a.ph * a.pw, cols = a.C * P, S = a.Hp * a.Wp,
                tokens = a.Tp * S, total = a.B * tokens * cols;
  const T* video = static_cast<const T*>(a.video);
  T* tok = static_cast<T*>(a.tokens);
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t col = e % cols, n = (e / cols) % tokens, b = e / cols / tokens;
    const int64_t c = col / P, pos = col % P;
    const int64_t it = pos / (a.ph * a.pw), ih = (pos / a.pw) % a.ph, iw = pos % a.pw;
    const int64_t t = (n / S) * a.pt + it, h = ((n % S) / a.Wp) * a.ph + ih, w = (n % a.Wp) * a.pw + iw;
    T v = from_float<T>(0.f);
    if (t < a.T && h < a.H && w < a.W)
      v = video[b * a.video_sb + c * a.video_sc + t * a.video_st + h * a.video_sh + w * a.video_sw];
    tok[e] = v;
  }
}

template <class T>
__global__ void unpatchify_kernel(PatchArgs a) {
  const int64_t P = int64_t(a.pt) * a.ph * a.pw, cols = P * a.token_channels;
  const int64_t tokens = a.Tp * a.Hp * a.Wp, total = a.B * a.C * a.T * a.H * a.W;
  const T* tok = static_cast<const T*>(a.tokens);
  T* video = static_cast<T*>(a.video);
  for (int64_t e = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; e < total;
       e += int64_t(gridDim.x) * blockDim.x) {
    const int64_t w = e % a.W, h = (e / a.W) % a.H, t = (e / a.W / a.H) % a.T;
    const int64_t c = (e / a.W / a.H / a.T) % a.C, b = e / a.W / a.H / a.T / a.C;
    const int64_t n = ((t / a.pt) * a.Hp + h / a.ph) * a.Wp + w / a.pw;
    const int64_t pos = ((t % a.pt) * a.ph + h % a.ph) * a.pw + w % a.pw;
    video[b * a.video_sb + c * a.video_sc + t * a.video_st + h * a.video_sh + w * a.video_sw] =
        tok[(b * tokens + n) * cols + pos * a.token_channels + c];
  }
}

}  // namespace

dc_status patchify(const PatchArgs& a) {
  return with_float_type(a.video_dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t total = a.B * a.Tp * a.Hp * a.Wp * a.C * a.pt * a.ph * a.pw;
    patchify_kernel<T><<<grid_for(total, kThreads * 4), kThreads, 0, stream()>>>(a);
    return check_launch("patchify kernel");
  });
}

dc_status unpatchify(const PatchArgs& a) {
  return with_float_type(a.video_dtype, [&](auto tag) {
    using T = decltype(tag);
    const int64_t total = a.B * a.C * a.T * a.H * a.W;
    unpatchify_kernel<T><<<grid_for(total, kThreads * 4), kThreads, 0, stream()>>>(a);
    return check_launch("unpatchify kernel");
  });
}

}  // namespace dc::cuda
