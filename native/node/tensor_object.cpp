#include "tensor_object.h"

#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "addon_data.h"
#include "args.h"
#include "errors.h"

namespace dcnode {

namespace {

constexpr int64_t kReportExternalFrom = 64 << 10;

// Handles exported for another thread with the number of exports not yet adopted: each export
// holds one reference that one adoption takes over.
std::mutex g_exported_mu;
std::unordered_map<dc_tensor*, int> g_exported;

std::vector<int64_t> int_array(Napi::Env env, Napi::Value v, const char* what) {
  if (!v.IsArray()) throw_type(env, std::string(what) + " must be an array of integers");
  Napi::Array a = v.As<Napi::Array>();
  if (a.Length() > DC_MAX_DIMS)
    throw_range(env, std::string(what) + " has more than " + std::to_string(DC_MAX_DIMS) + " entries", DC_ERR_SHAPE);
  std::vector<int64_t> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const std::string name = std::string(what) + "[" + std::to_string(i) + "]";
    out[i] = integer_arg(env, a.Get(i), name.c_str(), -kMaxSafeInteger, kMaxSafeInteger);
  }
  return out;
}

int64_t storage_bytes(dc_tensor* t) {
  size_t b = 0;
  dc_tensor_storage_bytes(t, &b);
  return int64_t(b);
}

Napi::Value Empty(const Napi::CallbackInfo& info, bool zeros) {
  Napi::Env env = info.Env();
  const int dtype = code_arg(env, info[0], "dtype");
  const int device = code_arg(env, info[1], "device");
  const std::vector<int64_t> shape = int_array(env, info[2], "shape");
  dc_tensor* t = nullptr;
  check(env, (zeros ? dc_tensor_zeros : dc_tensor_empty)(dc_dtype(dtype), dc_device(device),
                                                         int(shape.size()), shape.data(), &t));
  return TensorObject::Wrap(env, t);
}

// fromTypedArray(data, dtype, shape, copy): zero-copy when allowed and aligned, else a copy.
Napi::Value FromTypedArray(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsTypedArray()) throw_type(env, "data must be a typed array");
  Napi::TypedArray data = info[0].As<Napi::TypedArray>();
  const int dtype = code_arg(env, info[1], "dtype");
  const std::vector<int64_t> shape = int_array(env, info[2], "shape");
  const bool copy = info[3].ToBoolean();
  const int data_dtype = typed_array_dtype(data);
  if (data_dtype < 0)
    throw_type(env, "data must be a Float32Array, Uint16Array, Int32Array, BigInt64Array or Uint8Array", DC_ERR_DTYPE);
  const bool same_kind = data_dtype == dtype || (data_dtype == DC_BF16 && dtype == DC_F16);
  if (!same_kind) throw_type(env, "data's typed array does not hold the requested dtype", DC_ERR_DTYPE);
  void* ptr = typed_array_data(data);
  const size_t bytes = data.ByteLength();
  const size_t es = dc_dtype_size(dc_dtype(dtype));
  if (!copy && reinterpret_cast<uintptr_t>(ptr) % es == 0) {
    dc_tensor* t = nullptr;
    check(env, dc_tensor_wrap(dc_dtype(dtype), int(shape.size()), shape.data(), nullptr, ptr, bytes,
                              nullptr, nullptr, &t));
    return TensorObject::Wrap(env, t, data);
  }
  dc_tensor* t = nullptr;
  check(env, dc_tensor_empty(dc_dtype(dtype), DC_DEVICE_CPU, int(shape.size()), shape.data(), &t));
  const dc_status st = dc_tensor_write(t, ptr, dc_dtype(dtype), bytes / es);
  if (st != DC_OK) {
    Napi::Error err = status_error(env, st, dc_last_error());
    dc_tensor_release(t);
    throw err;
  }
  return TensorObject::Wrap(env, t);
}

Napi::Value AdoptHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBigInt()) throw_type(env, "handle must be a bigint from exportHandle()");
  bool lossless = false;
  dc_tensor* t = reinterpret_cast<dc_tensor*>(uintptr_t(info[0].As<Napi::BigInt>().Uint64Value(&lossless)));
  {
    std::lock_guard<std::mutex> lock(g_exported_mu);
    auto it = lossless ? g_exported.find(t) : g_exported.end();
    if (it == g_exported.end()) throw_type(env, "handle is not an exported tensor, or was adopted already");
    if (--it->second == 0) g_exported.erase(it);
  }
  return TensorObject::Wrap(env, t);
}

}  // namespace

// Asked of the typed array itself, which answers for a SharedArrayBuffer too (napi's ArrayBuffer
// accessors refuse one); a detached buffer has no data and no length.
void* typed_array_data(const Napi::TypedArray& a) {
  void* data = nullptr;
  if (napi_get_typedarray_info(a.Env(), a, nullptr, nullptr, &data, nullptr, nullptr) != napi_ok) return nullptr;
  return data;
}

int typed_array_dtype(const Napi::TypedArray& a) {
  switch (a.TypedArrayType()) {
    case napi_float32_array: return DC_F32;
    case napi_uint16_array: return DC_BF16;
    case napi_int32_array: return DC_I32;
    case napi_bigint64_array: return DC_I64;
    case napi_uint8_array: return DC_U8;
    default: return -1;
  }
}

Napi::Function TensorObject::Define(Napi::Env env) {
  return DefineClass(env, "NativeTensor",
                     {
                         InstanceAccessor<&TensorObject::Shape>("shape"),
                         InstanceAccessor<&TensorObject::Strides>("strides"),
                         InstanceAccessor<&TensorObject::Dtype>("dtype"),
                         InstanceAccessor<&TensorObject::Device>("device"),
                         InstanceAccessor<&TensorObject::Packed>("packed"),
                         InstanceAccessor<&TensorObject::Disposed>("disposed"),
                         InstanceAccessor<&TensorObject::StorageBytes>("storageBytes"),
                         InstanceMethod<&TensorObject::Dispose>("dispose"),
                         InstanceMethod<&TensorObject::View>("view"),
                         InstanceMethod<&TensorObject::Read>("read"),
                         InstanceMethod<&TensorObject::Write>("write"),
                         InstanceMethod<&TensorObject::ExportHandle>("exportHandle"),
                         InstanceMethod<&TensorObject::HostBuffer>("hostBuffer"),
                     });
}

Napi::Object TensorObject::Wrap(Napi::Env env, dc_tensor* t, Napi::Value source) {
  Napi::Object obj = addon_data(env).tensor_class.New({Napi::External<dc_tensor>::New(env, t)});
  TensorObject* self = ObjectWrap<TensorObject>::Unwrap(obj);
  if (!source.IsEmpty()) {
    self->source_ = Napi::Persistent(source);
    self->source_data_ = typed_array_data(source.As<Napi::TypedArray>());
    self->source_bytes_ = source.As<Napi::TypedArray>().ByteLength();
  } else {
    const int64_t bytes = storage_bytes(t);
    if (bytes >= kReportExternalFrom) {
      self->external_memory_ = bytes;
      Napi::MemoryManagement::AdjustExternalMemory(env, bytes);
    }
  }
  return obj;
}

bool TensorObject::Is(Napi::Env env, Napi::Value v) {
  return v.IsObject() && v.As<Napi::Object>().InstanceOf(addon_data(env).tensor_class.Value());
}

TensorObject* TensorObject::FromValue(Napi::Env env, Napi::Value v, const char* what) {
  if (!Is(env, v)) throw_type(env, std::string(what) + " must be a Tensor");
  TensorObject* t = ObjectWrap<TensorObject>::Unwrap(v.As<Napi::Object>());
  if (!t->t_) throw_type(env, std::string(what) + ": tensor was disposed");
  t->check_source(env, what);
  return t;
}

TensorObject::TensorObject(const Napi::CallbackInfo& info) : ObjectWrap(info), env_(info.Env()) {
  if (info.Length() != 1 || !info[0].IsExternal())
    throw_type(info.Env(), "NativeTensor cannot be constructed directly; use tensor() or empty()");
  t_ = info[0].As<Napi::External<dc_tensor>>().Data();
}

TensorObject::~TensorObject() { release(); }

void TensorObject::release() {
  if (t_) {
    dc_tensor_release(t_);
    t_ = nullptr;
  }
  if (external_memory_) {
    Napi::MemoryManagement::AdjustExternalMemory(env_, -external_memory_);
    external_memory_ = 0;
  }
  // source_ (caller memory under a zero-copy tensor) stays referenced until this object is
  // collected: an async op that still holds the native tensor also holds this object.
}

dc_tensor* TensorObject::live(Napi::Env env) const {
  if (!t_) throw_type(env, "tensor was disposed");
  check_source(env, "tensor");
  return t_;
}

// Caller memory can be taken away under a zero-copy tensor: a transferred or detached ArrayBuffer
// belongs to someone else, and a resizable one shrunk (which detaches nothing and keeps its
// address) no longer holds the tensor's bytes. The tensor then refuses every use; a buffer grown
// back, or grown past them, serves again.
void TensorObject::check_source(Napi::Env env, const char* what) const {
  if (source_.IsEmpty()) return;
  Napi::TypedArray source = source_.Value().As<Napi::TypedArray>();
  if (typed_array_data(source) != source_data_ || source.ByteLength() < source_bytes_)
    throw_type(env, std::string(what) +
                        ": the ArrayBuffer under this tensor was detached or transferred, or shrunk "
                        "below its data; the tensor shares its memory and can no longer be used");
}

Napi::Value TensorObject::Shape(const Napi::CallbackInfo& info) {
  dc_tensor_desc d = dc_tensor_desc_init();
  check(info.Env(), dc_tensor_describe(live(info.Env()), &d));
  Napi::Array a = Napi::Array::New(info.Env(), d.ndim);
  for (int i = 0; i < d.ndim; ++i) a.Set(uint32_t(i), Napi::Number::New(info.Env(), double(d.shape[i])));
  return a;
}

Napi::Value TensorObject::Strides(const Napi::CallbackInfo& info) {
  dc_tensor_desc d = dc_tensor_desc_init();
  check(info.Env(), dc_tensor_describe(live(info.Env()), &d));
  Napi::Array a = Napi::Array::New(info.Env(), d.ndim);
  for (int i = 0; i < d.ndim; ++i) a.Set(uint32_t(i), Napi::Number::New(info.Env(), double(d.strides[i])));
  return a;
}

Napi::Value TensorObject::Dtype(const Napi::CallbackInfo& info) {
  dc_tensor_desc d = dc_tensor_desc_init();
  check(info.Env(), dc_tensor_describe(live(info.Env()), &d));
  return Napi::Number::New(info.Env(), d.dtype);
}

Napi::Value TensorObject::Packed(const Napi::CallbackInfo& info) {
  dc_tensor_desc d = dc_tensor_desc_init();
  check(info.Env(), dc_tensor_describe(live(info.Env()), &d));
  return Napi::Boolean::New(info.Env(), d.packed != 0);
}

Napi::Value TensorObject::Device(const Napi::CallbackInfo& info) {
  dc_tensor_desc d = dc_tensor_desc_init();
  check(info.Env(), dc_tensor_describe(live(info.Env()), &d));
  return Napi::Number::New(info.Env(), d.device);
}

Napi::Value TensorObject::Disposed(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), t_ == nullptr);
}

Napi::Value TensorObject::StorageBytes(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), double(storage_bytes(live(info.Env()))));
}

Napi::Value TensorObject::Dispose(const Napi::CallbackInfo& info) {
  release();
  return info.Env().Undefined();
}

// view(offset, shape, strides?)
Napi::Value TensorObject::View(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dc_tensor* base = live(env);
  const int64_t offset = integer_arg(env, info[0], "offset", -kMaxSafeInteger, kMaxSafeInteger);
  const std::vector<int64_t> shape = int_array(env, info[1], "shape");
  std::vector<int64_t> strides;
  const bool has_strides = !info[2].IsUndefined() && !info[2].IsNull();
  if (has_strides) {
    strides = int_array(env, info[2], "strides");
    if (strides.size() != shape.size()) throw_range(env, "strides and shape differ in length", DC_ERR_SHAPE);
  }
  dc_tensor* v = nullptr;
  check(env, dc_tensor_view(base, offset, int(shape.size()), shape.data(),
                            has_strides ? strides.data() : nullptr, &v));
  // The view shares storage; caller memory stays alive through the same source, and needs the
  // bytes its base needed (a length-tracking array may have grown since).
  Napi::Object view = Wrap(env, v, source_.IsEmpty() ? Napi::Value() : source_.Value());
  ObjectWrap<TensorObject>::Unwrap(view)->source_bytes_ = source_bytes_;
  return view;
}

Napi::Value TensorObject::Read(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dc_tensor* t = live(env);
  dc_tensor_desc d = dc_tensor_desc_init();
  check(env, dc_tensor_describe(t, &d));
  Napi::Float32Array out = Napi::Float32Array::New(env, size_t(d.numel));
  check(env, dc_tensor_read_f32(t, out.Data(), size_t(d.numel)));
  return out;
}

Napi::Value TensorObject::Write(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dc_tensor* t = live(env);
  if (!info[0].IsTypedArray()) throw_type(env, "data must be a typed array");
  Napi::TypedArray data = info[0].As<Napi::TypedArray>();
  int dtype = typed_array_dtype(data);
  if (dtype < 0)
    throw_type(env, "data must be a Float32Array, Uint16Array, Int32Array, BigInt64Array or Uint8Array", DC_ERR_DTYPE);
  // A Uint16Array holds raw 16-bit floats of either kind; the dtype argument says which.
  if (dtype == DC_BF16) {
    dtype = code_arg(env, info[1], "dtype", DC_BF16);
    if (dtype != DC_BF16 && dtype != DC_F16)
      throw_type(env, "a Uint16Array holds bf16 or f16 data, not dtype " + std::to_string(dtype), DC_ERR_DTYPE);
  }
  const size_t es = dc_dtype_size(dc_dtype(dtype));
  check(env, dc_tensor_write(t, typed_array_data(data),
                             dc_dtype(dtype), data.ByteLength() / es));
  return env.Undefined();
}

Napi::Value TensorObject::ExportHandle(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dc_tensor* t = live(env);
  if (external()) throw_type(env, "a tensor over caller memory cannot cross threads; copy it first");
  check(env, dc_tensor_retain(t));
  std::lock_guard<std::mutex> lock(g_exported_mu);
  g_exported[t]++;
  return Napi::BigInt::New(env, uint64_t(reinterpret_cast<uintptr_t>(t)));
}

// An ArrayBuffer over the tensor's own host memory (contiguous CPU tensors), holding a reference
// to the tensor until the buffer is collected: data can be read from files straight into it.
Napi::Value TensorObject::HostBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dc_tensor* t = live(env);
  dc_tensor_desc d = dc_tensor_desc_init();
  check(env, dc_tensor_describe(t, &d));
  if (d.device != DC_DEVICE_CPU || !d.contiguous)
    throw_type(env, "hostBuffer needs a contiguous tensor in host memory");
  // The reference below keeps the core tensor alive, not caller memory under it: a buffer over
  // that would outlive the caller's ArrayBuffer being detached or collected.
  if (external()) throw_type(env, "hostBuffer: the tensor shares caller memory; use the typed array it was made from");
  check(env, dc_tensor_retain(t));
  return Napi::ArrayBuffer::New(
      env, d.data, size_t(d.numel) * dc_dtype_size(d.dtype),
      [](Napi::Env, void*, dc_tensor* held) { dc_tensor_release(held); }, t);
}

void register_tensor_functions(Napi::Env env, Napi::Object exports) {
  exports.Set("empty", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Empty(i, false); }));
  exports.Set("zeros", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Empty(i, true); }));
  exports.Set("fromTypedArray", Napi::Function::New(env, FromTypedArray));
  exports.Set("adoptHandle", Napi::Function::New(env, AdoptHandle));
}

}  // namespace dcnode
