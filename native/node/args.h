// Numbers from JavaScript, checked before they become C values: a double outside the range of the
// C type it is cast to is undefined behaviour, so every conversion goes through these helpers.
// Errors carry a `code` like the core's (see errors.h).
#pragma once
#include <napi.h>

#include <cstdint>

namespace dcnode {

// Largest integer a double holds exactly; the default bound of integer arguments.
constexpr int64_t kMaxSafeInteger = (int64_t(1) << 53) - 1;

// A finite, non-NaN number (TypeError otherwise); `fallback` when undefined or null.
double number_arg(Napi::Env env, Napi::Value v, const char* what, double fallback);
// A number that fits a float32 (non-finite values pass; finite ones beyond FLT_MAX do not).
float float_arg(Napi::Env env, Napi::Value v, const char* what, float fallback);
// An integer in [lo, hi] (bounds within ±2^53): TypeError for a non-integer, RangeError outside.
int64_t integer_arg(Napi::Env env, Napi::Value v, const char* what, int64_t lo, int64_t hi);
int64_t integer_arg(Napi::Env env, Napi::Value v, const char* what, int64_t lo, int64_t hi,
                    int64_t fallback);
// An int-sized code (dtype, device, activation, ...): any int, left for the core to check.
int code_arg(Napi::Env env, Napi::Value v, const char* what);
int code_arg(Napi::Env env, Napi::Value v, const char* what, int fallback);

}  // namespace dcnode
