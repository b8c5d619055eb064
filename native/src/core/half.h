// Scalar float16 / bfloat16 conversions (round to nearest even), for copies and conversions.
#pragma once
#include <cstdint>
#include <cstring>

namespace dc {

inline float bf16_to_float(uint16_t h) {
  uint32_t u = uint32_t(h) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffff) > 0x7f800000) return uint16_t((u >> 16) | 0x40);  // quiet NaN
  u += 0x7fff + ((u >> 16) & 1);
  return uint16_t(u >> 16);
}

inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h & 0x8000) << 16;
  uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff, u;
  if (exp == 0) {
    if (man == 0) {
      u = sign;
    } else {  // subnormal: normalise
      exp = 127 - 15 + 1;
      while (!(man & 0x400)) {
        man <<= 1;
        --exp;
      }
      u = sign | (exp << 23) | ((man & 0x3ff) << 13);
    }
  } else if (exp == 31) {
    u = sign | 0x7f800000 | (man << 13);
  } else {
    u = sign | ((exp + 127 - 15) << 23) | (man << 13);
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

inline uint16_t float_to_half(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  const uint16_t sign = uint16_t((u >> 16) & 0x8000);
  const uint32_t abs = u & 0x7fffffff;
  if (abs > 0x7f800000) return sign | 0x7e00;             // NaN
  if (abs >= 0x477ff000) return sign | 0x7c00;            // overflow to inf
  if (abs < 0x38800000) {                                 // subnormal or zero
    if (abs < 0x33000000) return sign;
    // value = man * 2^(e - 150); the half subnormal grid is 2^-24, so drop (126 - e) bits.
    const uint32_t man = (abs & 0x7fffff) | 0x800000;
    const int dropped = 126 - int(abs >> 23);
    const uint32_t kept = man >> dropped;
    const uint32_t rem = man & ((1u << dropped) - 1), halfway = 1u << (dropped - 1);
    return sign | uint16_t(kept + (rem > halfway || (rem == halfway && (kept & 1))));
  }
  uint32_t r = abs + 0xc8000fff + ((abs >> 13) & 1);  // rebias exponent and round to even
  return sign | uint16_t(r >> 13);
}

}  // namespace dc
