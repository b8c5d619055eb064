// Memory floor of temporal attention's access pattern, without its arithmetic.
//
// Temporal attention in STDiT3 reads, per (sequence, head), T rows of q, k and v of head_dim floats
// each, rows 3·H·head_dim floats apart in the packed qkv projection, and writes T rows of out. This
// probe moves exactly those bytes in the kernel's order (one sequence and head after another):
//   rows          q, k, v rows read and out rows written, as the kernel visits them
//   rows+ahead    the same, each sequence first requesting the rows of the one two places later
//                 (prefetcht1 / prefetchw), as the kernel does when its data streams from memory
//   sequential    the same bytes read and written in address order (the bandwidth of a copy)
// and prints the median of 15 runs of each. Build and run (x86-64 with AVX-512):
//   g++ -O2 -mavx512f -o /tmp/strided_rows bench/probes/strided_rows.cpp && /tmp/strided_rows 256 16 16 72
#include <immintrin.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

struct Pattern {
  int64_t B, H, T, D;
  float* qkv;  // [B, T, 3, H, D]
  float* out;  // [B, T, H, D]
  const float* row(int64_t b, int64_t t, int64_t part, int64_t h) const {
    return qkv + (((b * T + t) * 3 + part) * H + h) * D;
  }
  float* out_row(int64_t b, int64_t t, int64_t h) const { return out + ((b * T + t) * H + h) * D; }
};

float* allocate(size_t floats) {
  const size_t bytes = (floats * sizeof(float) + 4095) / 4096 * 4096;
  auto* p = static_cast<float*>(std::aligned_alloc(4096, bytes));
  if (!p) {
    std::fprintf(stderr, "out of memory\n");
    std::exit(1);
  }
  std::memset(p, 0, bytes);
  return p;
}

__mmask16 lanes(int64_t left) { return left >= 16 ? __mmask16(0xffff) : __mmask16((1u << left) - 1); }

__m512 read_row(const float* r, int64_t D, __m512 acc) {
  for (int64_t d = 0; d < D; d += 16) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(lanes(D - d), r + d));
  return acc;
}

void write_row(float* r, int64_t D, __m512 x) {
  for (int64_t d = 0; d < D; d += 16) _mm512_mask_storeu_ps(r + d, lanes(D - d), x);
}

void request(const void* row, int64_t bytes, bool write) {
  const auto first = reinterpret_cast<uintptr_t>(row) & ~uintptr_t(63);
  for (uintptr_t line = first; line < reinterpret_cast<uintptr_t>(row) + uintptr_t(bytes); line += 64) {
    if (write) {
      __builtin_prefetch(reinterpret_cast<const void*>(line), 1, 2);
    } else {
      __builtin_prefetch(reinterpret_cast<const void*>(line), 0, 2);
    }
  }
}

__m512 rows(const Pattern& p, bool ahead) {
  __m512 acc = _mm512_setzero_ps();
  const int64_t items = p.B * p.H, bytes = p.D * 4;
  for (int64_t item = 0; item < items; ++item) {
    const int64_t b = item / p.H, h = item % p.H;
    if (ahead && item + 2 < items) {
      const int64_t lb = (item + 2) / p.H, lh = (item + 2) % p.H;
      for (int64_t part = 0; part < 3; ++part)
        for (int64_t t = 0; t < p.T; ++t) request(p.row(lb, t, part, lh), bytes, false);
      for (int64_t t = 0; t < p.T; ++t) request(p.out_row(lb, t, lh), bytes, true);
    }
    for (int64_t part = 0; part < 3; ++part)
      for (int64_t t = 0; t < p.T; ++t) acc = read_row(p.row(b, t, part, h), p.D, acc);
    for (int64_t t = 0; t < p.T; ++t) write_row(p.out_row(b, t, h), p.D, acc);
  }
  return acc;
}

__m512 sequential(const Pattern& p) {
  __m512 acc = _mm512_setzero_ps();
  const int64_t in = p.B * p.T * 3 * p.H * p.D, out = p.B * p.T * p.H * p.D;
  for (int64_t i = 0; i < in; i += 16) acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(lanes(in - i), p.qkv + i));
  for (int64_t i = 0; i < out; i += 16) _mm512_mask_storeu_ps(p.out + i, lanes(out - i), acc);
  return acc;
}

template <class F>
double median_ms(F&& run) {
  std::vector<double> ms;
  volatile float sink = 0.f;
  alignas(64) float lanes_out[16];
  for (int r = 0; r < 15; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    _mm512_store_ps(lanes_out, run());
    sink = sink + lanes_out[0];
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s B H T head_dim\n", argv[0]);
    return 2;
  }
  Pattern p{std::atoll(argv[1]), std::atoll(argv[2]), std::atoll(argv[3]), std::atoll(argv[4]), nullptr, nullptr};
  if (p.B <= 0 || p.H <= 0 || p.T <= 0 || p.D <= 0) {
    std::fprintf(stderr, "B, H, T and head_dim must be positive\n");
    return 2;
  }
  p.qkv = allocate(size_t(p.B * p.T * 3 * p.H * p.D));
  p.out = allocate(size_t(p.B * p.T * p.H * p.D));
  const double mb = double(p.B * p.H * p.T * p.D * 4 * 4) / 1e6;
  const double times[3] = {median_ms([&] { return rows(p, false); }), median_ms([&] { return rows(p, true); }),
                           median_ms([&] { return sequential(p); })};
  const char* names[3] = {"rows", "rows+ahead", "sequential"};
  std::printf("B=%lld H=%lld T=%lld D=%lld: %.1f MB of q, k, v read and out written\n", (long long)p.B,
              (long long)p.H, (long long)p.T, (long long)p.D, mb);
  for (int i = 0; i < 3; ++i) std::printf("  %-11s %8.2f ms  %6.1f GB/s\n", names[i], times[i], mb / times[i]);
  std::free(p.qkv);
  std::free(p.out);
  return 0;
}
