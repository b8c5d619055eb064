// Finds cuBLASLt: the linked library, or libcublasLt.so.13 / .so.12 opened with dlopen.
#include "cublaslt.h"

#include <string>

#if !DC_CUBLASLT_LINKED
#include <dlfcn.h>
#endif

#if DC_CUBLASLT_LINKED
extern "C" {
int cublasLtCreate(dc::cuda::lt::Handle*);
int cublasLtMatmulDescCreate(dc::cuda::lt::MatmulDesc*, int, cudaDataType_t);
int cublasLtMatmulDescDestroy(dc::cuda::lt::MatmulDesc);
int cublasLtMatmulDescSetAttribute(dc::cuda::lt::MatmulDesc, int, const void*, size_t);
int cublasLtMatrixLayoutCreate(dc::cuda::lt::Layout*, cudaDataType_t, uint64_t, uint64_t, int64_t);
int cublasLtMatrixLayoutDestroy(dc::cuda::lt::Layout);
int cublasLtMatmulPreferenceCreate(dc::cuda::lt::Preference*);
int cublasLtMatmulPreferenceDestroy(dc::cuda::lt::Preference);
int cublasLtMatmulPreferenceSetAttribute(dc::cuda::lt::Preference, int, const void*, size_t);
int cublasLtMatmulAlgoGetHeuristic(dc::cuda::lt::Handle, dc::cuda::lt::MatmulDesc,
                                   dc::cuda::lt::Layout, dc::cuda::lt::Layout,
                                   dc::cuda::lt::Layout, dc::cuda::lt::Layout,
                                   dc::cuda::lt::Preference, int, dc::cuda::lt::HeuristicResult*,
                                   int*);
int cublasLtMatmul(dc::cuda::lt::Handle, dc::cuda::lt::MatmulDesc, const void*, const void*,
                   dc::cuda::lt::Layout, const void*, dc::cuda::lt::Layout, const void*,
                   const void*, dc::cuda::lt::Layout, void*, dc::cuda::lt::Layout,
                   const dc::cuda::lt::Algo*, void*, size_t, cudaStream_t);
}
#endif

namespace dc::cuda::lt {

namespace {

struct Loaded {
  Api api{};
  Handle handle = nullptr;
  std::string error;  // empty when usable
};

#if DC_CUBLASLT_LINKED

bool resolve(Api* a, std::string*) {
  *a = Api{cublasLtCreate,
           cublasLtMatmulDescCreate,
           cublasLtMatmulDescDestroy,
           cublasLtMatmulDescSetAttribute,
           cublasLtMatrixLayoutCreate,
           cublasLtMatrixLayoutDestroy,
           cublasLtMatmulPreferenceCreate,
           cublasLtMatmulPreferenceDestroy,
           cublasLtMatmulPreferenceSetAttribute,
           cublasLtMatmulAlgoGetHeuristic,
           cublasLtMatmul};
  return true;
}

#else

template <class Fn>
bool symbol(void* lib, const char* name, Fn* fn, std::string* error) {
  *fn = reinterpret_cast<Fn>(dlsym(lib, name));
  if (!*fn) *error = std::string("cuBLASLt lacks ") + name;
  return *fn != nullptr;
}

bool resolve(Api* a, std::string* error) {
  static const char* const kNames[] = {"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"};
  void* lib = nullptr;
  for (const char* name : kNames)
    if ((lib = dlopen(name, RTLD_NOW | RTLD_LOCAL))) break;
  if (!lib) {
    *error =
        "cuBLASLt not found (tried libcublasLt.so.13, libcublasLt.so.12, libcublasLt.so): install "
        "the CUDA toolkit's cuBLAS or add its library folder to LD_LIBRARY_PATH";
    return false;
  }
  return symbol(lib, "cublasLtCreate", &a->create, error) &&
         symbol(lib, "cublasLtMatmulDescCreate", &a->desc_create, error) &&
         symbol(lib, "cublasLtMatmulDescDestroy", &a->desc_destroy, error) &&
         symbol(lib, "cublasLtMatmulDescSetAttribute", &a->desc_set, error) &&
         symbol(lib, "cublasLtMatrixLayoutCreate", &a->layout_create, error) &&
         symbol(lib, "cublasLtMatrixLayoutDestroy", &a->layout_destroy, error) &&
         symbol(lib, "cublasLtMatmulPreferenceCreate", &a->pref_create, error) &&
         symbol(lib, "cublasLtMatmulPreferenceDestroy", &a->pref_destroy, error) &&
         symbol(lib, "cublasLtMatmulPreferenceSetAttribute", &a->pref_set, error) &&
         symbol(lib, "cublasLtMatmulAlgoGetHeuristic", &a->heuristic, error) &&
         symbol(lib, "cublasLtMatmul", &a->matmul, error);
}

#endif

const Loaded& loaded() {
  static const Loaded state = [] {
    Loaded l;
    if (!resolve(&l.api, &l.error)) return l;
    const int st = l.api.create(&l.handle);
    if (st != kSuccess) l.error = "cublasLtCreate failed with status " + std::to_string(st);
    return l;
  }();
  return state;
}

}  // namespace

dc_status api(const Api** out, Handle* handle) {
  const Loaded& l = loaded();
  if (!l.error.empty()) return fail(DC_ERR_UNAVAILABLE, "%s", l.error.c_str());
  *out = &l.api;
  *handle = l.handle;
  return DC_OK;
}

}  // namespace dc::cuda::lt
