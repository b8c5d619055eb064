// Library-level queries and settings: version, build, backends, ISA, threads, memory.
#include "args.h"
#include "errors.h"
#include "ops.h"

namespace dcnode {

namespace {

Napi::Value Version(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dc_version_string());
}

Napi::Value BuildInfo(const Napi::CallbackInfo& info) {
  return Napi::String::New(info.Env(), dc_build_info());
}

Napi::Value Backends(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int count = 0;
  check(env, dc_backend_count(&count));
  Napi::Array out = Napi::Array::New(env, count);
  for (int i = 0; i < count; ++i) {
    dc_backend_info b = dc_backend_info_init();
    check(env, dc_backend_get(i, &b));
    Napi::Object o = Napi::Object::New(env);
    o.Set("device", b.device == DC_DEVICE_CPU ? "cpu" : "cuda");
    o.Set("index", b.index);
    o.Set("name", b.name);
    o.Set("memoryBytes", double(b.memory_bytes));
    o.Set("computeCapability", b.compute_capability);
    out.Set(uint32_t(i), o);
  }
  return out;
}

// deviceAvailable(device) -> null when usable, else the reason.
Napi::Value DeviceAvailable(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const dc_status st = dc_device_available(dc_device(code_arg(env, info[0], "device")));
  if (st == DC_OK) return env.Null();
  return Napi::String::New(env, dc_last_error());
}

Napi::Value Isa(const Napi::CallbackInfo& info) {
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("active", dc_isa_name(dc_cpu_isa()));
  o.Set("detected", dc_isa_name(dc_cpu_isa_detected()));
  o.Set("bf16", dc_cpu_has_bf16() != 0);
  o.Set("dispatch", dc_cpu_dispatch_info());
  return o;
}

Napi::Value SetIsa(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string name = info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
  for (dc_isa isa : {DC_ISA_PORTABLE, DC_ISA_AVX2, DC_ISA_AVX512, DC_ISA_AVX512_BF16, DC_ISA_AMX}) {
    if (name == dc_isa_name(isa)) {
      check(env, dc_cpu_set_isa(isa));
      return env.Undefined();
    }
  }
  throw_type(env, "isa must be 'amx', 'avx512_bf16', 'avx512', 'avx2' or 'portable', got '" + name + "'");
}

Napi::Value Threads(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), dc_get_num_threads());
}

Napi::Value SetThreads(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  check(env, dc_set_num_threads(code_arg(env, info[0], "threads")));
  return env.Undefined();
}

Napi::Value MemoryStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int device = code_arg(env, info[0], "device", DC_DEVICE_CPU);
  dc_memory_stats s = dc_memory_stats_init();
  check(env, dc_memory_stats_get(dc_device(device), &s));
  Napi::Object o = Napi::Object::New(env);
  o.Set("bytesInUse", double(s.bytes_in_use));
  o.Set("bytesCached", double(s.bytes_cached));
  o.Set("peakBytesInUse", double(s.peak_bytes_in_use));
  o.Set("allocations", double(s.allocations));
  o.Set("cacheHits", double(s.cache_hits));
  o.Set("systemAllocations", double(s.system_allocations));
  return o;
}

Napi::Value MemoryTrim(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int device = code_arg(env, info[0], "device", DC_DEVICE_CPU);
  check(env, dc_memory_trim(dc_device(device)));
  return env.Undefined();
}

Napi::Value Synchronize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int device = code_arg(env, info[0], "device", DC_DEVICE_CPU);
  check(env, dc_synchronize(dc_device(device)));
  return env.Undefined();
}

// fmaPeak(threads, seconds) -> measured GFLOP/s of the active ISA's multiply-add loop.
Napi::Value FmaPeak(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const int threads = code_arg(env, info[0], "threads");
  if (info[1].IsUndefined()) throw_type(env, "seconds must be a number");
  const double seconds = number_arg(env, info[1], "seconds", 0);
  double gflops = 0;
  check(env, dc_cpu_fma_peak(threads, seconds, &gflops));
  return Napi::Number::New(env, gflops);
}

}  // namespace

void register_runtime(Napi::Env env, Napi::Object exports) {
  exports.Set("version", Napi::Function::New(env, Version));
  exports.Set("buildInfo", Napi::Function::New(env, BuildInfo));
  exports.Set("backends", Napi::Function::New(env, Backends));
  exports.Set("deviceAvailable", Napi::Function::New(env, DeviceAvailable));
  exports.Set("isa", Napi::Function::New(env, Isa));
  exports.Set("setIsa", Napi::Function::New(env, SetIsa));
  exports.Set("threads", Napi::Function::New(env, Threads));
  exports.Set("setThreads", Napi::Function::New(env, SetThreads));
  exports.Set("memoryStats", Napi::Function::New(env, MemoryStats));
  exports.Set("memoryTrim", Napi::Function::New(env, MemoryTrim));
  exports.Set("synchronize", Napi::Function::New(env, Synchronize));
  exports.Set("fmaPeak", Napi::Function::New(env, FmaPeak));
}

}  // namespace dcnode
