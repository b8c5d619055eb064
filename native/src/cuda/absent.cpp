// The CUDA backend of a build without CUDA: every entry point explains why it cannot run.
#include "backend.h"
#include "../core/status.h"

namespace dc::cuda {

namespace {
dc_status absent() { return fail(DC_ERR_UNAVAILABLE, "CUDA not available in this build"); }
}  // namespace

dc_status available() { return absent(); }
int device_count() { return 0; }
dc_status device_info(int, dc_backend_info*) { return absent(); }
void* allocate(size_t) { return nullptr; }
void deallocate(void*) {}
dc_memory_stats memory_stats() { return {}; }
void memory_trim() {}
dc_status copy(const dc_tensor*, const dc_tensor*) { return absent(); }
dc_status fill(const dc_tensor*, double) { return absent(); }
dc_status synchronize() { return absent(); }
dc_status gemm(const GemmArgs&) { return absent(); }
dc_status attention(const AttentionArgs&) { return absent(); }
dc_status norm(const NormArgs&) { return absent(); }
dc_status elementwise(const ElementwiseArgs&) { return absent(); }
dc_status rope(const RopeArgs&) { return absent(); }
dc_status patchify(const PatchArgs&) { return absent(); }
dc_status unpatchify(const PatchArgs&) { return absent(); }
dc_status distance(const DistanceArgs&, double*, double*) { return absent(); }
dc_status motion(const MotionArgs&, double*, double*) { return absent(); }

}  // namespace dc::cuda
