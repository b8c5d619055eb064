#include "op_call.h"

#include <chrono>

#include "args.h"
#include "errors.h"
#include "tensor_object.h"

namespace dcnode {

namespace {

class OpWorker : public Napi::AsyncWorker {
 public:
  OpWorker(Napi::Env env, std::vector<dc_tensor*> handles, std::vector<Napi::ObjectReference> objects,
           OpCall::Body body, OpCall::Result result)
      : Napi::AsyncWorker(env, "ditcache.op"),
        deferred_(Napi::Promise::Deferred::New(env)),
        handles_(std::move(handles)),
        objects_(std::move(objects)),
        body_(std::move(body)),
        result_(std::move(result)) {}

  ~OpWorker() override {
    for (dc_tensor* t : handles_) dc_tensor_release(t);
  }

  Napi::Promise promise() { return deferred_.Promise(); }

  void Execute() override {
    status_ = body_();
    if (status_ != DC_OK) message_ = dc_last_error();
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (status_ != DC_OK) {
      deferred_.Reject(status_error(env, status_, message_.c_str()).Value());
      return;
    }
    deferred_.Resolve(result_ ? result_(env) : env.Undefined());
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

 private:
  Napi::Promise::Deferred deferred_;
  std::vector<dc_tensor*> handles_;
  std::vector<Napi::ObjectReference> objects_;
  OpCall::Body body_;
  OpCall::Result result_;
  dc_status status_ = DC_OK;
  std::string message_;
};

}  // namespace

OpCall::~OpCall() {
  for (dc_tensor* t : handles_) dc_tensor_release(t);
}

dc_tensor* OpCall::tensor(Napi::Value v, const char* what) {
  TensorObject* obj = TensorObject::FromValue(env_, v, what);
  if (obj->external() && !over_caller_memory_) over_caller_memory_ = what;
  dc_tensor* t = obj->handle();
  check(env_, dc_tensor_retain(t));
  handles_.push_back(t);
  objects_.push_back(v.As<Napi::Object>());
  return t;
}

dc_tensor* OpCall::optional_tensor(Napi::Value v, const char* what) {
  if (v.IsUndefined() || v.IsNull()) return nullptr;
  return tensor(v, what);
}

bool OpCall::flag(Napi::Value v) { return !v.IsUndefined() && v.ToBoolean(); }

Napi::Value OpCall::run(Napi::Value mode, Body body, Result result) {
  if (mode.IsObject()) {
    const int64_t repeat = integer_arg(env_, mode.As<Napi::Object>().Get("repeat"), "repeat", 1, 1000000, 1);
    Napi::Float64Array times = Napi::Float64Array::New(env_, size_t(repeat));
    for (size_t i = 0; i < times.ElementLength(); ++i) {
      const auto t0 = std::chrono::steady_clock::now();
      check(env_, body());
      times[i] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    return times;
  }
  if (!flag(mode)) {
    const dc_status st = body();
    check(env_, st);
    return result ? result(env_) : env_.Undefined();
  }
  // A worker thread cannot hold caller memory in place: the caller's ArrayBuffer can be
  // transferred, detached or shrunk on the event loop while the op reads or writes it, and nothing
  // in Node-API pins it. Copying it here would silently end the tensor's sharing with its array.
  if (over_caller_memory_)
    throw_type(env_, std::string(over_caller_memory_) +
                         ": a tensor over caller memory (tensor() without copy) cannot be used by an "
                         "async op, which runs on a worker thread while the ArrayBuffer can be "
                         "detached or resized; make it with { copy: true } or clone() it");
  std::vector<Napi::ObjectReference> refs;
  refs.reserve(objects_.size());
  for (const Napi::Object& o : objects_) refs.push_back(Napi::Persistent(o));
  auto* worker = new OpWorker(env_, std::move(handles_), std::move(refs), std::move(body), std::move(result));
  handles_.clear();
  Napi::Promise p = worker->promise();
  worker->Queue();
  return p;
}

}  // namespace dcnode
