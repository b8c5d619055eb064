// The part of the cuBLASLt C API the GEMM uses, declared here so that the build needs no cuBLAS
// headers. Values and signatures are those of cublasLt.h, identical in CUDA 12 and 13. The
// library is linked when CMake found it (DC_CUBLASLT_LINKED), else opened at run time.
#pragma once
#include <cuda_runtime.h>
#include <library_types.h>

#include <cstddef>
#include <cstdint>

#include "../core/status.h"

namespace dc::cuda::lt {

using Handle = struct LtContext*;
using MatmulDesc = struct LtMatmulDesc*;
using Layout = struct LtLayout*;
using Preference = struct LtPreference*;

struct Algo {
  uint64_t data[8];
};

struct HeuristicResult {
  Algo algo;
  size_t workspace_size;
  int state;
  float waves_count;
  int reserved[4];
};

constexpr int kSuccess = 0;        // CUBLAS_STATUS_SUCCESS
constexpr int kComputeF32 = 68;    // CUBLAS_COMPUTE_32F: fp32 accumulation for every input type
constexpr int kOpN = 0, kOpT = 1;  // cublasOperation_t

// cublasLtMatmulDescAttributes_t
constexpr int kDescTransA = 3, kDescTransB = 4, kDescEpilogue = 7, kDescBiasPointer = 8;

// cublasLtEpilogue_t (GELU is the tanh approximation, as DC_ACT_GELU_TANH)
constexpr uint32_t kEpilogueDefault = 1, kEpilogueBias = 4, kEpilogueGelu = 32,
                   kEpilogueGeluBias = 36;

// cublasLtMatmulPreferenceAttributes_t
constexpr int kPrefMaxWorkspace = 1, kPrefAlignA = 5, kPrefAlignB = 6, kPrefAlignC = 7,
              kPrefAlignD = 8;

struct Api {
  int (*create)(Handle*);
  int (*desc_create)(MatmulDesc*, int compute, cudaDataType_t scale);
  int (*desc_destroy)(MatmulDesc);
  int (*desc_set)(MatmulDesc, int attr, const void* value, size_t bytes);
  int (*layout_create)(Layout*, cudaDataType_t type, uint64_t rows, uint64_t cols, int64_t ld);
  int (*layout_destroy)(Layout);
  int (*pref_create)(Preference*);
  int (*pref_destroy)(Preference);
  int (*pref_set)(Preference, int attr, const void* value, size_t bytes);
  int (*heuristic)(Handle, MatmulDesc, Layout a, Layout b, Layout c, Layout d, Preference,
                   int requested, HeuristicResult* results, int* returned);
  int (*matmul)(Handle, MatmulDesc, const void* alpha, const void* a, Layout, const void* b, Layout,
                const void* beta, const void* c, Layout, void* d, Layout, const Algo*,
                void* workspace, size_t workspace_bytes, cudaStream_t);
};

// The API and one shared handle, loaded once; DC_ERR_UNAVAILABLE with the reason when cuBLASLt
// cannot be found or initialised.
dc_status api(const Api** out, Handle* handle);

}  // namespace dc::cuda::lt
