// The CUDA backend as the core sees it. Built from the .cu sources when CMake finds nvcc, else from
// absent.cpp, whose every function reports that this build has no CUDA.
#pragma once
#include <cstddef>

#include "../core/op_args.h"

namespace dc::cuda {

dc_status available();  // DC_OK when a device can run ops; else the reason
int device_count();
dc_status device_info(int index, dc_backend_info* info);

void* allocate(size_t bytes);  // nullptr on failure
void deallocate(void* p);
dc_memory_stats memory_stats();
void memory_trim();

// Copies between tensors where at least one side is on the device (dtype conversion included).
dc_status copy(const dc_tensor* dst, const dc_tensor* src);
dc_status fill(const dc_tensor* t, double value);
dc_status synchronize();

dc_status gemm(const GemmArgs& a);
dc_status attention(const AttentionArgs& a);
dc_status norm(const NormArgs& a);
dc_status elementwise(const ElementwiseArgs& a);
dc_status rope(const RopeArgs& a);
dc_status patchify(const PatchArgs& a);
dc_status unpatchify(const PatchArgs& a);
dc_status distance(const DistanceArgs& a, double* num, double* den);
dc_status motion(const MotionArgs& a, double* num, double* den);

}  // namespace dc::cuda
