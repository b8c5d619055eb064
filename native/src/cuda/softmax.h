// Row softmax launcher (softmax.cu), called by the elementwise dispatch.
#pragma once
#include "../core/op_args.h"

namespace dc::cuda {

dc_status softmax_rows(const ElementwiseArgs& a);

}  // namespace dc::cuda
