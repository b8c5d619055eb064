// Strided, converting copies between device buffers (the building block of dc_copy and of the
// staging the GEMM needs).
#pragma once
#include <cstdint>

#include "../core/status.h"

namespace dc::cuda {

// dst <- src over `shape` (nd <= DC_MAX_DIMS; strides in elements), converting dtypes, queued on
// the backend's stream.
dc_status copy_device(int nd, const int64_t* shape, void* dst, dc_dtype dst_dtype,
                      const int64_t* dst_strides, const void* src, dc_dtype src_dtype,
                      const int64_t* src_strides);

}  // namespace dc::cuda
