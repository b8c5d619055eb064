// NativeTensor: a JavaScript object owning one reference to a core tensor.
#pragma once
#include <napi.h>

#include "ditcache.h"

namespace dcnode {

class TensorObject : public Napi::ObjectWrap<TensorObject> {
 public:
  static Napi::Function Define(Napi::Env env);
  // Wraps a new reference (ownership of `t` moves to the object). `source` keeps caller memory
  // alive for tensors created without a copy.
  static Napi::Object Wrap(Napi::Env env, dc_tensor* t, Napi::Value source = Napi::Value());
  static bool Is(Napi::Env env, Napi::Value v);
  // The live handle of a NativeTensor argument; throws TypeError naming `what` otherwise.
  static TensorObject* FromValue(Napi::Env env, Napi::Value v, const char* what);

  explicit TensorObject(const Napi::CallbackInfo& info);
  ~TensorObject() override;

  dc_tensor* handle() const { return t_; }
  bool external() const { return !source_.IsEmpty(); }

 private:
  Napi::Value Shape(const Napi::CallbackInfo& info);
  Napi::Value Strides(const Napi::CallbackInfo& info);
  Napi::Value Dtype(const Napi::CallbackInfo& info);
  Napi::Value Device(const Napi::CallbackInfo& info);
  Napi::Value Packed(const Napi::CallbackInfo& info);
  Napi::Value Disposed(const Napi::CallbackInfo& info);
  Napi::Value StorageBytes(const Napi::CallbackInfo& info);
  Napi::Value Dispose(const Napi::CallbackInfo& info);
  Napi::Value View(const Napi::CallbackInfo& info);
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value ExportHandle(const Napi::CallbackInfo& info);
  Napi::Value HostBuffer(const Napi::CallbackInfo& info);

  void release();
  dc_tensor* live(Napi::Env env) const;
  void check_source(Napi::Env env, const char* what) const;

  dc_tensor* t_ = nullptr;
  Napi::Reference<Napi::Value> source_;
  void* source_data_ = nullptr;  // the typed array's memory when wrapped
  size_t source_bytes_ = 0;      // and its length then
  int64_t external_memory_ = 0;  // reported to V8 through AdjustExternalMemory
  napi_env env_ = nullptr;
};

// Module functions creating tensors: empty, zeros, fromTypedArray, adoptHandle.
void register_tensor_functions(Napi::Env env, Napi::Object exports);

// dtype of a typed array, or -1.
int typed_array_dtype(const Napi::TypedArray& a);
// The typed array's first byte (over an ArrayBuffer or a SharedArrayBuffer), or nullptr when its
// buffer is detached.
void* typed_array_data(const Napi::TypedArray& a);

}  // namespace dcnode
