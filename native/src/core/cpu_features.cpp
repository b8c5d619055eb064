#include "cpu_features.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "status.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define DC_X86 1
#endif

namespace dc {

namespace {

CpuFeatures detect() {
  CpuFeatures f;
#if DC_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), fma = c & (1u << 12), f16c = c & (1u << 29);
  if (!osxsave) return f;
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool ymm_os = (xcr0_lo & 0x6) == 0x6, zmm_os = (xcr0_lo & 0xe6) == 0xe6;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  f.avx2 = ymm_os && fma && f16c && (b & (1u << 5));
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
             avx512vl = b & (1u << 31);
  f.avx512 = f.avx2 && zmm_os && avx512f && avx512dq && avx512bw && avx512vl;
  if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) f.avx512_bf16 = f.avx512 && (a & (1u << 5));
#endif
  return f;
}

dc_isa best_isa() {
  const CpuFeatures& f = cpu_features();
  if (f.avx512 && isa_compiled(DC_ISA_AVX512)) return DC_ISA_AVX512;
  if (f.avx2 && isa_compiled(DC_ISA_AVX2)) return DC_ISA_AVX2;
  return DC_ISA_PORTABLE;
}

bool isa_supported(dc_isa isa) {
  const CpuFeatures& f = cpu_features();
  switch (isa) {
    case DC_ISA_PORTABLE: return true;
    case DC_ISA_AVX2: return f.avx2 && isa_compiled(isa);
    case DC_ISA_AVX512: return f.avx512 && isa_compiled(isa);
  }
  return false;
}

dc_isa initial_isa() {
  const char* env = std::getenv("DITCACHE_ISA");
  if (env) {
    for (dc_isa isa : {DC_ISA_PORTABLE, DC_ISA_AVX2, DC_ISA_AVX512}) {
      if (std::strcmp(env, dc_isa_name(isa)) == 0 && isa_supported(isa)) return isa;
    }
  }
  return best_isa();
}

std::atomic<int>& active() {
  static std::atomic<int> isa{int(initial_isa())};
  return isa;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

bool isa_compiled(dc_isa isa) {
  switch (isa) {
    case DC_ISA_PORTABLE: return true;
    case DC_ISA_AVX2:
#if DC_HAVE_AVX2
      return true;
#else
      return false;
#endif
    case DC_ISA_AVX512:
#if DC_HAVE_AVX512
      return true;
#else
      return false;
#endif
  }
  return false;
}

dc_isa detected_isa() { return best_isa(); }

dc_isa active_isa() { return dc_isa(active().load(std::memory_order_relaxed)); }

dc_status set_active_isa(dc_isa isa) {
  if (isa != DC_ISA_PORTABLE && isa != DC_ISA_AVX2 && isa != DC_ISA_AVX512)
    return fail(DC_ERR_INVALID_ARGUMENT, "unknown ISA %d", int(isa));
  if (!isa_compiled(isa))
    return fail(DC_ERR_UNAVAILABLE, "ISA %s is not compiled into this build", dc_isa_name(isa));
  if (!isa_supported(isa))
    return fail(DC_ERR_UNAVAILABLE, "this CPU does not support %s", dc_isa_name(isa));
  active().store(int(isa));
  return DC_OK;
}

}  // namespace dc

extern "C" {

dc_isa dc_cpu_isa_detected(void) { return dc::detected_isa(); }
dc_isa dc_cpu_isa(void) { return dc::active_isa(); }
dc_status dc_cpu_set_isa(dc_isa isa) { return dc::set_active_isa(isa); }

const char* dc_isa_name(dc_isa isa) {
  switch (isa) {
    case DC_ISA_PORTABLE: return "portable";
    case DC_ISA_AVX2: return "avx2";
    case DC_ISA_AVX512: return "avx512";
  }
  return "unknown";
}

int dc_cpu_has_bf16(void) {
  return dc::active_isa() == DC_ISA_AVX512 && dc::cpu_features().avx512_bf16;
}

}
