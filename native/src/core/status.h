// Error reporting inside the core: a status plus a thread-local message, and a guard that turns
// C++ exceptions into statuses before they reach the C ABI.
#pragma once
#include <new>
#include <stdexcept>

#include "ditcache.h"

namespace dc {

// Records `fmt` (printf-style) as the calling thread's last error and returns `status`.
dc_status fail(dc_status status, const char* fmt, ...) __attribute__((format(printf, 2, 3)));

// Thrown by internal helpers that cannot return a status (allocations deep in a kernel setup).
struct Failure : std::runtime_error {
  dc_status status;
  Failure(dc_status s, const char* msg) : std::runtime_error(msg), status(s) {}
};

template <class Fn>
dc_status guard(Fn&& fn) noexcept {
  try {
    return fn();
  } catch (const Failure& e) {
    return fail(e.status, "%s", e.what());
  } catch (const std::bad_alloc&) {
    return fail(DC_ERR_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    return fail(DC_ERR_INTERNAL, "internal error: %s", e.what());
  } catch (...) {
    return fail(DC_ERR_INTERNAL, "internal error");
  }
}

}  // namespace dc

#define DC_TRY(expr)                     \
  do {                                   \
    dc_status dc_try_status_ = (expr);   \
    if (dc_try_status_ != DC_OK) return dc_try_status_; \
  } while (0)
