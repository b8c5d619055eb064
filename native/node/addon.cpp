// The ditcache Node addon: a client of the C ABI. Each instance (main thread or worker) keeps its
// own class references in its instance data.
#include "addon_data.h"
#include "ops.h"
#include "tensor_object.h"

namespace dcnode {

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData(new AddonData());
  Napi::Function tensor_class = TensorObject::Define(env);
  addon_data(env).tensor_class = Napi::Persistent(tensor_class);
  exports.Set("NativeTensor", tensor_class);
  register_tensor_functions(env, exports);
  register_ops(env, exports);
  register_runtime(env, exports);
  register_kv_ring(env, exports);
  return exports;
}

}  // namespace dcnode

static Napi::Object InitAddon(Napi::Env env, Napi::Object exports) { return dcnode::Init(env, exports); }

NODE_API_MODULE(ditcache, InitAddon)
