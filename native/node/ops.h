#pragma once
#include <napi.h>

namespace dcnode {

void register_ops(Napi::Env env, Napi::Object exports);
void register_runtime(Napi::Env env, Napi::Object exports);
void register_kv_ring(Napi::Env env, Napi::Object exports);

}  // namespace dcnode
