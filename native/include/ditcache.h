/*
 * ditcache — C ABI.
 *
 * Everything the Node binding does goes through this header; other runtimes link libditcache and
 * use the same entry points. Conventions:
 *   - every function returns a dc_status; on failure dc_last_error() holds a message for the
 *     calling thread (valid until that thread's next failing call);
 *   - tensors are opaque, reference counted handles; shapes and strides are in elements;
 *   - handles (dc_tensor, dc_kv_ring) are checked against a registry of live handles before
 *     use: NULL, foreign and released handles give DC_ERR_INVALID_ARGUMENT without their memory
 *     being read. A released handle's address is reused only after 4096 later releases of its
 *     type; after that a stale handle may name a new handle, as a freed pointer may: never use
 *     a handle after its last release;
 *   - ops write into caller-provided output tensors, which may alias inputs only where stated;
 *   - no C++ types or exceptions cross this boundary, and no call aborts the process;
 *   - every struct the caller allocates starts with `size_t struct_size` (see "versioned structs"
 *     below), so the structs can grow without breaking programs built against an older header.
 *
 * Threads. Each declaration below ends its comment with one of these:
 *   [any thread]   may be called from any thread, concurrently with any other call;
 *   [writes: X]    may be called from any thread, concurrently with any other call, except that
 *                  the memory of X (a tensor's elements, a ring's state) is written: no other call
 *                  may read or write that memory until this one returns, the rule of plain memory;
 *   [process-wide] changes a setting every thread sees; safe to call while ops run on other
 *                  threads (each op uses the setting it started with, or waits, as stated).
 * Ops running concurrently share the library's CPU thread pool: one call's parallel region uses
 * the pool while the others run on their calling threads. dc_last_error() is per thread.
 */
#ifndef DITCACHE_H
#define DITCACHE_H

#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#  if defined(DITCACHE_BUILDING)
#    define DC_API __declspec(dllexport)
#  else
#    define DC_API __declspec(dllimport)
#  endif
#else
#  define DC_API __attribute__((visibility("default")))
#endif

#ifdef __cplusplus
extern "C" {
#endif

#define DC_VERSION_MAJOR 0
#define DC_VERSION_MINOR 1
#define DC_VERSION_PATCH 0
#define DC_MAX_DIMS 8

/* ---------------------------------------------------------------- status */

/* In C++ the enumerations are fixed to int, so any int a C caller passes is a value the library
 * can inspect and reject; with C++'s default enum ranges, reading it would be undefined. */
#ifdef __cplusplus
#  define DC_ENUM(name) enum name : int
#else
#  define DC_ENUM(name) enum name
#endif

typedef DC_ENUM(dc_status) {
  DC_OK = 0,
  DC_ERR_INVALID_ARGUMENT = 1, /* null or released handle, bad option value */
  DC_ERR_DTYPE = 2,            /* unsupported or mismatched dtype */
  DC_ERR_SHAPE = 3,            /* mismatched or invalid shape / strides */
  DC_ERR_RANGE = 4,            /* size overflow, index out of range */
  DC_ERR_OUT_OF_MEMORY = 5,
  DC_ERR_UNAVAILABLE = 6,      /* backend or ISA not compiled in or not present */
  DC_ERR_DEVICE = 7,           /* tensors on different devices, or a device runtime failure */
  DC_ERR_INTERNAL = 8
} dc_status;

/* The calling thread's message of its last failing call. [any thread] */
DC_API const char* dc_last_error(void);
/* A static name for a status. [any thread] */
DC_API const char* dc_status_name(dc_status status);
/* Version of the library (not of the header it was built against). [any thread] */
DC_API void dc_version(int* major, int* minor, int* patch);
DC_API const char* dc_version_string(void); /* [any thread] */
/* Compile-time configuration: "cpu", "cpu+cuda", plus the compiled ISA paths. [any thread] */
DC_API const char* dc_build_info(void);

/* ---------------------------------------------------------------- versioned structs
 * A struct passed by pointer in either direction begins with `size_t struct_size`, which the
 * caller sets to sizeof the struct as its own ditcache.h declares it, most simply through the
 * struct's init function below (which also zeroes every other field: zero is each parameter's
 * default):
 *
 *     dc_gemm_params p = dc_gemm_params_init();
 *     p.bias = bias;
 *     dc_gemm(a, w, out, &p);
 *
 * Structs grow only at their end, and the library accepts every size a released header has given
 * a struct: fields beyond the caller's size read as zero, and records the library fills
 * (dc_backend_info, dc_memory_stats, dc_tensor_desc, dc_kv_ring_state) are written only up to it.
 * A size it does not know is refused before anything else of the struct is read or written:
 * DC_ERR_UNAVAILABLE when it is larger than any size the library knows (a newer header than the
 * library), DC_ERR_INVALID_ARGUMENT otherwise (most often a struct_size never set). Callers
 * without the init functions (FFI) set struct_size themselves. */

/* ---------------------------------------------------------------- dtypes, devices, backends */

typedef DC_ENUM(dc_dtype) {
  DC_F32 = 0,
  DC_F16 = 1,
  DC_BF16 = 2,
  DC_I32 = 3,
  DC_I64 = 4,
  DC_U8 = 5 /* also used for boolean masks: non-zero = true */
} dc_dtype;

typedef DC_ENUM(dc_device) { DC_DEVICE_CPU = 0, DC_DEVICE_CUDA = 1 } dc_device;

DC_API size_t dc_dtype_size(dc_dtype dtype); /* 0 for an unknown dtype. [any thread] */
DC_API const char* dc_dtype_name(dc_dtype dtype); /* [any thread] */

typedef struct dc_backend_info {
  size_t struct_size; /* set by the caller: sizeof(dc_backend_info) */
  dc_device device;
  int index;
  char name[128];
  uint64_t memory_bytes; /* total device memory; host RAM for the CPU */
  int compute_capability; /* CUDA: major*10+minor; CPU: 0 */
} dc_backend_info;

/* Number of usable backends (CPU always first). [any thread] */
DC_API dc_status dc_backend_count(int* count);
/* Backend i in [0, count): info->struct_size set by the caller. [any thread] */
DC_API dc_status dc_backend_get(int i, dc_backend_info* info);
/* DC_OK when the device kind can run ops now; DC_ERR_UNAVAILABLE with the reason otherwise (for
 * CUDA: not compiled into this build, no driver, no device, ...). [any thread] */
DC_API dc_status dc_device_available(dc_device device);

/* ---------------------------------------------------------------- CPU execution */

/* Kernel variants, each a superset of the one before: AVX2 (+FMA, F16C), AVX-512 (F, BW, DQ, VL),
 * AVX-512 with BF16 dot products (vdpbf16ps), AMX (bf16 tiles, tdpbf16ps). fp32 ops run on FMAs
 * whatever the variant; the BF16 and AMX variants change how bf16 operands are multiplied. */
typedef DC_ENUM(dc_isa) {
  DC_ISA_PORTABLE = 0,
  DC_ISA_AVX2 = 1,
  DC_ISA_AVX512 = 2,
  DC_ISA_AVX512_BF16 = 3,
  DC_ISA_AMX = 4
} dc_isa;

/* The variant chosen for this CPU among those compiled in: the widest one it supports, except
 * that AVX512_BF16 is chosen only where its bf16 dot products were measured (once, at first use,
 * a few milliseconds) to outrun widening bf16 to fp32 for FMAs, and AMX only where the operating
 * system grants this process the tile data. [any thread] */
DC_API dc_isa dc_cpu_isa_detected(void);
/* ISA in use (detected, or DITCACHE_ISA=avx512_bf16|avx512|avx2|portable|amx at load, or
 * dc_cpu_set_isa: any variant the CPU supports, measured faster or not). [any thread] */
DC_API dc_isa dc_cpu_isa(void);
/* Ops that have started keep the variant they started with. [process-wide] */
DC_API dc_status dc_cpu_set_isa(dc_isa isa);
DC_API const char* dc_isa_name(dc_isa isa); /* [any thread] */
/* Whether the ISA in use multiplies bf16 operands natively (AVX512_BF16 or AMX) rather than
 * widening them to fp32. [any thread] */
DC_API int dc_cpu_has_bf16(void);
/* One line on how fp32 and bf16 work is dispatched on this CPU and why: the features found, the
 * measured bf16 dot-product rate against the FMA rate, why AMX is not used where the CPU has it.
 * A static string, valid for the life of the process. [any thread] */
DC_API const char* dc_cpu_dispatch_info(void);
/* Library-owned thread pool; default: hardware threads, or DITCACHE_THREADS when it is an integer
 * in [1, 1024] (any other value is ignored). n must be in [1, 1024]. Where the system cannot start
 * all n threads, the pool keeps those it started and DC_ERR_UNAVAILABLE says how many;
 * dc_get_num_threads() always reports the threads the pool really has. Waits for a parallel
 * region that is running to end. [process-wide] */
DC_API dc_status dc_set_num_threads(int n);
DC_API int dc_get_num_threads(void); /* [any thread] */

/* ---------------------------------------------------------------- memory */

typedef struct dc_memory_stats {
  size_t struct_size;       /* set by the caller: sizeof(dc_memory_stats) */
  uint64_t bytes_in_use;    /* handed out and not yet returned */
  uint64_t bytes_cached;    /* held in free buckets for reuse */
  uint64_t peak_bytes_in_use;
  uint64_t allocations;     /* requests served */
  uint64_t cache_hits;      /* requests served from a free bucket */
  uint64_t system_allocations; /* requests that reached the system allocator */
} dc_memory_stats;

/* stats->struct_size set by the caller. [any thread] */
DC_API dc_status dc_memory_stats_get(dc_device device, dc_memory_stats* stats);
/* Return all cached free blocks to the system (on CUDA after the queued work ends). [any thread] */
DC_API dc_status dc_memory_trim(dc_device device);

/* ---------------------------------------------------------------- tensors */

typedef struct dc_tensor dc_tensor;

typedef struct dc_tensor_desc {
  size_t struct_size;           /* set by the caller: sizeof(dc_tensor_desc) */
  dc_dtype dtype;
  dc_device device;
  int ndim;
  int64_t shape[DC_MAX_DIMS];
  int64_t strides[DC_MAX_DIMS]; /* elements */
  void* data;                   /* address of element [0,...,0] */
  int64_t numel;
  int contiguous;               /* row-major dense */
  int packed;                   /* a GEMM weight packed by dc_gemm_pack_weight (strides are 0) */
} dc_tensor_desc;

/* Creating, viewing, retaining, releasing and describing tensors may happen on any threads at once,
 * on the same tensor too, except that a reference must not be used by one call while another
 * drops it (dc_tensor_release of the last reference a caller holds). */

/* New tensor with uninitialised contents from the library's caching allocator. [any thread] */
DC_API dc_status dc_tensor_empty(dc_dtype dtype, dc_device device, int ndim, const int64_t* shape,
                                 dc_tensor** out);
DC_API dc_status dc_tensor_zeros(dc_dtype dtype, dc_device device, int ndim, const int64_t* shape,
                                 dc_tensor** out); /* [any thread] */
/* Wrap caller-owned host memory without copying. `release(user)` is called once when the last
 * reference goes (it may be NULL), on the thread that drops it. `strides` may be NULL
 * (row-major). `bytes` bounds the memory: every element addressed by shape/strides must lie inside
 * it. [any thread] */
DC_API dc_status dc_tensor_wrap(dc_dtype dtype, int ndim, const int64_t* shape,
                                const int64_t* strides, void* data, size_t bytes,
                                void (*release)(void* user), void* user, dc_tensor** out);
/* A view sharing `base`'s storage: offset (elements from base's first element), shape, strides
 * (NULL = row-major). Validated against the storage bounds. [any thread] */
DC_API dc_status dc_tensor_view(const dc_tensor* base, int64_t offset, int ndim,
                                const int64_t* shape, const int64_t* strides, dc_tensor** out);
DC_API dc_status dc_tensor_retain(dc_tensor* t); /* [any thread] */
/* Drops one reference; the storage is freed (to the pool) with the last one. NULL is accepted.
 * [any thread] */
DC_API dc_status dc_tensor_release(dc_tensor* t);
/* desc->struct_size set by the caller. [any thread] */
DC_API dc_status dc_tensor_describe(const dc_tensor* t, dc_tensor_desc* desc);
/* Bytes of the storage behind the tensor (shared by its views). [any thread] */
DC_API dc_status dc_tensor_storage_bytes(const dc_tensor* t, size_t* bytes);

/* dst <- src, same shape; any strides; converts dtype (float kinds and integers) and device.
 * Conversions are defined for every value: to a float kind beyond its range, +-inf; to an
 * integer, truncation toward zero saturating at the type's bounds, NaN to 0; to u8, non-zero to 1.
 * dc_fill converts its value the same way. [writes: dst] */
DC_API dc_status dc_copy(dc_tensor* dst, const dc_tensor* src);
/* Copy raw host bytes of `dtype` (row-major, `count` elements) into `dst` (any device/strides).
 * [writes: dst] */
DC_API dc_status dc_tensor_write(dc_tensor* dst, const void* src, dc_dtype dtype, size_t count);
/* Read `dst_count` elements of `t` (row-major order) into host memory as float32.
 * [writes: the caller's dst] */
DC_API dc_status dc_tensor_read_f32(const dc_tensor* t, float* dst, size_t dst_count);
DC_API dc_status dc_fill(dc_tensor* t, double value); /* [writes: t] */
/* Wait for queued device work touching this tensor's device (no-op on the CPU). [any thread] */
DC_API dc_status dc_synchronize(dc_device device);

/* ---------------------------------------------------------------- ops
 * Floating tensors are F32 or BF16 on the CPU, F32/F16/BF16 on CUDA, always with F32 arithmetic
 * inside (accumulation, norm statistics, softmax): BF16 operands are widened exactly and results
 * rounded to nearest even once, when they are written. On CUDA the float operands of an op share
 * one dtype (dc_gemm's w may be BF16); on the CPU each op says which of them may differ ("CPU:"),
 * and the others share one dtype. "Rows" means every index of all but the last dimension; the last dimension
 * must have stride 1, the others may have any non-negative stride.
 *
 * Grouped per-row parameters: a [G, C] tensor applied to X with R rows (R % G == 0) uses row
 * r / (R / G) for row r. With G = batch it is a per-sample vector; with G = batch*frames it is a
 * per-frame vector (how the x_mask path of STDiT3 selects timestep or timestep-0 modulation).
 *
 * Every op is [writes: out] (and the outputs it names besides), with its parameters struct read
 * only during the call. A NULL parameters pointer means every parameter at its default. */

typedef DC_ENUM(dc_activation) {
  DC_ACT_NONE = 0,
  DC_ACT_GELU_TANH = 1,
  DC_ACT_SILU = 2
} dc_activation;

typedef struct dc_gemm_params {
  size_t struct_size;        /* sizeof(dc_gemm_params): see dc_gemm_params_init() */
  const dc_tensor* bias;     /* [N] or NULL */
  dc_activation activation;  /* applied after the bias */
  const dc_tensor* gate;     /* grouped [G, N] multiplier after the activation, or NULL */
  const dc_tensor* residual; /* [.., N] like out, added last; may be `out` itself; or NULL */
} dc_gemm_params;

/* out[r, n] = residual[r, n] + gate[g(r), n] * act(sum_k a[r, k] * w[n, k] + bias[n])
 * a: [.., K] rows; w: [N, K] (a Linear weight), or a weight packed by dc_gemm_pack_weight;
 * out: [.., N] with a's row count.
 * CPU dtypes: a, w, out, bias, gate and residual are each F32 or BF16, independently. With a BF16
 * weight, the products are bf16 x bf16 (a is rounded to bf16: AMX tiles or vdpbf16ps where the
 * CPU has them, see dc_cpu_isa), summed in fp32; with an F32 weight they are fp32 FMAs.
 * CUDA: a, out, bias, gate and residual share one dtype; w has it or is BF16. [writes: out] */
DC_API dc_status dc_gemm(const dc_tensor* a, const dc_tensor* w, dc_tensor* out,
                         const dc_gemm_params* params);

/* Packs a Linear weight w [N, K] (F32 or BF16, any row stride, on the CPU) once into the panel
 * layout the CPU GEMM kernels read, as `dtype` (F32 or BF16): a new tensor of shape [N, K] whose
 * storage only dc_gemm reads (as its w; every other op refuses it). A packed weight saves each
 * dc_gemm the repacking of W (a few % of an fp32 GEMM, much more for small M) and is read by the
 * AMX kernels as tiles in place. The layout does not depend on the ISA: dc_cpu_set_isa may change
 * after packing. w is only read. [any thread] */
DC_API dc_status dc_gemm_pack_weight(const dc_tensor* w, dc_dtype dtype, dc_tensor** packed);

typedef struct dc_attention_params {
  size_t struct_size;         /* sizeof(dc_attention_params): see dc_attention_params_init() */
  float scale;                /* 0 = head_dim^-0.5 */
  int causal;                 /* query i sees key j iff j <= i + (Nk_total - Nq) */
  const dc_tensor* key_mask;  /* [B, Nk_total] non-zero = may attend (U8/I32/I64/F32), or NULL */
  /* Optional first key segment, read in place: keys = [prefix ; k]. prefix_k/v are
   * [B, H, P_cap, D]; entries j = 0..prefix_len-1 live at slot (prefix_start + j) % P_cap
   * (a ring buffer), so a KV cache is attended without concatenation or reordering. */
  const dc_tensor* prefix_k;
  const dc_tensor* prefix_v;
  int64_t prefix_start;
  int64_t prefix_len;
  /* Optional rotary embedding applied on the fly (interleaved pairs, rotary_embedding_torch):
   * freqs [D/2]; query i has position q_pos0 + i, key j (over [prefix ; k]) has k_pos0 + j.
   * |q_pos0|, |k_pos0| <= 2^62 (else DC_ERR_RANGE). */
  const dc_tensor* rope_freqs;
  int64_t q_pos0;
  int64_t k_pos0;
} dc_attention_params;

/* out = softmax(scale * q k^T + masks) v, one pass with online softmax.
 * q: [B, H, Nq, D]; k, v: [B, H, Nk, D]; out: [B, H, Nq, D]; any strides with the last dim dense.
 * head_dim D <= 256. A query row with no visible key yields zeros.
 * CPU dtypes: q, k, v and the prefix share one dtype, F32 or BF16; out is F32 or BF16. Scores,
 * softmax and sums are fp32. On AMX, BF16 attention over 32 queries or more and 64 or more
 * visible keys (of the busiest batch item) multiplies on tiles: rotated q and k are rounded to
 * bf16 once, and the softmax weights are rounded to bf16 before they meet v (an absolute error of
 * at most 2^-8 max|v| more); elsewhere bf16 is widened exactly.
 * [writes: out] */
DC_API dc_status dc_attention(const dc_tensor* q, const dc_tensor* k, const dc_tensor* v,
                              dc_tensor* out, const dc_attention_params* params);

typedef struct dc_norm_params {
  size_t struct_size;        /* sizeof(dc_norm_params): see dc_norm_params_init() */
  float eps;                 /* 0 = 1e-6 */
  const dc_tensor* weight;   /* [C] or NULL */
  const dc_tensor* bias;     /* [C] or NULL (LayerNorm only) */
  const dc_tensor* shift;    /* grouped [G, C]: t2i modulate after the norm, or NULL */
  const dc_tensor* scale;    /* grouped [G, C], with shift */
} dc_norm_params;

/* LayerNorm over the last dim, then optional affine, then optional x*(1+scale)+shift.
 * out may be x. [writes: out] CPU: x, out, weight, bias, shift and scale are each F32 or BF16. */
DC_API dc_status dc_layernorm(const dc_tensor* x, dc_tensor* out, const dc_norm_params* params);
/* RMSNorm over the last dim: weight * x / sqrt(mean(x^2) + eps). out may be x. [writes: out]
 * CPU: x, out and weight are each F32 or BF16. */
DC_API dc_status dc_rmsnorm(const dc_tensor* x, dc_tensor* out, const dc_norm_params* params);
/* out = x * (1 + scale[g]) + shift[g] (grouped [G, C]). out may be x. [writes: out]
 * CPU: x, out, shift and scale are each F32 or BF16. */
DC_API dc_status dc_modulate(const dc_tensor* x, const dc_tensor* shift, const dc_tensor* scale,
                             dc_tensor* out);
/* Elementwise activation (DC_ACT_NONE: a copy, converting the dtype). out may be x. [writes: out]
 * CPU: x and out are each F32 or BF16. */
DC_API dc_status dc_activate(const dc_tensor* x, dc_activation act, dc_tensor* out);
/* out = alpha * x + beta * y, where y has x's shape or is a grouped [G, C] tensor. out may alias.
 * [writes: out] CPU: x, out and a grouped y are each F32 or BF16; a y of x's shape has x's dtype. */
DC_API dc_status dc_axpby(float alpha, const dc_tensor* x, float beta, const dc_tensor* y,
                          dc_tensor* out);
/* out = x * y (same shape or grouped [G, C] y). out may alias. [writes: out]
 * CPU dtypes as dc_axpby. */
DC_API dc_status dc_mul(const dc_tensor* x, const dc_tensor* y, dc_tensor* out);
/* Softmax over the last dim. out may be x. [writes: out] CPU: x and out are each F32 or BF16. */
DC_API dc_status dc_softmax(const dc_tensor* x, dc_tensor* out);
/* Rotary embedding on interleaved pairs: x [.., T, D], position of index t is pos0 + t
 * (|pos0| <= 2^62, else DC_ERR_RANGE).
 * out[2i] = x[2i] cos - x[2i+1] sin, out[2i+1] = x[2i+1] cos + x[2i] sin, angle = pos * freqs[i].
 * freqs is F32 (on every device). [writes: out] CPU: x and out are each F32 or BF16. */
DC_API dc_status dc_rope(const dc_tensor* x, const dc_tensor* freqs, int64_t pos0, dc_tensor* out);

/* Patch embedding input: x [B, C, T, H, W] -> out [B, T'*H'*W', C*pt*ph*pw] with zero padding at
 * the end of each dim; column index ((c*pt + it)*ph + ih)*pw + iw (the Conv3d weight order).
 * [writes: out] CPU: x and out are each F32 or BF16 (elements converted as they move). */
DC_API dc_status dc_patchify(const dc_tensor* x, int pt, int ph, int pw, dc_tensor* out);
/* Inverse layout: x [B, T'*H'*W', pt*ph*pw*C] (column ((it*ph + ih)*pw + iw)*C + c) ->
 * out [B, C, T, H, W], cropping padding. Only the first out.shape[1] channels are written.
 * [writes: out] CPU: x and out are each F32 or BF16. */
DC_API dc_status dc_unpatchify(const dc_tensor* x, int pt, int ph, int pw, dc_tensor* out);

typedef DC_ENUM(dc_norm_kind) { DC_L1 = 1, DC_L2 = 2 } dc_norm_kind;

/* Residual change in one pass: num = ||cache - fresh||_p, den = ||cache||_p (p = 1: sums of |.|,
 * p = 2: Euclidean norms), accumulated in double. With `update` non-zero, cache <- fresh in the
 * same pass (the AdaCache slot refresh). [writes: num, den, and cache when updating]
 * CPU: cache and fresh are each F32 or BF16. */
DC_API dc_status dc_residual_distance(dc_tensor* cache, const dc_tensor* fresh, dc_norm_kind norm,
                                      int update, double* num, double* den);
/* Motion score of r [B, T*S, C] (frames of S tokens, F32 or BF16 on the CPU): for each frame
 * stride s in strides, num[i] = sum |r[f+s] - r[f]|, den[i] = sum |r[f+s]| + sum |r[f]| over all
 * valid frames f, accumulated in double. [writes: num, den] */
DC_API dc_status dc_motion_score(const dc_tensor* r, int64_t frames, const int64_t* strides,
                                 int n_strides, double* num, double* den);

/* ---------------------------------------------------------------- KV ring cache (Ca2-VDM) */

typedef struct dc_kv_ring dc_kv_ring;

/* K and V storage [B, H, capacity, D] each; frames are appended along the capacity axis and the
 * oldest are evicted first, by moving the ring's start (no copy of the cache). A ring's state is
 * not locked: calls naming the same ring, and dc_attention reading its tensors, must not overlap
 * a call that writes it; different rings are independent. [any thread] */
DC_API dc_status dc_kv_ring_create(dc_dtype dtype, dc_device device, int64_t batch, int64_t heads,
                                   int64_t capacity, int64_t head_dim, dc_kv_ring** out);
DC_API dc_status dc_kv_ring_release(dc_kv_ring* ring); /* [writes: ring] */
/* Append k, v [B, H, n, D] (n <= capacity); evicts max(0, len + n - capacity) oldest entries.
 * [writes: ring] */
DC_API dc_status dc_kv_ring_append(dc_kv_ring* ring, const dc_tensor* k, const dc_tensor* v);
DC_API dc_status dc_kv_ring_clear(dc_kv_ring* ring); /* [writes: ring] */

typedef struct dc_kv_ring_state {
  size_t struct_size; /* set by the caller: sizeof(dc_kv_ring_state) */
  int64_t capacity;
  int64_t length;  /* valid entries */
  int64_t start;   /* slot of the oldest entry */
  int64_t evicted; /* entries evicted since creation or clear */
  size_t bytes;    /* K + V storage */
} dc_kv_ring_state;

/* state->struct_size set by the caller. Reads the ring: not during a call that writes it. */
DC_API dc_status dc_kv_ring_state_get(const dc_kv_ring* ring, dc_kv_ring_state* state);
/* New references to the K and V storage tensors (release them), for dc_attention's prefix_k/v.
 * Reads the ring: not during a call that writes it. */
DC_API dc_status dc_kv_ring_tensors(const dc_kv_ring* ring, dc_tensor** k, dc_tensor** v);

/* ---------------------------------------------------------------- benchmark support */

/* Measured multiply-add throughput of the ISA in use: `threads` threads (1..1024) each run
 * independent FMA chains on the widest vectors for about `seconds` (0 < seconds <= 60) in all;
 * *gflops receives the best of a few trials, counting a multiply-add as 2 flops. The roof that
 * kernel efficiencies are quoted against. Runs its own threads, not the pool's; concurrent work
 * lowers the figure. [any thread] */
DC_API dc_status dc_cpu_fma_peak(int threads, double seconds, double* gflops);

/* ---------------------------------------------------------------- struct initialisers
 * Each returns the struct with struct_size set for this header and every other field zero. */
#ifdef __cplusplus
#  define DC_ZERO_INIT {}
#else
#  define DC_ZERO_INIT {0}
#endif
#define DC_DEFINE_STRUCT_INIT(type)          \
  static inline type type##_init(void) {     \
    type value = DC_ZERO_INIT;               \
    value.struct_size = sizeof value;        \
    return value;                            \
  }
DC_DEFINE_STRUCT_INIT(dc_backend_info)
DC_DEFINE_STRUCT_INIT(dc_memory_stats)
DC_DEFINE_STRUCT_INIT(dc_tensor_desc)
DC_DEFINE_STRUCT_INIT(dc_gemm_params)
DC_DEFINE_STRUCT_INIT(dc_attention_params)
DC_DEFINE_STRUCT_INIT(dc_norm_params)
DC_DEFINE_STRUCT_INIT(dc_kv_ring_state)
#undef DC_DEFINE_STRUCT_INIT
#undef DC_ZERO_INIT

#ifdef __cplusplus
}
#endif

#endif /* DITCACHE_H */
