// Op bindings: each unwraps its arguments into the core's plain structs and runs through OpCall,
// so every op has a synchronous form and a Promise form (last argument `async`).
#include <climits>
#include <memory>
#include <string>
#include <vector>

#include "args.h"
#include "errors.h"
#include "op_call.h"
#include "ops.h"
#include "tensor_object.h"

namespace dcnode {

namespace {

Napi::Value field(const Napi::Value& options, const char* name) {
  if (!options.IsObject()) return options.Env().Undefined();
  return options.As<Napi::Object>().Get(name);
}

Napi::Value mode_arg(const Napi::CallbackInfo& info, size_t index) { return info[index]; }

// Token positions and ring offsets: any integer a double holds exactly (the core bounds them).
int64_t position(Napi::Env env, Napi::Value v, const char* what) {
  return integer_arg(env, v, what, -kMaxSafeInteger, kMaxSafeInteger, 0);
}

Napi::Value Gemm(const Napi::CallbackInfo& info) {
  OpCall call(info);
  dc_tensor* a = call.tensor(info[0], "a");
  dc_tensor* w = call.tensor(info[1], "w");
  dc_tensor* out = call.tensor(info[2], "out");
  const Napi::Value o = info[3];
  dc_gemm_params p = dc_gemm_params_init();
  p.bias = call.optional_tensor(field(o, "bias"), "bias");
  p.gate = call.optional_tensor(field(o, "gate"), "gate");
  p.residual = call.optional_tensor(field(o, "residual"), "residual");
  p.activation = dc_activation(code_arg(info.Env(), field(o, "activation"), "activation", 0));
  return call.run(mode_arg(info, 4), [=] { return dc_gemm(a, w, out, &p); });
}

// A new tensor: w packed once into the GEMM's panel layout (synchronous: it runs once, at load).
Napi::Value PackWeight(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  dc_tensor* w = TensorObject::FromValue(env, info[0], "w")->handle();
  const dc_dtype dtype = dc_dtype(code_arg(env, info[1], "dtype"));
  dc_tensor* packed = nullptr;
  check(env, dc_gemm_pack_weight(w, dtype, &packed));
  return TensorObject::Wrap(env, packed);
}

Napi::Value Attention(const Napi::CallbackInfo& info) {
  OpCall call(info);
  Napi::Env env = info.Env();
  dc_tensor* q = call.tensor(info[0], "q");
  dc_tensor* k = call.tensor(info[1], "k");
  dc_tensor* v = call.tensor(info[2], "v");
  dc_tensor* out = call.tensor(info[3], "out");
  const Napi::Value o = info[4];
  dc_attention_params p = dc_attention_params_init();
  p.scale = float_arg(env, field(o, "scale"), "scale", 0);
  p.causal = OpCall::flag(field(o, "causal"));
  p.key_mask = call.optional_tensor(field(o, "keyMask"), "keyMask");
  p.prefix_k = call.optional_tensor(field(o, "prefixK"), "prefixK");
  p.prefix_v = call.optional_tensor(field(o, "prefixV"), "prefixV");
  p.prefix_start = position(env, field(o, "prefixStart"), "prefixStart");
  p.prefix_len = position(env, field(o, "prefixLen"), "prefixLen");
  p.rope_freqs = call.optional_tensor(field(o, "ropeFreqs"), "ropeFreqs");
  p.q_pos0 = position(env, field(o, "qPos0"), "qPos0");
  p.k_pos0 = position(env, field(o, "kPos0"), "kPos0");
  return call.run(mode_arg(info, 5), [=] { return dc_attention(q, k, v, out, &p); });
}

Napi::Value Norm(const Napi::CallbackInfo& info, bool rms) {
  OpCall call(info);
  dc_tensor* x = call.tensor(info[0], "x");
  dc_tensor* out = call.tensor(info[1], "out");
  const Napi::Value o = info[2];
  dc_norm_params p = dc_norm_params_init();
  p.eps = float_arg(info.Env(), field(o, "eps"), "eps", 0);
  p.weight = call.optional_tensor(field(o, "weight"), "weight");
  p.bias = call.optional_tensor(field(o, "bias"), "bias");
  p.shift = call.optional_tensor(field(o, "shift"), "shift");
  p.scale = call.optional_tensor(field(o, "scale"), "scale");
  return call.run(mode_arg(info, 3), [=] {
    return rms ? dc_rmsnorm(x, out, &p) : dc_layernorm(x, out, &p);
  });
}

Napi::Value Modulate(const Napi::CallbackInfo& info) {
  OpCall call(info);
  dc_tensor* x = call.tensor(info[0], "x");
  dc_tensor* shift = call.tensor(info[1], "shift");
  dc_tensor* scale = call.tensor(info[2], "scale");
  dc_tensor* out = call.tensor(info[3], "out");
  return call.run(mode_arg(info, 4), [=] { return dc_modulate(x, shift, scale, out); });
}

Napi::Value Activate(const Napi::CallbackInfo& info) {
  OpCall call(info);
  dc_tensor* x = call.tensor(info[0], "x");
  const auto act = dc_activation(code_arg(info.Env(), info[1], "activation", 0));
  dc_tensor* out = call.tensor(info[2], "out");
  return call.run(mode_arg(info, 3), [=] { return dc_activate(x, act, out); });
}

Napi::Value Axpby(const Napi::CallbackInfo& info) {
  OpCall call(info);
  const float alpha = float_arg(info.Env(), info[0], "alpha", 1);
  dc_tensor* x = call.tensor(info[1], "x");
  const float beta = float_arg(info.Env(), info[2], "beta", 1);
  dc_tensor* y = call.tensor(info[3], "y");
  dc_tensor* out = call.tensor(info[4], "out");
  return call.run(mode_arg(info, 5), [=] { return dc_axpby(alpha, x, beta, y, out); });
}

Napi::Value Mul(const Napi::CallbackInfo& info) {
  OpCall call(info);
  dc_tensor* x = call.tensor(info[0], "x");
  dc_tensor* y = call.tensor(info[1], "y");
  dc_tensor* out = call.tensor(info[2], "out");
  return call.run(mode_arg(info, 3), [=] { return dc_mul(x, y, out); });
}

Napi::Value Softmax(const Napi::CallbackInfo& info) {
  OpCall call(info);
  dc_tensor* x = call.tensor(info[0], "x");
  dc_tensor* out = call.tensor(info[1], "out");
  return call.run(mode_arg(info, 2), [=] { return dc_softmax(x, out); });
}

Napi::Value Rope(const Napi::CallbackInfo& info) {
  OpCall call(info);
  dc_tensor* x = call.tensor(info[0], "x");
  dc_tensor* freqs = call.tensor(info[1], "freqs");
  const int64_t pos0 = position(info.Env(), info[2], "pos0");
  dc_tensor* out = call.tensor(info[3], "out");
  return call.run(mode_arg(info, 4), [=] { return dc_rope(x, freqs, pos0, out); });
}

Napi::Value Patch(const Napi::CallbackInfo& info, bool inverse) {
  OpCall call(info);
  Napi::Env env = info.Env();
  dc_tensor* x = call.tensor(info[0], "x");
  if (!info[1].IsArray() || info[1].As<Napi::Array>().Length() != 3)
    throw_type(env, "patch must be an array [pt, ph, pw]");
  Napi::Array patch = info[1].As<Napi::Array>();
  const int pt = int(integer_arg(env, patch.Get(0u), "patch[0]", INT_MIN, INT_MAX, 1));
  const int ph = int(integer_arg(env, patch.Get(1u), "patch[1]", INT_MIN, INT_MAX, 1));
  const int pw = int(integer_arg(env, patch.Get(2u), "patch[2]", INT_MIN, INT_MAX, 1));
  dc_tensor* out = call.tensor(info[2], "out");
  return call.run(mode_arg(info, 3), [=] {
    return inverse ? dc_unpatchify(x, pt, ph, pw, out) : dc_patchify(x, pt, ph, pw, out);
  });
}

Napi::Value ResidualDistance(const Napi::CallbackInfo& info) {
  OpCall call(info);
  dc_tensor* cache = call.tensor(info[0], "cache");
  dc_tensor* fresh = call.tensor(info[1], "fresh");
  const auto norm = dc_norm_kind(code_arg(info.Env(), info[2], "norm", 1));
  const bool update = OpCall::flag(info[3]);
  auto sums = std::make_shared<std::pair<double, double>>(0.0, 0.0);
  return call.run(
      mode_arg(info, 4),
      [=] { return dc_residual_distance(cache, fresh, norm, update, &sums->first, &sums->second); },
      [=](Napi::Env env) {
        Napi::Object r = Napi::Object::New(env);
        r.Set("num", sums->first);
        r.Set("den", sums->second);
        return r;
      });
}

Napi::Value MotionScore(const Napi::CallbackInfo& info) {
  OpCall call(info);
  Napi::Env env = info.Env();
  dc_tensor* r = call.tensor(info[0], "r");
  const int64_t frames = integer_arg(env, info[1], "frames", -kMaxSafeInteger, kMaxSafeInteger);
  if (!info[2].IsArray()) throw_type(env, "strides must be an array of integers");
  Napi::Array arr = info[2].As<Napi::Array>();
  if (arr.Length() < 1 || arr.Length() > 64) throw_range(env, "between 1 and 64 strides are required");
  auto strides = std::make_shared<std::vector<int64_t>>(arr.Length());
  for (uint32_t i = 0; i < arr.Length(); ++i)
    (*strides)[i] = integer_arg(env, arr.Get(i), "strides[i]", -kMaxSafeInteger, kMaxSafeInteger);
  auto num = std::make_shared<std::vector<double>>(arr.Length());
  auto den = std::make_shared<std::vector<double>>(arr.Length());
  return call.run(
      mode_arg(info, 3),
      [=] {
        return dc_motion_score(r, frames, strides->data(), int(strides->size()), num->data(), den->data());
      },
      [=](Napi::Env env) {
        Napi::Object out = Napi::Object::New(env);
        Napi::Array n = Napi::Array::New(env, num->size()), d = Napi::Array::New(env, den->size());
        for (uint32_t i = 0; i < num->size(); ++i) {
          n.Set(i, (*num)[i]);
          d.Set(i, (*den)[i]);
        }
        out.Set("num", n);
        out.Set("den", d);
        return out;
      });
}

Napi::Value Copy(const Napi::CallbackInfo& info) {
  OpCall call(info);
  dc_tensor* dst = call.tensor(info[0], "dst");
  dc_tensor* src = call.tensor(info[1], "src");
  return call.run(mode_arg(info, 2), [=] { return dc_copy(dst, src); });
}

Napi::Value Fill(const Napi::CallbackInfo& info) {
  OpCall call(info);
  dc_tensor* t = call.tensor(info[0], "tensor");
  const double value = number_arg(info.Env(), info[1], "value", 0);
  return call.run(mode_arg(info, 2), [=] { return dc_fill(t, value); });
}

}  // namespace

void register_ops(Napi::Env env, Napi::Object exports) {
  exports.Set("gemm", Napi::Function::New(env, Gemm));
  exports.Set("packWeight", Napi::Function::New(env, PackWeight));
  exports.Set("attention", Napi::Function::New(env, Attention));
  exports.Set("layernorm", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Norm(i, false); }));
  exports.Set("rmsnorm", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Norm(i, true); }));
  exports.Set("modulate", Napi::Function::New(env, Modulate));
  exports.Set("activate", Napi::Function::New(env, Activate));
  exports.Set("axpby", Napi::Function::New(env, Axpby));
  exports.Set("mul", Napi::Function::New(env, Mul));
  exports.Set("softmax", Napi::Function::New(env, Softmax));
  exports.Set("rope", Napi::Function::New(env, Rope));
  exports.Set("patchify", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Patch(i, false); }));
  exports.Set("unpatchify", Napi::Function::New(env, [](const Napi::CallbackInfo& i) { return Patch(i, true); }));
  exports.Set("residualDistance", Napi::Function::New(env, ResidualDistance));
  exports.Set("motionScore", Napi::Function::New(env, MotionScore));
  exports.Set("copy", Napi::Function::New(env, Copy));
  exports.Set("fill", Napi::Function::New(env, Fill));
}

}  // namespace dcnode
