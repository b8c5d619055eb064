// Size-bucketed caching allocator. Freed blocks go back to a free list of their size class, so a
// loop that allocates the same shapes every iteration reaches the system allocator only in its
// first iteration. One instance per device; the device supplies raw allocation functions.
#pragma once
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "ditcache.h"

namespace dc {

struct RawAllocator {
  void* (*allocate)(size_t bytes);  // returns nullptr on failure
  void (*deallocate)(void* ptr, size_t bytes);
};

class CachingAllocator {
 public:
  explicit CachingAllocator(RawAllocator raw) : raw_(raw) {}
  ~CachingAllocator();
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;

  // Returns nullptr when the system is out of memory (after trimming the cache once).
  void* allocate(size_t bytes);
  // Never throws: a block that cannot be cached is returned to the system.
  void deallocate(void* ptr);
  void trim();
  dc_memory_stats stats() const;

  // Size classes: 64-byte granules up to 4 KiB, then 8 classes per power of two.
  static size_t size_class(size_t bytes);

 private:
  RawAllocator raw_;
  mutable std::mutex mu_;
  std::unordered_map<size_t, std::vector<void*>> free_;  // class size -> free blocks
  std::unordered_map<void*, size_t> live_;               // block -> class size
  dc_memory_stats stats_{};
};

// The host allocator: 64-byte aligned; blocks of 2 MiB and more are 2 MiB aligned and advised
// for transparent huge pages.
CachingAllocator& host_allocator();

}  // namespace dc
