// The one place where devices are registered: allocation, availability and enumeration.
#include <cstdio>
#include <cstring>
#include <thread>

#include "../cuda/backend.h"
#include "abi_struct.h"
#include "allocator.h"
#include "device_memory.h"
#include "status.h"
#include "thread_pool.h"

#if defined(__linux__)
#include <unistd.h>
#endif

namespace dc {

void* device_allocate(dc_device device, size_t bytes) {
  void* p = device == DC_DEVICE_CUDA ? cuda::allocate(bytes) : host_allocator().allocate(bytes);
  if (!p) {
    char msg[160];
    std::snprintf(msg, sizeof msg, "out of %s memory allocating %zu bytes",
                  device == DC_DEVICE_CUDA ? "CUDA device" : "host", bytes);
    throw Failure(DC_ERR_OUT_OF_MEMORY, msg);
  }
  return p;
}

void device_free(dc_device device, void* p) {
  if (device == DC_DEVICE_CUDA)
    cuda::deallocate(p);
  else
    host_allocator().deallocate(p);
}

namespace {

void cpu_info(dc_backend_info* info) {
  std::memset(info, 0, sizeof *info);
  info->device = DC_DEVICE_CPU;
  std::snprintf(info->name, sizeof info->name, "CPU (%s, %d threads)", dc_isa_name(dc_cpu_isa()),
                num_threads());
#if defined(__linux__)
  info->memory_bytes = uint64_t(sysconf(_SC_PHYS_PAGES)) * uint64_t(sysconf(_SC_PAGESIZE));
#endif
}

}  // namespace

}  // namespace dc

using namespace dc;

extern "C" {

void dc_version(int* major, int* minor, int* patch) {
  if (major) *major = DC_VERSION_MAJOR;
  if (minor) *minor = DC_VERSION_MINOR;
  if (patch) *patch = DC_VERSION_PATCH;
}

const char* dc_version_string(void) { return "0.1.0"; }

const char* dc_build_info(void) {
  return "cpu"
#if DC_HAVE_CUDA
         "+cuda"
#endif
         " isa:portable"
#if DC_HAVE_AVX2
         ",avx2"
#endif
#if DC_HAVE_AVX512
         ",avx512"
#endif
#if DC_HAVE_AVX512_BF16
         ",avx512_bf16"
#endif
#if DC_HAVE_AMX
         ",amx"
#endif
      ;
}

// Every entry point below may be the first to touch the thread pool or the CUDA runtime (whose
// first use builds strings and may start threads), so each runs inside guard().
dc_status dc_device_available(dc_device device) {
  return guard([&]() -> dc_status {
    if (device == DC_DEVICE_CPU) return DC_OK;
    if (device == DC_DEVICE_CUDA) return cuda::available();
    return fail(DC_ERR_INVALID_ARGUMENT, "unknown device %d", int(device));
  });
}

dc_status dc_backend_count(int* count) {
  if (!count) return fail(DC_ERR_INVALID_ARGUMENT, "count is NULL");
  return guard([&] {
    *count = 1 + (cuda::available() == DC_OK ? cuda::device_count() : 0);
    return DC_OK;
  });
}

dc_status dc_backend_get(int i, dc_backend_info* info) {
  DC_TRY(check_record(info, "dc_backend_info", "info"));
  int count = 0;
  DC_TRY(dc_backend_count(&count));
  if (i < 0 || i >= count) return fail(DC_ERR_RANGE, "backend index %d outside [0, %d)", i, count);
  return guard([&] {
    dc_backend_info full;
    if (i > 0)
      DC_TRY(cuda::device_info(i - 1, &full));
    else
      cpu_info(&full);
    write_record(info, full);
    return DC_OK;
  });
}

dc_status dc_set_num_threads(int n) {
  if (n < 1 || n > kMaxThreads)
    return fail(DC_ERR_RANGE, "thread count must be in [1, %d], got %d", kMaxThreads, n);
  return guard([&] {
    set_num_threads(n);
    return DC_OK;
  });
}

int dc_get_num_threads(void) {
  // Without a pool (it could not even be allocated), ops run on the calling thread alone.
  int n = 1;
  guard([&] {
    n = num_threads();
    return DC_OK;
  });
  return n;
}

dc_status dc_memory_stats_get(dc_device device, dc_memory_stats* stats) {
  DC_TRY(check_record(stats, "dc_memory_stats", "stats"));
  if (device != DC_DEVICE_CPU) DC_TRY(dc_device_available(device));
  return guard([&] {
    write_record(stats, device == DC_DEVICE_CPU ? host_allocator().stats() : cuda::memory_stats());
    return DC_OK;
  });
}

dc_status dc_memory_trim(dc_device device) {
  if (device != DC_DEVICE_CPU) DC_TRY(dc_device_available(device));
  return guard([&] {
    if (device == DC_DEVICE_CPU)
      host_allocator().trim();
    else
      cuda::memory_trim();
    return DC_OK;
  });
}

}  // extern "C"
