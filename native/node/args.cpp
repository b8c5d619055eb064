#include "args.h"

#include <cfloat>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "errors.h"

namespace dcnode {

namespace {

bool absent(Napi::Value v) { return v.IsUndefined() || v.IsNull(); }

// The shortest decimal that reads back as `d`, as JavaScript prints it.
std::string show(double d) {
  char buf[32];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof buf, "%.*g", precision, d);
    if (std::strtod(buf, nullptr) == d) break;
  }
  return buf;
}

}  // namespace

double number_arg(Napi::Env env, Napi::Value v, const char* what, double fallback) {
  if (absent(v)) return fallback;
  if (!v.IsNumber()) throw_type(env, std::string(what) + " must be a number");
  const double d = v.As<Napi::Number>().DoubleValue();
  if (std::isnan(d)) throw_type(env, std::string(what) + " is NaN");
  return d;
}

float float_arg(Napi::Env env, Napi::Value v, const char* what, float fallback) {
  const double d = number_arg(env, v, what, fallback);
  if (std::isfinite(d) && std::fabs(d) > double(FLT_MAX))
    throw_range(env, std::string(what) + " = " + show(d) + " is outside the float32 range");
  return float(d);
}

int64_t integer_arg(Napi::Env env, Napi::Value v, const char* what, int64_t lo, int64_t hi) {
  if (absent(v)) throw_type(env, std::string(what) + " must be an integer");
  return integer_arg(env, v, what, lo, hi, 0);
}

int64_t integer_arg(Napi::Env env, Napi::Value v, const char* what, int64_t lo, int64_t hi,
                    int64_t fallback) {
  if (absent(v)) return fallback;
  const double d = number_arg(env, v, what, 0);
  if (!std::isfinite(d) || d != std::trunc(d))
    throw_type(env, std::string(what) + " must be an integer, got " + show(d));
  // Compared as doubles, exact for bounds within ±2^53 (all callers' bounds are).
  if (d < double(lo) || d > double(hi))
    throw_range(env, std::string(what) + " = " + show(d) + " is outside [" + std::to_string(lo) +
                         ", " + std::to_string(hi) + "]");
  return int64_t(d);
}

int code_arg(Napi::Env env, Napi::Value v, const char* what) {
  return int(integer_arg(env, v, what, INT_MIN, INT_MAX));
}

int code_arg(Napi::Env env, Napi::Value v, const char* what, int fallback) {
  return int(integer_arg(env, v, what, INT_MIN, INT_MAX, fallback));
}

}  // namespace dcnode
