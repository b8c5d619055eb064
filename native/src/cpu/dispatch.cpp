// Which kernel table runs. A variant is usable when it is compiled in and the CPU (and the OS)
// support it; of the usable ones the widest is chosen, except that the AVX-512 BF16 variant must
// also earn its place: where vdpbf16ps is no faster than FMAs on widened operands (it brings
// nothing over fp32 FMAs on some Intel cores, while AMD Zen 4 runs it at about 1.7x), bf16 work
// stays on the avx512 kernels. The rates are measured once, at first use.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "../core/cpu_features.h"
#include "../core/status.h"
#include "kernels.h"

// The build defines DC_HAVE_<ISA>=1 for each variant it compiles.
#ifndef DC_HAVE_AVX2
#define DC_HAVE_AVX2 0
#endif
#ifndef DC_HAVE_AVX512
#define DC_HAVE_AVX512 0
#endif
#ifndef DC_HAVE_AVX512_BF16
#define DC_HAVE_AVX512_BF16 0
#endif
#ifndef DC_HAVE_AMX
#define DC_HAVE_AMX 0
#endif

namespace dc::cpu {

namespace {

constexpr dc_isa kAllIsas[] = {DC_ISA_PORTABLE, DC_ISA_AVX2, DC_ISA_AVX512, DC_ISA_AVX512_BF16,
                               DC_ISA_AMX};
// vdpbf16ps must do this many times the multiply-adds of FMAs in the same time to be chosen: the
// GEMM rounds A to bf16 while packing, which costs a little of what the dot products gain.
constexpr double kMinBf16Gain = 1.25;

bool compiled(dc_isa isa) {
  switch (isa) {
    case DC_ISA_PORTABLE: return true;
    case DC_ISA_AVX2: return DC_HAVE_AVX2;
    case DC_ISA_AVX512: return DC_HAVE_AVX512;
    case DC_ISA_AVX512_BF16: return DC_HAVE_AVX512_BF16;
    case DC_ISA_AMX: return DC_HAVE_AMX;
  }
  return false;
}

bool supported(dc_isa isa) {
  const CpuFeatures& f = cpu_features();
  bool cpu = false;
  switch (isa) {
    case DC_ISA_PORTABLE: cpu = true; break;
    case DC_ISA_AVX2: cpu = f.avx2; break;
    case DC_ISA_AVX512: cpu = f.avx512; break;
    case DC_ISA_AVX512_BF16: cpu = f.avx512_bf16; break;
    case DC_ISA_AMX: cpu = f.amx_bf16; break;
  }
  return cpu && compiled(isa);
}

const KernelTable& table_of(dc_isa isa) {
  switch (isa) {
#if DC_HAVE_AMX
    case DC_ISA_AMX: return amx::table();
#endif
#if DC_HAVE_AVX512_BF16
    case DC_ISA_AVX512_BF16: return avx512_bf16::table();
#endif
#if DC_HAVE_AVX512
    case DC_ISA_AVX512: return avx512::table();
#endif
#if DC_HAVE_AVX2
    case DC_ISA_AVX2: return avx2::table();
#endif
    default: return portable::table();
  }
}

// Flops per second of `loop`, best of a few short runs (about 0.2 ms each).
double best_rate(double (*loop)(int64_t), int trials) {
  using Clock = std::chrono::steady_clock;
  constexpr int64_t kIterations = 40000;
  double best = 0;
  for (int i = 0; i < trials; ++i) {
    const Clock::time_point t0 = Clock::now();
    const double flops = loop(kIterations);
    const double s = std::chrono::duration<double>(Clock::now() - t0).count();
    if (s > 0 && flops / s > best) best = flops / s;
  }
  return best;
}

struct Detection {
  dc_isa isa = DC_ISA_PORTABLE;
  char info[320] = "";
};

Detection detect() {
  Detection d;
  for (dc_isa isa : {DC_ISA_AVX2, DC_ISA_AVX512})
    if (supported(isa)) d.isa = isa;
  const char* fp32 = dc_isa_name(d.isa);
  char bf16[200];
  std::snprintf(bf16, sizeof bf16, "widened to fp32 (%s)%s", fp32,
                cpu_features().avx512_bf16 && !compiled(DC_ISA_AVX512_BF16)
                    ? "; avx512_bf16 is not compiled into this build"
                    : "");
  if (supported(DC_ISA_AVX512_BF16)) {
    // Alternate the two loops so that a busy moment of the machine hurts both alike.
    double fma = 0, dot = 0;
    for (int round = 0; round < 5; ++round) {
      fma = std::max(fma, best_rate(table_of(DC_ISA_AVX512).fma_peak_loop, 1));
      dot = std::max(dot, best_rate(table_of(DC_ISA_AVX512_BF16).bf16_dot_peak_loop, 1));
    }
    const double gain = fma > 0 ? dot / fma : 0;
    if (gain >= kMinBf16Gain) {
      d.isa = DC_ISA_AVX512_BF16;
      std::snprintf(bf16, sizeof bf16, "vdpbf16ps (avx512_bf16), measured %.2fx the FMA rate", gain);
    } else {
      std::snprintf(bf16, sizeof bf16,
                    "widened to fp32 (avx512): vdpbf16ps measured %.2fx the FMA rate, below %.2fx",
                    gain, kMinBf16Gain);
    }
  }
  const CpuFeatures& f = cpu_features();
  const char* amx = "AMX: not on this CPU";
  if (supported(DC_ISA_AMX)) {
    d.isa = DC_ISA_AMX;
    std::snprintf(bf16, sizeof bf16, "AMX tiles (amx)");
    amx = "AMX: in use";
  } else if (f.amx_bf16) {
    amx = "AMX: not compiled into this build";
  } else if (*f.amx_refusal) {
    amx = f.amx_refusal;
  }
  std::snprintf(d.info, sizeof d.info, "fp32: %s%s; bf16: %s; %s", fp32,
                d.isa == DC_ISA_PORTABLE ? " (no SIMD)" : " FMA", bf16, amx);
  return d;
}

const Detection& detection() {
  static const Detection d = detect();
  return d;
}

dc_isa initial_isa() {
  if (const char* env = std::getenv("DITCACHE_ISA")) {
    for (dc_isa isa : kAllIsas)
      if (std::strcmp(env, dc_isa_name(isa)) == 0 && supported(isa)) return isa;
  }
  return detection().isa;
}

std::atomic<int>& active() {
  static std::atomic<int> isa{int(initial_isa())};
  return isa;
}

}  // namespace

const KernelTable& kernels() { return table_of(dc_isa(active().load(std::memory_order_relaxed))); }

}  // namespace dc::cpu

using namespace dc;

extern "C" {

dc_isa dc_cpu_isa_detected(void) { return cpu::detection().isa; }

dc_isa dc_cpu_isa(void) { return dc_isa(cpu::active().load(std::memory_order_relaxed)); }

dc_status dc_cpu_set_isa(dc_isa isa) {
  bool known = false;
  for (dc_isa k : cpu::kAllIsas) known = known || k == isa;
  if (!known) return fail(DC_ERR_INVALID_ARGUMENT, "unknown ISA %d", int(isa));
  if (!cpu::compiled(isa))
    return fail(DC_ERR_UNAVAILABLE, "ISA %s is not compiled into this build", dc_isa_name(isa));
  if (!cpu::supported(isa)) {
    if (isa == DC_ISA_AMX && *cpu_features().amx_refusal)
      return fail(DC_ERR_UNAVAILABLE, "AMX is unavailable: %s", cpu_features().amx_refusal);
    return fail(DC_ERR_UNAVAILABLE, "this CPU does not support %s", dc_isa_name(isa));
  }
  cpu::active().store(int(isa));
  return DC_OK;
}

const char* dc_isa_name(dc_isa isa) {
  switch (isa) {
    case DC_ISA_PORTABLE: return "portable";
    case DC_ISA_AVX2: return "avx2";
    case DC_ISA_AVX512: return "avx512";
    case DC_ISA_AVX512_BF16: return "avx512_bf16";
    case DC_ISA_AMX: return "amx";
  }
  return "unknown";
}

int dc_cpu_has_bf16(void) { return dc_cpu_isa() >= DC_ISA_AVX512_BF16; }

const char* dc_cpu_dispatch_info(void) { return cpu::detection().info; }

}
