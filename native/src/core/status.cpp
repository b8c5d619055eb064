#include "status.h"

#include <cstdarg>
#include <cstdio>

namespace {
thread_local char g_last_error[1024] = "";
}

namespace dc {

dc_status fail(dc_status status, const char* fmt, ...) {
  va_list args;
  va_start(args, fmt);
  std::vsnprintf(g_last_error, sizeof g_last_error, fmt, args);
  va_end(args);
  return status;
}

}  // namespace dc

extern "C" const char* dc_last_error(void) { return g_last_error; }

extern "C" const char* dc_status_name(dc_status status) {
  switch (status) {
    case DC_OK: return "ok";
    case DC_ERR_INVALID_ARGUMENT: return "invalid argument";
    case DC_ERR_DTYPE: return "dtype error";
    case DC_ERR_SHAPE: return "shape error";
    case DC_ERR_RANGE: return "out of range";
    case DC_ERR_OUT_OF_MEMORY: return "out of memory";
    case DC_ERR_UNAVAILABLE: return "unavailable";
    case DC_ERR_DEVICE: return "device error";
    case DC_ERR_INTERNAL: return "internal error";
  }
  return "unknown status";
}
