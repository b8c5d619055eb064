// Entry points of each ISA's rowwise.cpp (impl/rowwise.h and impl/metrics.h), for that ISA's
// kernel table.
#pragma once
#include "../kernels.h"

namespace dc::cpu::DC_ISA_NS {

void norm_kernel(const NormArgs& a);
void elementwise_kernel(const ElementwiseArgs& a);
void rope_kernel(const RopeArgs& a);
void distance_kernel(const DistanceArgs& a, double* num, double* den);
void motion_kernel(const MotionArgs& a, double* num, double* den);

}  // namespace dc::cpu::DC_ISA_NS
