// Per-instance addon state, so the addon loads in the main thread and in worker threads alike.
#pragma once
#include <napi.h>

namespace dcnode {

struct AddonData {
  Napi::FunctionReference tensor_class;
  Napi::FunctionReference kv_ring_class;
};

inline AddonData& addon_data(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace dcnode
