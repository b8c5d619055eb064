// NativeKvRing: the Ca2-VDM KV cache ring as a JavaScript object.
#include "addon_data.h"
#include "args.h"
#include "errors.h"
#include "op_call.h"
#include "ops.h"
#include "tensor_object.h"

namespace dcnode {

namespace {

class KvRingObject : public Napi::ObjectWrap<KvRingObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "NativeKvRing",
                       {
                           InstanceMethod<&KvRingObject::Append>("append"),
                           InstanceMethod<&KvRingObject::Clear>("clear"),
                           InstanceMethod<&KvRingObject::State>("state"),
                           InstanceMethod<&KvRingObject::Tensors>("tensors"),
                           InstanceMethod<&KvRingObject::Dispose>("dispose"),
                       });
  }

  // new NativeKvRing(dtype, device, batch, heads, capacity, headDim)
  explicit KvRingObject(const Napi::CallbackInfo& info) : ObjectWrap(info) {
    Napi::Env env = info.Env();
    auto size = [&](size_t i, const char* what) {
      return integer_arg(env, info[i], what, -kMaxSafeInteger, kMaxSafeInteger);
    };
    check(env, dc_kv_ring_create(dc_dtype(code_arg(env, info[0], "dtype")),
                                 dc_device(code_arg(env, info[1], "device")), size(2, "batch"),
                                 size(3, "heads"), size(4, "capacity"), size(5, "headDim"), &ring_));
  }

  ~KvRingObject() override { dc_kv_ring_release(ring_); }

 private:
  dc_kv_ring* live(Napi::Env env) {
    if (!ring_) throw_type(env, "kv ring was disposed");
    return ring_;
  }

  Napi::Value Append(const Napi::CallbackInfo& info) {
    dc_kv_ring* ring = live(info.Env());
    OpCall call(info);
    dc_tensor* k = call.tensor(info[0], "k");
    dc_tensor* v = call.tensor(info[1], "v");
    return call.run(info.Env().Undefined(), [=] { return dc_kv_ring_append(ring, k, v); });
  }

  Napi::Value Clear(const Napi::CallbackInfo& info) {
    check(info.Env(), dc_kv_ring_clear(live(info.Env())));
    return info.Env().Undefined();
  }

  Napi::Value State(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    dc_kv_ring_state s = dc_kv_ring_state_init();
    check(env, dc_kv_ring_state_get(live(env), &s));
    Napi::Object o = Napi::Object::New(env);
    o.Set("capacity", double(s.capacity));
    o.Set("length", double(s.length));
    o.Set("start", double(s.start));
    o.Set("evicted", double(s.evicted));
    o.Set("bytes", double(s.bytes));
    return o;
  }

  Napi::Value Tensors(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    dc_tensor *k = nullptr, *v = nullptr;
    check(env, dc_kv_ring_tensors(live(env), &k, &v));
    Napi::Array out = Napi::Array::New(env, 2);
    out.Set(0u, TensorObject::Wrap(env, k));
    out.Set(1u, TensorObject::Wrap(env, v));
    return out;
  }

  Napi::Value Dispose(const Napi::CallbackInfo& info) {
    dc_kv_ring_release(ring_);
    ring_ = nullptr;
    return info.Env().Undefined();
  }

  dc_kv_ring* ring_ = nullptr;
};

}  // namespace

void register_kv_ring(Napi::Env env, Napi::Object exports) {
  Napi::Function cls = KvRingObject::Define(env);
  addon_data(env).kv_ring_class = Napi::Persistent(cls);
  exports.Set("NativeKvRing", cls);
}

}  // namespace dcnode
