// Coverage-guided fuzzing (libFuzzer) of the C ABI's argument validation. The input is a program:
// each step picks an entry point and draws its arguments from the bytes — handles from a table of
// live, released (stale), NULL and foreign ones; shapes, strides, offsets and counts from a table
// of edge values (zero, negative, huge, overflowing); dtypes, devices and enum values in and out
// of range. Findings are crashes and sanitizer reports, plus the ABI's own promises, checked after
// every call (a trap when broken):
//   - the status is a dc_status, and a failure leaves a message;
//   - a released or foreign handle is refused with DC_ERR_INVALID_ARGUMENT;
//   - a versioned struct whose struct_size the library does not know is refused (and never read
//     or written past the caller's object, which the sanitizers would report);
//   - a query's answer is a string (never NULL) or a value in its range;
//   - when the program ends and its handles are released, the host pool holds what it held before
//     (and the ISA a step chose is set back).
// Built by CMake with DITCACHE_FUZZ=ON (clang); test/fuzz/c-abi/run.sh builds and runs it.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "ditcache.h"

namespace {

class Input {
 public:
  Input(const uint8_t* data, size_t size) : p_(data), end_(data + size) {}
  bool empty() const { return p_ == end_; }
  uint8_t byte() { return p_ < end_ ? *p_++ : 0; }
  template <class T, size_t N>
  T pick(const T (&xs)[N]) { return xs[byte() % N]; }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
};

const int64_t kDims[] = {0, 1, 1, 2, 2, 3, 4, 5, 8, 16, 33, -1, int64_t(1) << 24, int64_t(1) << 40, INT64_MAX, INT64_MIN};
const int64_t kOffsets[] = {0, 1, 2, 7, 64, -1, -64, int64_t(1) << 50, INT64_MAX, INT64_MIN};
const int kInts[] = {0, 1, 2, 3, 4, 8, -1, 9, 1 << 20, INT32_MIN, INT32_MAX};
const double kDoubles[] = {0, 1, -1, 0.5, 1e-6, 1e300, -1e300, 3.5e38};
// Steps added after the regression seeds were committed take op bytes that were dc_tensor_empty's
// (op % 20 == 0) and that no committed seed uses as a step, so that the seeds keep their programs;
// empty keeps the bytes 0, 20, 60, 120, 140, 160 and 240.
const uint8_t kLaterSteps[] = {40, 80, 100, 180, 200, 220};

[[noreturn]] void broken() { __builtin_trap(); }

// Dims the library would really allocate (non-negative, under its 2^48-element bound) are cut to
// at most 2^22 elements, largest dims to 1 first: the fuzzer looks for bad arguments, and a
// legitimate multi-GiB tensor is not one. Negative and overflowing shapes pass unchanged.
void bound(int64_t* dims, int n) {
  double product = 1;
  for (int i = 0; i < n; ++i) {
    if (dims[i] < 0) return;
    product *= double(dims[i]);
  }
  while (product > double(1 << 22) && product < double(int64_t(1) << 48)) {
    int largest = 0;
    for (int i = 1; i < n; ++i)
      if (dims[i] > dims[largest]) largest = i;
    product /= double(dims[largest]);
    dims[largest] = 1;
  }
}

// A versioned struct's struct_size: mostly its own, sometimes one the library must refuse.
template <class T>
size_t struct_size(Input& in, bool* unknown) {
  *unknown = in.byte() % 8 == 0;
  if (!*unknown) return sizeof(T);
  const size_t wrong[] = {0, 1, sizeof(T) - 8, sizeof(T) + 8, SIZE_MAX};
  return in.pick(wrong);
}

void check_status(dc_status s) {
  if (s < DC_OK || s > DC_ERR_INTERNAL) broken();
  if (s != DC_OK && dc_last_error()[0] == '\0') broken();
}

void check_string(const char* s) {
  if (!s) broken();
  (void)std::strlen(s);  // a terminated string the sanitizers may read to its end
}

bool valid_isa(dc_isa isa) { return isa >= DC_ISA_PORTABLE && isa <= DC_ISA_AMX; }

struct Program {
  std::vector<dc_tensor*> live;   // handles this program owns one reference to
  std::vector<dc_tensor*> stale;  // handles released for good
  std::vector<dc_kv_ring*> rings, stale_rings;
  alignas(64) unsigned char foreign[256] = {};
  std::vector<std::unique_ptr<unsigned char[]>> wrapped;  // caller memory, alive to the end

  dc_tensor* tensor(Input& in) {
    const uint8_t k = in.byte() % 16;
    if (k < 10 && !live.empty()) return live[in.byte() % live.size()];
    if (k < 12 && !stale.empty()) return stale[in.byte() % stale.size()];
    if (k < 14) return nullptr;
    return reinterpret_cast<dc_tensor*>(foreign + (k == 14 ? 0 : 8));
  }
  bool is_bad(const dc_tensor* t) const {
    for (const dc_tensor* s : stale)
      if (s == t) return true;
    return t == reinterpret_cast<const dc_tensor*>(foreign) ||
           t == reinterpret_cast<const dc_tensor*>(foreign + 8);
  }
  dc_kv_ring* ring(Input& in) {
    const uint8_t k = in.byte() % 8;
    if (k < 5 && !rings.empty()) return rings[in.byte() % rings.size()];
    if (k < 6 && !stale_rings.empty()) return stale_rings[in.byte() % stale_rings.size()];
    if (k < 7) return nullptr;
    return reinterpret_cast<dc_kv_ring*>(foreign);
  }
  // A shape of edge values (see bound()).
  int shape(Input& in, int64_t* s) {
    const int ndim = in.byte() % 6 == 5 ? in.pick(kInts) : in.byte() % 5;
    const int n = ndim < 0 ? 0 : ndim > DC_MAX_DIMS ? DC_MAX_DIMS : ndim;
    for (int i = 0; i < n; ++i) s[i] = in.pick(kDims);
    bound(s, n);
    return ndim;
  }
  // `t` by reference: read after the call that fills it (in keep(dc_tensor_empty(..., &out), out)
  // a copy may be taken first, as GCC evaluates arguments right to left, and keep NULL).
  void keep(dc_status s, dc_tensor* const& t) {
    check_status(s);
    if (s == DC_OK) live.push_back(t);
  }
  void expect_refused(dc_status s, std::initializer_list<const dc_tensor*> args) {
    check_status(s);
    for (const dc_tensor* t : args)
      if (t && is_bad(t) && s == DC_OK) broken();  // a stale or foreign handle was accepted
  }
  void release_one(Input& in) {
    if (live.empty()) return;
    const size_t i = in.byte() % live.size();
    dc_tensor* t = live[i];
    live.erase(live.begin() + long(i));
    check_status(dc_tensor_release(t));
    bool still_owned = false;
    for (dc_tensor* l : live) still_owned = still_owned || l == t;
    if (!still_owned) stale.push_back(t);
  }
  bool bad_ring(const dc_kv_ring* r) const {
    return r == reinterpret_cast<const dc_kv_ring*>(foreign) ||
           std::find(stale_rings.begin(), stale_rings.end(), r) != stale_rings.end();
  }
  void later_step(int which, Input& in) {
    switch (which) {
      case 0: {  // a ring's storage tensors, or clearing it
        dc_kv_ring* r = ring(in);
        dc_status st;
        if (in.byte() % 2) {
          dc_tensor *k = nullptr, *v = nullptr;
          const uint8_t outs = in.byte() % 4;  // which of the two out-pointers are passed
          st = dc_kv_ring_tensors(r, outs & 1 ? &k : nullptr, outs & 2 ? &v : nullptr);
          check_status(st);
          if (st == DC_OK && (outs != 3 || !k || !v)) broken();
          if (st == DC_OK) {
            live.push_back(k);
            live.push_back(v);
          }
        } else {
          st = dc_kv_ring_clear(r);
          check_status(st);
        }
        if (bad_ring(r) && st == DC_OK) broken();
        break;
      }
      case 1: {  // describing a tensor and its storage
        dc_tensor* t = tensor(in);
        size_t bytes = 0;
        expect_refused(dc_tensor_storage_bytes(t, in.byte() % 8 ? &bytes : nullptr), {t});
        dc_tensor_desc d{};
        bool unknown_size;
        d.struct_size = struct_size<dc_tensor_desc>(in, &unknown_size);
        const dc_status st = dc_tensor_describe(t, in.byte() % 8 ? &d : nullptr);
        expect_refused(st, {t});
        if (unknown_size && st == DC_OK) broken();
        if (st == DC_OK && (d.ndim < 0 || d.ndim > DC_MAX_DIMS || d.numel < 0)) broken();
        break;
      }
      case 2: {  // backends, devices and their memory
        int count = -1;
        dc_status st = dc_backend_count(in.byte() % 8 ? &count : nullptr);
        check_status(st);
        if (st == DC_OK && count < 1) broken();
        dc_backend_info info{};
        bool unknown_size;
        info.struct_size = struct_size<dc_backend_info>(in, &unknown_size);
        st = dc_backend_get(in.pick(kInts), in.byte() % 8 ? &info : nullptr);
        check_status(st);
        if (unknown_size && st == DC_OK) broken();
        if (st == DC_OK && std::memchr(info.name, '\0', sizeof info.name) == nullptr) broken();
        const dc_device device = dc_device(in.pick(kInts));
        check_status(dc_device_available(device));
        dc_memory_stats stats{};
        stats.struct_size = struct_size<dc_memory_stats>(in, &unknown_size);
        st = dc_memory_stats_get(device, in.byte() % 8 ? &stats : nullptr);
        check_status(st);
        if (unknown_size && st == DC_OK) broken();
        check_status(in.byte() % 2 ? dc_memory_trim(device) : dc_synchronize(device));
        break;
      }
      case 3: {  // names and build facts, for any code
        const int code = in.pick(kInts);
        check_string(dc_status_name(dc_status(code)));
        check_string(dc_dtype_name(dc_dtype(code)));
        check_string(dc_isa_name(dc_isa(code)));
        if (dc_dtype_size(dc_dtype(code)) > 8) broken();
        int major = -1, minor = -1, patch = -1;
        dc_version(in.byte() % 4 ? &major : nullptr, &minor, in.byte() % 4 ? &patch : nullptr);
        check_string(dc_version_string());
        check_string(dc_build_info());
        check_string(dc_cpu_dispatch_info());
        if (!valid_isa(dc_cpu_isa()) || !valid_isa(dc_cpu_isa_detected())) broken();
        const int bf16 = dc_cpu_has_bf16();
        if (bf16 != 0 && bf16 != 1) broken();
        break;
      }
      case 4: {  // the ISA in use (set back when the program ends)
        const dc_status st = dc_cpu_set_isa(dc_isa(in.pick(kInts)));
        check_status(st);
        if (!valid_isa(dc_cpu_isa())) broken();
        break;
      }
      default: {  // the FMA roof, valid calls kept to one or two threads and a millisecond
        const double kSeconds[] = {1e-3, 1e-4, 0, -1, 61, 1e300, NAN, INFINITY};
        const int n = in.pick(kInts);
        const int threads = n >= 1 && n <= 1024 ? 1 + n % 2 : n;
        double gflops = -1;
        const dc_status st = dc_cpu_fma_peak(threads, in.pick(kSeconds), in.byte() % 8 ? &gflops : nullptr);
        check_status(st);
        if (st == DC_OK && !(gflops > 0)) broken();
      }
    }
  }
  void step(Input& in) {
    int64_t s1[DC_MAX_DIMS] = {}, s2[DC_MAX_DIMS] = {};
    dc_tensor* out = nullptr;
    const uint8_t op = in.byte();
    const uint8_t* later = std::find(std::begin(kLaterSteps), std::end(kLaterSteps), op);
    if (later != std::end(kLaterSteps)) return later_step(int(later - kLaterSteps), in);
    switch (op % 20) {
      case 0: {
        const int nd = shape(in, s1);
        keep(dc_tensor_empty(dc_dtype(in.byte() % 8), dc_device(in.byte() % 3), nd, s1, &out), out);
        break;
      }
      case 1: {
        const int nd = shape(in, s1);
        keep(dc_tensor_zeros(dc_dtype(in.byte() % 7), DC_DEVICE_CPU, nd, s1, &out), out);
        break;
      }
      case 2: {
        dc_tensor* base = tensor(in);
        const int64_t offset = in.pick(kOffsets);
        const int nd = shape(in, s1);
        const bool strided = in.byte() & 1;
        for (int i = 0; i < DC_MAX_DIMS; ++i) s2[i] = in.pick(kOffsets);
        const dc_status st = dc_tensor_view(base, offset, nd, s1, strided ? s2 : nullptr, &out);
        expect_refused(st, {base});
        if (st == DC_OK) live.push_back(out);
        break;
      }
      case 3: {
        const int nd = shape(in, s1);
        for (int i = 0; i < DC_MAX_DIMS; ++i) s2[i] = in.pick(kOffsets);
        const size_t size = size_t(in.byte()) * 16;
        wrapped.emplace_back(new unsigned char[size + 8]());
        // `bytes` is the caller's word for the buffer's size: never more than it really has.
        const size_t bytes = in.byte() % 2 ? size : std::min(size, size_t(in.byte()) * 4);
        unsigned char* data = in.byte() % 8 ? wrapped.back().get() : nullptr;
        keep(dc_tensor_wrap(dc_dtype(in.byte() % 7), nd, s1, in.byte() % 2 ? s2 : nullptr,
                            data, bytes, nullptr, nullptr, &out),
             out);
        break;
      }
      case 4: release_one(in); break;
      case 5: {
        dc_tensor* t = tensor(in);
        const dc_status st = dc_tensor_retain(t);
        expect_refused(st, {t});
        if (st == DC_OK) live.push_back(t);
        break;
      }
      case 6: {
        dc_tensor *a = tensor(in), *b = tensor(in);
        expect_refused(dc_copy(a, b), {a, b});
        break;
      }
      case 7: {
        dc_tensor* t = tensor(in);
        expect_refused(dc_fill(t, in.pick(kDoubles)), {t});
        break;
      }
      case 8: {
        dc_tensor* t = tensor(in);
        std::vector<float> buf(size_t(in.byte()) * 4);
        const size_t count = in.byte() % 4 ? buf.size() : size_t(in.pick(kOffsets));
        // The contract is that dst holds dst_count floats, which the library cannot check: the buffer
        // grows to a small claimed count, and a claim too large to back is made only where the
        // tensor's element count differs (the refusal under test).
        dc_tensor_desc desc{};
        desc.struct_size = sizeof desc;
        const bool described = t && dc_tensor_describe(t, &desc) == DC_OK;
        if (count > buf.size() && count <= (size_t(1) << 16)) buf.resize(count);
        if (count > buf.size() && described && size_t(desc.numel) == count) break;
        expect_refused(dc_tensor_read_f32(t, buf.data(), count), {t});
        break;
      }
      case 9: {
        dc_tensor* t = tensor(in);
        std::vector<int64_t> buf(size_t(in.byte()) * 2);
        expect_refused(dc_tensor_write(t, buf.data(), dc_dtype(in.byte() % 8), buf.size()), {t});
        break;
      }
      case 10: {
        dc_tensor *a = tensor(in), *w = tensor(in), *o = tensor(in), *bias = tensor(in);
        dc_gemm_params p{};
        bool unknown_size;
        p.struct_size = struct_size<dc_gemm_params>(in, &unknown_size);
        p.bias = in.byte() % 2 ? bias : nullptr;
        p.activation = dc_activation(in.pick(kInts));
        p.residual = in.byte() % 2 ? o : nullptr;
        // Without params the bias is not an argument, so only passed handles must be refused.
        const bool with_params = in.byte() % 2;
        const dc_status st = dc_gemm(a, w, o, with_params ? &p : nullptr);
        expect_refused(st, {a, w, o, with_params ? p.bias : nullptr});
        if (with_params && unknown_size && st == DC_OK) broken();
        break;
      }
      case 11: {
        dc_tensor *q = tensor(in), *k = tensor(in), *v = tensor(in), *o = tensor(in);
        dc_attention_params p{};
        bool unknown_size;
        p.struct_size = struct_size<dc_attention_params>(in, &unknown_size);
        p.scale = float(in.pick(kDoubles) > 1e38 ? 1.0 : in.pick(kDoubles));
        p.causal = in.byte() & 1;
        p.key_mask = in.byte() % 3 == 0 ? tensor(in) : nullptr;
        if (in.byte() % 2) {
          p.prefix_k = tensor(in);
          p.prefix_v = tensor(in);
          p.prefix_start = in.pick(kOffsets);
          p.prefix_len = in.pick(kOffsets);
        }
        p.rope_freqs = in.byte() % 3 == 0 ? tensor(in) : nullptr;
        p.q_pos0 = in.pick(kOffsets);
        p.k_pos0 = in.pick(kOffsets);
        const dc_status st = dc_attention(q, k, v, o, &p);
        expect_refused(st, {q, k, v, o});
        if (unknown_size && st == DC_OK) broken();
        break;
      }
      case 12: {
        dc_tensor *x = tensor(in), *o = tensor(in), *w = tensor(in), *g = tensor(in);
        dc_norm_params p{};
        bool unknown_size;
        p.struct_size = struct_size<dc_norm_params>(in, &unknown_size);
        p.weight = in.byte() % 2 ? w : nullptr;
        p.shift = p.scale = in.byte() % 2 ? g : nullptr;
        p.eps = float(in.byte()) * 1e-3f;
        const dc_status st = in.byte() % 2 ? dc_layernorm(x, o, &p) : dc_rmsnorm(x, o, &p);
        expect_refused(st, {x, o, p.weight, p.shift});
        if (unknown_size && st == DC_OK) broken();
        break;
      }
      case 13: {
        dc_tensor *x = tensor(in), *y = tensor(in), *o = tensor(in);
        switch (in.byte() % 5) {
          case 0: expect_refused(dc_softmax(x, o), {x, o}); break;
          case 1: expect_refused(dc_mul(x, y, o), {x, y, o}); break;
          case 2: expect_refused(dc_axpby(0.5f, x, 2.f, y, o), {x, y, o}); break;
          case 3: expect_refused(dc_activate(x, dc_activation(in.pick(kInts)), o), {x, o}); break;
          default: expect_refused(dc_modulate(x, y, y, o), {x, y, o});
        }
        break;
      }
      case 14: {
        dc_tensor *x = tensor(in), *f = tensor(in), *o = tensor(in);
        expect_refused(dc_rope(x, f, in.pick(kOffsets), o), {x, f, o});
        break;
      }
      case 15: {
        dc_tensor *x = tensor(in), *o = tensor(in);
        const int pt = in.pick(kInts), ph = in.pick(kInts), pw = in.pick(kInts);
        expect_refused(in.byte() % 2 ? dc_patchify(x, pt, ph, pw, o) : dc_unpatchify(x, pt, ph, pw, o), {x, o});
        break;
      }
      case 16: {
        dc_tensor *c = tensor(in), *f = tensor(in);
        double num = 0, den = 0;
        expect_refused(dc_residual_distance(c, f, dc_norm_kind(in.pick(kInts)), in.byte() & 1, &num, &den), {c, f});
        int64_t strides[4];
        for (auto& st : strides) st = in.pick(kOffsets);
        double nums[4], dens[4];
        expect_refused(dc_motion_score(c, in.pick(kOffsets), strides, in.byte() % 6, nums, dens), {c});
        break;
      }
      case 17: {
        dc_kv_ring* r = nullptr;
        int64_t d[4] = {in.pick(kDims), in.pick(kDims), in.pick(kDims), in.pick(kDims)};
        bound(d, 4);
        const dc_status st = dc_kv_ring_create(dc_dtype(in.byte() % 7), dc_device(in.byte() % 3),
                                               d[0], d[1], d[2], d[3], &r);
        check_status(st);
        if (st == DC_OK) rings.push_back(r);
        break;
      }
      case 18: {
        dc_kv_ring* r = ring(in);
        dc_tensor *k = tensor(in), *v = tensor(in);
        dc_kv_ring_state s{};
        bool unknown_size;
        s.struct_size = struct_size<dc_kv_ring_state>(in, &unknown_size);
        const bool bad = bad_ring(r);
        const bool append = in.byte() % 2;
        dc_status st = append ? dc_kv_ring_append(r, k, v) : dc_kv_ring_state_get(r, &s);
        if (append) expect_refused(st, {k, v});
        check_status(st);
        if (bad && st == DC_OK) broken();
        if (!append && unknown_size && st == DC_OK) broken();
        if (in.byte() % 4 == 0) {
          st = dc_kv_ring_release(r);
          check_status(st);
          if (bad && st != DC_ERR_INVALID_ARGUMENT) broken();
          auto it = std::find(rings.begin(), rings.end(), r);
          if (it != rings.end()) {
            rings.erase(it);
            stale_rings.push_back(r);
          }
        }
        break;
      }
      default: {
        // Step 19 is two calls, told apart by op / 20: even sets the thread count, as step 19 did
        // alone before (the regression seeds' step-19 bytes are all even, so they keep their
        // programs); odd packs a GEMM weight.
        if (op / 20 % 2) {
          dc_tensor* w = tensor(in);
          const dc_status st = dc_gemm_pack_weight(w, dc_dtype(in.byte() % 8), &out);
          expect_refused(st, {w});
          if (st == DC_OK) live.push_back(out);
          break;
        }
        const int n = in.pick(kInts);
        const dc_status st = dc_set_num_threads(n >= 1 && n <= 1024 ? 1 + n % 2 : n);
        check_status(st);
        if (dc_get_num_threads() < 1) broken();
      }
    }
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dc_memory_stats before = dc_memory_stats_init(), after = dc_memory_stats_init();
  dc_memory_stats_get(DC_DEVICE_CPU, &before);
  const dc_isa isa = dc_cpu_isa();
  {
    Program program;
    Input in(data, size);
    for (int steps = 0; steps < 64 && !in.empty(); ++steps) program.step(in);
    for (dc_tensor* t : program.live) check_status(dc_tensor_release(t));
    for (dc_kv_ring* r : program.rings) check_status(dc_kv_ring_release(r));
  }
  if (dc_cpu_isa() != isa && dc_cpu_set_isa(isa) != DC_OK) broken();
  dc_memory_stats_get(DC_DEVICE_CPU, &after);
  if (after.bytes_in_use != before.bytes_in_use) broken();
  return 0;
}
