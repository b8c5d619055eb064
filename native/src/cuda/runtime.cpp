// Device discovery, the backend's stream and its caching allocator.
#include "runtime.h"

#include <dlfcn.h>

#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>

#include "../core/allocator.h"
#include "backend.h"

namespace dc::cuda {

namespace {

// Kernels are built for sm_80 and newer (mma.sync on bf16, cp.async).
constexpr int kMinComputeCapability = 80;

// Why cudaGetDeviceCount failed, in the user's terms.
std::string driver_problem(cudaError_t err) {
  if (err == cudaErrorInsufficientDriver) {
    void* driver = dlopen("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
    if (!driver) return "no CUDA driver is installed (libcuda.so.1 not found)";
    dlclose(driver);
    return "the CUDA driver is older than this build's CUDA runtime " +
           std::to_string(CUDART_VERSION / 1000) + "." + std::to_string(CUDART_VERSION % 1000 / 10) +
           ": update the driver";
  }
  if (err == cudaErrorNoDevice) return "no CUDA device found";
  return std::string("the CUDA runtime cannot start: ") + cudaGetErrorString(err);
}

struct Availability {
  dc_status status = DC_OK;
  std::string reason;
  int devices = 0;
};

const Availability& availability() {
  static const Availability state = [] {
    Availability a;
    cudaError_t err = cudaGetDeviceCount(&a.devices);
    if (err != cudaSuccess) {
      cudaGetLastError();
      a.devices = 0;
      a.status = DC_ERR_UNAVAILABLE;
      a.reason = driver_problem(err);
      return a;
    }
    if (a.devices == 0) {
      a.status = DC_ERR_UNAVAILABLE;
      a.reason = "no CUDA device found";
      return a;
    }
    int major = 0, minor = 0;
    cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, 0);
    cudaDeviceGetAttribute(&minor, cudaDevAttrComputeCapabilityMinor, 0);
    if (major * 10 + minor < kMinComputeCapability) {
      a.status = DC_ERR_UNAVAILABLE;
      a.reason = "CUDA device 0 has compute capability " + std::to_string(major) + "." +
                 std::to_string(minor) + "; this build's kernels need 8.0 or newer";
    }
    return a;
  }();
  return state;
}

void* raw_allocate(size_t bytes) {
  void* p = nullptr;
  if (cudaMalloc(&p, bytes) != cudaSuccess) {
    cudaGetLastError();  // an out-of-memory report must not surface as the next op's error
    return nullptr;
  }
  return p;
}

void raw_deallocate(void* p, size_t) { cudaFree(p); }

CachingAllocator& device_allocator() {
  // Leaked on purpose: device tensors released during process teardown must still find it.
  static CachingAllocator* instance = new CachingAllocator({raw_allocate, raw_deallocate});
  return *instance;
}

}  // namespace

dc_status check(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return DC_OK;
  cudaGetLastError();
  if (err == cudaErrorMemoryAllocation)
    return fail(DC_ERR_OUT_OF_MEMORY, "%s: CUDA device out of memory", what);
  return fail(DC_ERR_DEVICE, "%s: %s (%s)", what, cudaGetErrorString(err), cudaGetErrorName(err));
}

void require(cudaError_t err, const char* what) {
  if (err == cudaSuccess) return;
  cudaGetLastError();
  char msg[256];
  std::snprintf(msg, sizeof msg, "%s: %s", what, cudaGetErrorString(err));
  throw Failure(err == cudaErrorMemoryAllocation ? DC_ERR_OUT_OF_MEMORY : DC_ERR_DEVICE, msg);
}

cudaStream_t stream() {
  static cudaStream_t s = [] {
    cudaStream_t created = nullptr;
    require(cudaStreamCreateWithFlags(&created, cudaStreamNonBlocking), "creating the CUDA stream");
    return created;
  }();
  return s;
}

int sm_count() {
  static const int count = [] {
    int n = 0;
    if (cudaDeviceGetAttribute(&n, cudaDevAttrMultiProcessorCount, 0) != cudaSuccess) {
      cudaGetLastError();
      n = 1;
    }
    return n;
  }();
  return count;
}

DeviceBuffer::DeviceBuffer(size_t bytes) {
  p_ = device_allocator().allocate(bytes);
  if (!p_) {
    char msg[128];
    std::snprintf(msg, sizeof msg, "out of CUDA device memory allocating %zu bytes of scratch", bytes);
    throw Failure(DC_ERR_OUT_OF_MEMORY, msg);
  }
}

DeviceBuffer::~DeviceBuffer() { device_allocator().deallocate(p_); }

dc_status available() {
  const Availability& a = availability();
  if (a.status != DC_OK) return fail(a.status, "%s", a.reason.c_str());
  return DC_OK;
}

int device_count() { return availability().devices; }

dc_status device_info(int index, dc_backend_info* info) {
  DC_TRY(available());
  if (index < 0 || index >= device_count())
    return fail(DC_ERR_RANGE, "CUDA device index %d outside [0, %d)", index, device_count());
  cudaDeviceProp prop;
  DC_TRY(check(cudaGetDeviceProperties(&prop, index), "reading the CUDA device properties"));
  std::memset(info, 0, sizeof *info);
  info->device = DC_DEVICE_CUDA;
  info->index = index;
  std::snprintf(info->name, sizeof info->name, "%.127s", prop.name);
  info->memory_bytes = prop.totalGlobalMem;
  info->compute_capability = prop.major * 10 + prop.minor;
  return DC_OK;
}

void* allocate(size_t bytes) { return device_allocator().allocate(bytes); }
void deallocate(void* p) { device_allocator().deallocate(p); }
dc_memory_stats memory_stats() { return device_allocator().stats(); }

void memory_trim() {
  // Blocks still used by queued work must not be freed under it.
  cudaDeviceSynchronize();
  cudaGetLastError();
  device_allocator().trim();
}

dc_status synchronize() { return check(cudaStreamSynchronize(stream()), "synchronizing the CUDA stream"); }

}  // namespace dc::cuda
