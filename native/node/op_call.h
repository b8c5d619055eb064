// One mechanism for every op binding: arguments are unwrapped into plain handles and values, the
// core call is captured as a closure, and the closure runs either now or on a libuv worker
// (AsyncWorker + Promise). While it runs, the native handles are retained and the JavaScript
// objects referenced, so a dispose() or a garbage collection during the call frees nothing early.
#pragma once
#include <napi.h>

#include <functional>
#include <string>
#include <vector>

#include "ditcache.h"

namespace dcnode {

class OpCall {
 public:
  explicit OpCall(const Napi::CallbackInfo& info) : env_(info.Env()) {}
  ~OpCall();
  OpCall(const OpCall&) = delete;
  OpCall& operator=(const OpCall&) = delete;

  dc_tensor* tensor(Napi::Value v, const char* what);
  dc_tensor* optional_tensor(Napi::Value v, const char* what);  // undefined / null -> nullptr

  static bool flag(Napi::Value v);

  using Body = std::function<dc_status()>;
  using Result = std::function<Napi::Value(Napi::Env)>;
  // `mode` is the op's last argument: falsy runs `body` now and returns `result(env)` (or
  // undefined); true returns a Promise of it, with `body` on a libuv worker (refused, TypeError,
  // for a tensor over caller memory: see run()); {repeat: n} runs
  // `body` n times back to back and returns a Float64Array of each run's seconds, timed in native
  // code so that benchmarks measure the kernel and not the JavaScript call.
  Napi::Value run(Napi::Value mode, Body body, Result result = nullptr);

 private:
  Napi::Env env_;
  std::vector<dc_tensor*> handles_;
  std::vector<Napi::Object> objects_;  // referenced persistently only for an async run
  const char* over_caller_memory_ = nullptr;  // the first tensor argument wrapping caller memory
};

}  // namespace dcnode
