#include "allocator.h"

#include <cstdlib>
#include <new>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace dc {

namespace {

constexpr size_t kHugePage = size_t(2) << 20;

void* host_allocate(size_t bytes) {
  const size_t align = bytes >= kHugePage ? kHugePage : 64;
  void* p = nullptr;
  if (posix_memalign(&p, align, bytes) != 0) return nullptr;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes >= kHugePage) madvise(p, bytes, MADV_HUGEPAGE);
#endif
  return p;
}

void host_deallocate(void* p, size_t) { std::free(p); }

}  // namespace

CachingAllocator::~CachingAllocator() { trim(); }

size_t CachingAllocator::size_class(size_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes <= 4096) return (bytes + 63) & ~size_t(63);
  size_t pow2 = size_t(1) << (63 - __builtin_clzll(bytes - 1) + 1);  // next power of two >= bytes
  size_t step = pow2 / 16;                                            // 8 classes in (pow2/2, pow2]
  return (bytes + step - 1) / step * step;
}

void* CachingAllocator::allocate(size_t bytes) {
  const size_t cls = size_class(bytes);
  std::lock_guard<std::mutex> lock(mu_);
  stats_.allocations++;
  auto it = free_.find(cls);
  void* p = nullptr;
  if (it != free_.end() && !it->second.empty()) {
    p = it->second.back();
    it->second.pop_back();
    stats_.bytes_cached -= cls;
    stats_.cache_hits++;
  } else {
    p = raw_.allocate(cls);
    if (!p) {
      // Give the cached blocks back and try once more before reporting failure.
      for (auto& [size, blocks] : free_) {
        for (void* b : blocks) raw_.deallocate(b, size);
        blocks.clear();
      }
      stats_.bytes_cached = 0;
      p = raw_.allocate(cls);
      if (!p) return nullptr;
    }
    stats_.system_allocations++;
  }
  try {
    live_.emplace(p, cls);
  } catch (const std::bad_alloc&) {
    raw_.deallocate(p, cls);  // no room to track the block: it goes back, the request fails
    return nullptr;
  }
  stats_.bytes_in_use += cls;
  if (stats_.bytes_in_use > stats_.peak_bytes_in_use) stats_.peak_bytes_in_use = stats_.bytes_in_use;
  return p;
}

void CachingAllocator::deallocate(void* p) {
  if (!p) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(p);
  if (it == live_.end()) return;  // not ours: never happens through the tensor API
  const size_t cls = it->second;
  live_.erase(it);
  stats_.bytes_in_use -= cls;
  try {
    free_[cls].push_back(p);
    stats_.bytes_cached += cls;
  } catch (const std::bad_alloc&) {
    raw_.deallocate(p, cls);  // no room in the free list: the block goes back to the system
  }
}

void CachingAllocator::trim() {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& [size, blocks] : free_) {
    for (void* b : blocks) raw_.deallocate(b, size);
  }
  free_.clear();
  stats_.bytes_cached = 0;
}

dc_memory_stats CachingAllocator::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

CachingAllocator& host_allocator() {
  // Leaked on purpose: tensors released during process teardown must still find it.
  static CachingAllocator* instance = new CachingAllocator({host_allocate, host_deallocate});
  return *instance;
}

}  // namespace dc
