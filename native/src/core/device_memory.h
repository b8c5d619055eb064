// Allocation on either device through that device's caching allocator.
#pragma once
#include <cstddef>

#include "ditcache.h"

namespace dc {

void* device_allocate(dc_device device, size_t bytes);  // throws Failure
void device_free(dc_device device, void* p);

}  // namespace dc
