// dc_gemm on the device: one cuBLASLt matmul with the bias / GELU epilogue, the residual through
// C with beta = 1 where nothing follows the activation, else a follow-up pass (gemm_finish.cu).
//
// Row-major out[M, N] = a[M, K] . w[N, K]^T is, read column-major, out^T[N, M] = w^T . a^T: the
// weight is cuBLASLt's A (transposed), the activations its B, so both are read in place.
#include <array>
#include <cstring>
#include <mutex>
#include <optional>
#include <unordered_map>

#include "backend.h"
#include "copy.h"
#include "cublaslt.h"
#include "gemm_finish.h"
#include "runtime.h"

namespace dc::cuda {

namespace {

constexpr size_t kWorkspaceBytes = size_t(32) << 20;

cudaDataType_t lt_type(dc_dtype dtype) {
  switch (dtype) {
    case DC_F16: return CUDA_R_16F;
    case DC_BF16: return CUDA_R_16BF;
    default: return CUDA_R_32F;
  }
}

// Largest power of two (at most 256) dividing the address: what the kernel choice may assume.
uint32_t alignment(const void* p) {
  const uintptr_t v = reinterpret_cast<uintptr_t>(p);
  uint32_t a = 256;
  while (a > 1 && v % a) a >>= 1;
  return a;
}

// One matmul: d[N, M] (column-major, ld ldd) = epilogue(w^T a^T [+ c]).
struct Matmul {
  int64_t M, N, K;
  dc_dtype dtype;
  const void* w;
  int64_t ldw;
  const void* a;
  int64_t lda;
  const void* c;  // nullptr: beta = 0
  int64_t ldc;
  void* d;
  int64_t ldd;
  uint32_t epilogue;
  const void* bias;
};

using PlanKey = std::array<int64_t, 14>;

struct PlanKeyHash {
  size_t operator()(const PlanKey& k) const {
    uint64_t h = 1469598103934665603ull;
    for (int64_t v : k) h = (h ^ uint64_t(v)) * 1099511628211ull;
    return size_t(h);
  }
};

struct Plan {
  lt::Algo algo;
  size_t workspace;
};

// RAII for the cuBLASLt descriptors of one call.
struct Descriptors {
  const lt::Api* api;
  lt::MatmulDesc desc = nullptr;
  lt::Layout la = nullptr, lb = nullptr, lc = nullptr, ld = nullptr;
  ~Descriptors() {
    if (ld) api->layout_destroy(ld);
    if (lc) api->layout_destroy(lc);
    if (lb) api->layout_destroy(lb);
    if (la) api->layout_destroy(la);
    if (desc) api->desc_destroy(desc);
  }
};

dc_status lt_check(int status, const char* what) {
  if (status == lt::kSuccess) return DC_OK;
  return fail(DC_ERR_DEVICE, "cuBLASLt %s failed with status %d", what, status);
}

dc_status describe(const lt::Api* api, const Matmul& m, Descriptors* d) {
  const cudaDataType_t t = lt_type(m.dtype);
  DC_TRY(lt_check(api->desc_create(&d->desc, lt::kComputeF32, CUDA_R_32F), "descriptor"));
  const int32_t trans_a = lt::kOpT, trans_b = lt::kOpN;
  DC_TRY(lt_check(api->desc_set(d->desc, lt::kDescTransA, &trans_a, sizeof trans_a), "transa"));
  DC_TRY(lt_check(api->desc_set(d->desc, lt::kDescTransB, &trans_b, sizeof trans_b), "transb"));
  DC_TRY(lt_check(api->desc_set(d->desc, lt::kDescEpilogue, &m.epilogue, sizeof m.epilogue),
                  "epilogue"));
  if (m.bias)
    DC_TRY(lt_check(api->desc_set(d->desc, lt::kDescBiasPointer, &m.bias, sizeof m.bias), "bias"));
  DC_TRY(lt_check(api->layout_create(&d->la, t, uint64_t(m.K), uint64_t(m.N), m.ldw), "layout"));
  DC_TRY(lt_check(api->layout_create(&d->lb, t, uint64_t(m.K), uint64_t(m.M), m.lda), "layout"));
  DC_TRY(lt_check(api->layout_create(&d->lc, t, uint64_t(m.N), uint64_t(m.M), m.c ? m.ldc : m.ldd),
                  "layout"));
  DC_TRY(lt_check(api->layout_create(&d->ld, t, uint64_t(m.N), uint64_t(m.M), m.ldd), "layout"));
  return DC_OK;
}

// The heuristic's first choice, remembered per problem (the query costs more than the launch).
dc_status plan_for(const lt::Api* api, lt::Handle h, const Matmul& m, const Descriptors& d,
                   Plan* out) {
  static std::mutex mu;
  static std::unordered_map<PlanKey, Plan, PlanKeyHash> plans;
  const PlanKey key{m.M, m.N, m.K, m.ldw, m.lda, m.c ? m.ldc : -1, m.ldd, int64_t(m.dtype),
                    int64_t(m.epilogue), m.bias ? int64_t(alignment(m.bias)) : 0,
                    int64_t(alignment(m.w)), int64_t(alignment(m.a)),
                    m.c ? int64_t(alignment(m.c)) : 0, int64_t(alignment(m.d))};
  std::lock_guard<std::mutex> lock(mu);
  auto it = plans.find(key);
  if (it != plans.end()) {
    *out = it->second;
    return DC_OK;
  }
  lt::Preference pref = nullptr;
  DC_TRY(lt_check(api->pref_create(&pref), "preference"));
  struct PrefGuard {
    const lt::Api* api;
    lt::Preference p;
    ~PrefGuard() { api->pref_destroy(p); }
  } guard{api, pref};
  const uint64_t ws = kWorkspaceBytes;
  const uint32_t align_a = alignment(m.w), align_b = alignment(m.a),
                 align_c = alignment(m.c ? m.c : m.d), align_d = alignment(m.d);
  DC_TRY(lt_check(api->pref_set(pref, lt::kPrefMaxWorkspace, &ws, sizeof ws), "preference"));
  DC_TRY(lt_check(api->pref_set(pref, lt::kPrefAlignA, &align_a, sizeof align_a), "preference"));
  DC_TRY(lt_check(api->pref_set(pref, lt::kPrefAlignB, &align_b, sizeof align_b), "preference"));
  DC_TRY(lt_check(api->pref_set(pref, lt::kPrefAlignC, &align_c, sizeof align_c), "preference"));
  DC_TRY(lt_check(api->pref_set(pref, lt::kPrefAlignD, &align_d, sizeof align_d), "preference"));
  lt::HeuristicResult result;
  std::memset(&result, 0, sizeof result);
  int found = 0;
  DC_TRY(lt_check(api->heuristic(h, d.desc, d.la, d.lb, d.lc, d.ld, pref, 1, &result, &found),
                  "algorithm heuristic"));
  if (found < 1)
    return fail(DC_ERR_UNAVAILABLE, "cuBLASLt has no algorithm for M=%lld N=%lld K=%lld (%s)",
                (long long)m.M, (long long)m.N, (long long)m.K, dc_dtype_name(m.dtype));
  if (plans.size() >= 4096) plans.clear();
  *out = plans[key] = Plan{result.algo, result.workspace_size};
  return DC_OK;
}

void* workspace() {
  // Shared by every matmul: they are all queued on one stream, so they never overlap.
  static DeviceBuffer* buffer = new DeviceBuffer(kWorkspaceBytes);
  return buffer->get();
}

dc_status run_matmul(const Matmul& m) {
  const lt::Api* api = nullptr;
  lt::Handle h = nullptr;
  DC_TRY(lt::api(&api, &h));
  Descriptors d{api};
  DC_TRY(describe(api, m, &d));
  Plan plan;
  DC_TRY(plan_for(api, h, m, d, &plan));
  const float alpha = 1.f, beta = m.c ? 1.f : 0.f;
  return lt_check(api->matmul(h, d.desc, &alpha, m.w, d.la, m.a, d.lb, &beta, m.c ? m.c : m.d,
                              d.lc, m.d, d.ld, &plan.algo, workspace(), plan.workspace, stream()),
                  "matmul");
}

// `rows` x `cols` of `src` (row stride ld, dtype from) as a dense scratch matrix of dtype `to`.
dc_status dense_copy(const void* src, dc_dtype from, int64_t rows, int64_t cols, int64_t ld,
                     dc_dtype to, std::optional<DeviceBuffer>* out) {
  out->emplace(size_t(rows * cols) * dc_dtype_size(to));
  const int64_t shape[2] = {rows, cols}, dense[2] = {cols, 1}, strided[2] = {ld, 1};
  return copy_device(2, shape, (*out)->get(), to, dense, src, from, strided);
}

}  // namespace

dc_status gemm(const GemmArgs& g) {
  if (g.ldo < g.N || (g.residual && g.ldr < g.N))
    return fail(DC_ERR_SHAPE, "out and residual rows must not overlap (row strides %lld, %lld < %lld)",
                (long long)g.ldo, (long long)g.ldr, (long long)g.N);
  if (g.K == 0) return gemm_finish(g, nullptr, 0);
  Matmul m{g.M, g.N, g.K, g.a_dtype, g.w, g.ldw, g.a, g.lda, nullptr, 0, g.out, g.ldo,
           lt::kEpilogueDefault, g.bias};
  // cuBLASLt reads one input type and needs row strides of at least a row: bf16 weights next to
  // f32/f16 activations are widened (exactly, for f32), and overlapping rows made dense.
  std::optional<DeviceBuffer> w_dense, a_dense, product;
  if (g.w_dtype != g.a_dtype || g.ldw < g.K) {
    DC_TRY(dense_copy(g.w, g.w_dtype, g.N, g.K, g.ldw, g.a_dtype, &w_dense));
    m.w = w_dense->get();
    m.ldw = g.K;
  }
  if (g.lda < g.K) {
    DC_TRY(dense_copy(g.a, g.a_dtype, g.M, g.K, g.lda, g.a_dtype, &a_dense));
    m.a = a_dense->get();
    m.lda = g.K;
  }
  const bool gelu = g.act == DC_ACT_GELU_TANH;
  m.epilogue = g.bias ? (gelu ? lt::kEpilogueGeluBias : lt::kEpilogueBias)
                      : (gelu ? lt::kEpilogueGelu : lt::kEpilogueDefault);
  const bool follow_up = g.gate.p || g.act == DC_ACT_SILU || (g.residual && g.act != DC_ACT_NONE);
  if (!follow_up) {
    if (g.residual) {
      m.c = g.residual;
      m.ldc = g.ldr;
    }
    return run_matmul(m);
  }
  // The residual may be `out` itself, so the product goes to scratch when there is one.
  if (g.residual) {
    product.emplace(size_t(g.M * g.N) * dc_dtype_size(g.a_dtype));
    m.d = product->get();
    m.ldd = g.N;
  }
  DC_TRY(run_matmul(m));
  return gemm_finish(g, m.d, m.ldd);
}

}  // namespace dc::cuda
