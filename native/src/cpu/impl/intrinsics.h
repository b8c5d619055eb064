// The x86 intrinsics for the ISA folder being compiled (nothing for the portable one).
#pragma once

#if defined(__AVX512F__) || defined(__AVX2__)
// GCC 12 reports the intrinsics' deliberately undefined pass-through operands as (maybe)
// uninitialised once they are inlined.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#endif
