// Live-handle registries: how every handle type of the C ABI (dc_tensor, dc_kv_ring, and any
// new one) tells a handle it handed out from a released or foreign pointer without reading the
// memory behind it. A handle type adopts it with three calls:
//
//   HandleRegistry<dc_thing>& thing_handles() { static auto* r = new HandleRegistry<dc_thing>(); return *r; }
//   create:   thing_handles().add(p);                      (before handing p out; may throw)
//   check:    if (!thing_handles().live(p)) return fail(DC_ERR_INVALID_ARGUMENT, ...);
//   release:  thing_handles().retire(p);                   (instead of delete p)
//
// A pointer that is not live is reported without being dereferenced. Released objects are freed
// only after kQuarantine later releases of the same type, so the address of a released handle is
// not handed out again at once: a stale handle is reported as released until then. After that
// its address may name a new handle of the same type, as a freed pointer may (ditcache.h says so).
#pragma once
#include <cstddef>
#include <deque>
#include <mutex>
#include <shared_mutex>
#include <unordered_set>

namespace dc {

template <class T>
class HandleRegistry {
 public:
  static constexpr size_t kQuarantine = 4096;

  // Registers a new handle; throws std::bad_alloc (the caller still owns `h`).
  void add(T* h) {
    std::unique_lock<std::shared_mutex> lock(mu_);
    live_.insert(h);
  }

  bool live(const T* h) const {
    if (!h) return false;
    std::shared_lock<std::shared_mutex> lock(mu_);
    return live_.count(const_cast<T*>(h)) != 0;
  }

  // Unregisters `h` and frees it once kQuarantine later handles have been retired.
  void retire(T* h) {
    T* oldest = nullptr;
    {
      std::unique_lock<std::shared_mutex> lock(mu_);
      live_.erase(h);
      try {
        quarantine_.push_back(h);
      } catch (...) {
        oldest = h;  // no room to keep it: free it now
      }
      if (!oldest && quarantine_.size() > kQuarantine) {
        oldest = quarantine_.front();
        quarantine_.pop_front();
      }
    }
    delete oldest;
  }

 private:
  mutable std::shared_mutex mu_;
  std::unordered_set<T*> live_;
  std::deque<T*> quarantine_;
};

}  // namespace dc
