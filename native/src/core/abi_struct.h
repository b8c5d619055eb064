// The versioned structs of the C ABI (ditcache.h, "versioned structs"): each starts with the
// caller's sizeof in `struct_size`. A struct grows only at its end, so every size it has had is a
// prefix of its current layout; PublishedSizes lists them, and a caller's struct is read or
// written only up to its own size.
#pragma once
#include <cstring>

#include "status.h"

namespace dc {

// Every size a released ditcache.h has given T, oldest first. A struct that grows gets a
// specialization keeping its older sizes (offsetof its first new field) ahead of sizeof(T).
template <class T>
struct PublishedSizes {
  static constexpr size_t sizes[] = {sizeof(T)};
};

// DC_OK when `size` is one of T's published sizes; otherwise the status and message the header
// documents, naming the struct (`type`) and the argument (`what`).
template <class T>
dc_status check_struct_size(size_t size, const char* type, const char* what) {
  size_t largest = 0;
  for (size_t known : PublishedSizes<T>::sizes) {
    if (size == known) return DC_OK;
    largest = known > largest ? known : largest;
  }
  if (size > largest)
    return fail(DC_ERR_UNAVAILABLE,
                "%s: %s.struct_size %zu is larger than any this library (ditcache %d.%d.%d) knows "
                "(%zu): the program was built against a newer ditcache.h",
                what, type, size, DC_VERSION_MAJOR, DC_VERSION_MINOR, DC_VERSION_PATCH, largest);
  return fail(DC_ERR_INVALID_ARGUMENT,
              "%s: %s.struct_size is %zu, not a size of %s (%zu here): initialise it with "
              "%s_init()",
              what, type, size, type, sizeof(T), type);
}

// A parameters struct the caller passes (NULL: every parameter at its default). Fields beyond the
// caller's size stay zero, their default.
template <class T>
dc_status read_params(const T* given, const char* type, const char* what, T* out) {
  *out = T{};
  out->struct_size = sizeof(T);
  if (!given) return DC_OK;
  DC_TRY(check_struct_size<T>(given->struct_size, type, what));
  std::memcpy(static_cast<void*>(out), given, given->struct_size);
  out->struct_size = sizeof(T);
  return DC_OK;
}

// A record the library fills: `dest` must be non-NULL with a published size.
template <class T>
dc_status check_record(const T* dest, const char* type, const char* what) {
  if (!dest) return fail(DC_ERR_INVALID_ARGUMENT, "%s is NULL", what);
  return check_struct_size<T>(dest->struct_size, type, what);
}

// Copies `value` into a record that passed check_record, up to the caller's size.
template <class T>
void write_record(T* dest, const T& value) {
  const size_t size = dest->struct_size;
  std::memcpy(static_cast<void*>(dest), &value, size);
  dest->struct_size = size;
}

}  // namespace dc
