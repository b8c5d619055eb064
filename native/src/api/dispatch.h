// Runs a validated op on the device its tensors live on.
#pragma once
#include "../core/status.h"
#include "../cpu/kernels.h"
#include "../cuda/backend.h"

namespace dc {

// `cpu_fn` is called with the active CPU kernel table; `cuda_fn` returns a status.
template <class CpuFn, class CudaFn>
dc_status run_on(dc_device device, CpuFn&& cpu_fn, CudaFn&& cuda_fn) {
  return guard([&]() -> dc_status {
    if (device == DC_DEVICE_CUDA) return cuda_fn();
    cpu_fn(cpu::kernels());
    return DC_OK;
  });
}

inline RowOperand row_operand(const dc_tensor* t) { return RowOperand{t->data(), rows_of(t), t->dtype}; }

}  // namespace dc
