// Core statuses as JavaScript errors: argument and dtype problems are TypeErrors, shape and range
// problems RangeErrors, the rest Errors; each carries the core's message and a `code`.
#pragma once
#include <napi.h>

#include "ditcache.h"

namespace dcnode {

Napi::Error status_error(Napi::Env env, dc_status status, const char* message);

// Throws the calling thread's last core error when `status` is not DC_OK.
inline void check(Napi::Env env, dc_status status) {
  if (status != DC_OK) throw status_error(env, status, dc_last_error());
}

[[noreturn]] inline void throw_type(Napi::Env env, const std::string& msg) {
  throw Napi::TypeError::New(env, msg);
}

[[noreturn]] inline void throw_range(Napi::Env env, const std::string& msg) {
  throw Napi::RangeError::New(env, msg);
}

}  // namespace dcnode
