#include "cpu_features.h"

#if defined(__x86_64__) || defined(_M_X64)
#include <cpuid.h>
#define DC_X86 1
#endif
#if DC_X86 && defined(__linux__)
#include <sys/syscall.h>
#include <unistd.h>
#endif

namespace dc {

namespace {

#if DC_X86
// Linux keeps the AMX tile data (8 KiB per thread) out of a process's signal frames until the
// process asks for it; one request covers every thread, present and future.
bool request_amx_tile_data(const char** refusal) {
#if defined(__linux__)
  constexpr long kArchReqXcompPerm = 0x1023, kXfeatureXtiledata = 18;
  if (syscall(SYS_arch_prctl, kArchReqXcompPerm, kXfeatureXtiledata) == 0) return true;
  *refusal = "the kernel refused AMX tile data (arch_prctl ARCH_REQ_XCOMP_PERM)";
  return false;
#else
  *refusal = "AMX tile data permission is only requested on Linux";
  return false;
#endif
}
#endif

CpuFeatures detect() {
  CpuFeatures f;
#if DC_X86
  unsigned a, b, c, d;
  if (!__get_cpuid(1, &a, &b, &c, &d)) return f;
  const bool osxsave = c & (1u << 27), fma = c & (1u << 12), f16c = c & (1u << 29);
  if (!osxsave) return f;
  unsigned xcr0_lo, xcr0_hi;
  __asm__("xgetbv" : "=a"(xcr0_lo), "=d"(xcr0_hi) : "c"(0));
  const bool ymm_os = (xcr0_lo & 0x6) == 0x6, zmm_os = (xcr0_lo & 0xe6) == 0xe6,
             tile_os = (xcr0_lo & 0x60000) == 0x60000;  // XTILECFG (17) and XTILEDATA (18)
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return f;
  f.avx2 = ymm_os && fma && f16c && (b & (1u << 5));
  const bool avx512f = b & (1u << 16), avx512dq = b & (1u << 17), avx512bw = b & (1u << 30),
             avx512vl = b & (1u << 31);
  f.avx512 = f.avx2 && zmm_os && avx512f && avx512dq && avx512bw && avx512vl;
  const bool amx_bf16 = d & (1u << 22), amx_tile = d & (1u << 24);
  unsigned a1, b1, c1, d1;
  if (__get_cpuid_count(7, 1, &a1, &b1, &c1, &d1)) f.avx512_bf16 = f.avx512 && (a1 & (1u << 5));
  if (f.avx512_bf16 && amx_bf16 && amx_tile) {
    if (!tile_os)
      f.amx_refusal = "the operating system does not enable the AMX tile state (XCR0)";
    else
      f.amx_bf16 = request_amx_tile_data(&f.amx_refusal);
  }
#endif
  return f;
}

}  // namespace

const CpuFeatures& cpu_features() {
  static const CpuFeatures f = detect();
  return f;
}

}  // namespace dc
