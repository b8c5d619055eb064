// The CUDA runtime state every op shares: the backend's one stream, error translation, and
// scratch memory from the device's caching allocator. Ops run on device 0; all of them are queued
// on one stream, so a scratch block returned to the cache can be handed to the next op at once
// (stream order keeps the two from overlapping).
#pragma once
#include <cuda_runtime.h>

#include <cstddef>

#include "../core/status.h"

namespace dc::cuda {

// The stream every op and copy is queued on (created on first use, never destroyed).
cudaStream_t stream();

// DC_OK, or DC_ERR_DEVICE naming `what` and the runtime's message.
dc_status check(cudaError_t err, const char* what);
// Reports a failed kernel launch (bad configuration, no kernel image for this device).
inline dc_status check_launch(const char* what) { return check(cudaGetLastError(), what); }

// Throws Failure when `err` is not cudaSuccess (for helpers that cannot return a status).
void require(cudaError_t err, const char* what);

// Multiprocessors of device 0 (grid sizing).
int sm_count();

// Device memory from the caching allocator, returned to it on destruction. Throws Failure when
// the device is out of memory.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(size_t bytes);
  ~DeviceBuffer();
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  void* get() const { return p_; }
  template <class T>
  T* as() const { return static_cast<T*>(p_); }

 private:
  void* p_ = nullptr;
};

}  // namespace dc::cuda
