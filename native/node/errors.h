// Core statuses as JavaScript errors: argument and dtype problems are TypeErrors, shape and range
// problems RangeErrors, the rest Errors; each carries the core's message and a `code`. Errors the
// binding raises itself carry the code of the status the core would give for the same mistake.
#pragma once
#include <napi.h>

#include <string>

#include "ditcache.h"

namespace dcnode {

Napi::Error status_error(Napi::Env env, dc_status status, const char* message);

// Throws the calling thread's last core error when `status` is not DC_OK.
inline void check(Napi::Env env, dc_status status) {
  if (status != DC_OK) throw status_error(env, status, dc_last_error());
}

[[noreturn]] inline void throw_status(Napi::Env env, dc_status status, const std::string& msg) {
  throw status_error(env, status, msg.c_str());
}

// TypeError, code DC_ERR_INVALID_ARGUMENT (or `status`: DC_ERR_DTYPE).
[[noreturn]] inline void throw_type(Napi::Env env, const std::string& msg,
                                    dc_status status = DC_ERR_INVALID_ARGUMENT) {
  throw_status(env, status, msg);
}

// RangeError, code DC_ERR_RANGE (or `status`: DC_ERR_SHAPE).
[[noreturn]] inline void throw_range(Napi::Env env, const std::string& msg,
                                     dc_status status = DC_ERR_RANGE) {
  throw_status(env, status, msg);
}

}  // namespace dcnode
