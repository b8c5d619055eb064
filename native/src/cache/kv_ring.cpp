// Bounded KV cache for causal temporal attention: a ring of `capacity` entries per (batch, head).
// Appending past capacity moves the ring's start instead of shifting the stored entries, and
// attention reads the ring in place through dc_attention's prefix segment.
#include <algorithm>
#include <memory>

#include "../core/abi_struct.h"
#include "../core/handles.h"
#include "../core/status.h"
#include "../core/tensor.h"

struct dc_kv_ring {
  dc_tensor* k = nullptr;  // [B, H, capacity, D]
  dc_tensor* v = nullptr;
  int64_t capacity = 0, length = 0, start = 0, evicted = 0;
};

using namespace dc;

namespace {

// dst[:, :, slot0 : slot0 + n] <- src[:, :, src0 : src0 + n]
dc_status copy_slots(dc_tensor* dst, int64_t slot0, const dc_tensor* src, int64_t src0, int64_t n) {
  if (n == 0) return DC_OK;
  const int64_t shape[4] = {src->shape[0], src->shape[1], n, src->shape[3]};
  dc_tensor *dv = nullptr, *sv = nullptr;
  dc_status st = dc_tensor_view(dst, slot0 * dst->strides[2], 4, shape, dst->strides, &dv);
  if (st == DC_OK) st = dc_tensor_view(src, src0 * src->strides[2], 4, shape, src->strides, &sv);
  if (st == DC_OK) st = dc_copy(dv, sv);
  dc_tensor_release(dv);
  dc_tensor_release(sv);
  return st;
}

HandleRegistry<dc_kv_ring>& ring_handles() {
  // Leaked on purpose, like the tensor registry.
  static auto* registry = new HandleRegistry<dc_kv_ring>();
  return *registry;
}

dc_status check_ring(const dc_kv_ring* r) {
  if (!r) return fail(DC_ERR_INVALID_ARGUMENT, "kv ring handle is NULL");
  if (!ring_handles().live(r))
    return fail(DC_ERR_INVALID_ARGUMENT, "not a live kv ring handle (released or foreign)");
  return DC_OK;
}

}  // namespace

extern "C" {

dc_status dc_kv_ring_create(dc_dtype dtype, dc_device device, int64_t batch, int64_t heads,
                            int64_t capacity, int64_t head_dim, dc_kv_ring** out) {
  if (!out) return fail(DC_ERR_INVALID_ARGUMENT, "out is NULL");
  *out = nullptr;
  if (batch < 1 || heads < 1 || capacity < 1 || head_dim < 1)
    return fail(DC_ERR_SHAPE, "kv ring: batch, heads, capacity and head_dim must be >= 1");
  const int64_t shape[4] = {batch, heads, capacity, head_dim};
  dc_tensor *k = nullptr, *v = nullptr;
  DC_TRY(dc_tensor_zeros(dtype, device, 4, shape, &k));
  dc_status st = dc_tensor_zeros(dtype, device, 4, shape, &v);
  if (st != DC_OK) {
    dc_tensor_release(k);
    return st;
  }
  st = guard([&]() -> dc_status {
    auto r = std::make_unique<dc_kv_ring>();
    ring_handles().add(r.get());
    r->k = k;
    r->v = v;
    r->capacity = capacity;
    *out = r.release();
    return DC_OK;
  });
  if (st != DC_OK) {  // the storage goes with the ring that could not be made
    dc_tensor_release(k);
    dc_tensor_release(v);
  }
  return st;
}

dc_status dc_kv_ring_release(dc_kv_ring* ring) {
  if (!ring) return DC_OK;
  DC_TRY(check_ring(ring));
  dc_tensor_release(ring->k);
  dc_tensor_release(ring->v);
  ring->k = ring->v = nullptr;
  ring_handles().retire(ring);
  return DC_OK;
}

dc_status dc_kv_ring_append(dc_kv_ring* r, const dc_tensor* k, const dc_tensor* v) {
  DC_TRY(check_ring(r));
  DC_TRY(check_tensor(k, "k"));
  DC_TRY(check_tensor(v, "v"));
  DC_TRY(check_same_shape(k, "k", v, "v"));
  DC_TRY(check_dtype(k, "k", r->k->dtype));
  DC_TRY(check_dtype(v, "v", r->k->dtype));
  DC_TRY(check_ndim(k, "k", 4));
  if (k->shape[0] != r->k->shape[0] || k->shape[1] != r->k->shape[1] ||
      k->shape[3] != r->k->shape[3])
    return fail(DC_ERR_SHAPE, "k %s: batch, heads and head_dim must match the ring %s",
                shape_str(k), shape_str(r->k));
  const int64_t n = k->shape[2];
  if (n > r->capacity)
    return fail(DC_ERR_RANGE, "appending %lld entries to a ring of capacity %lld", (long long)n,
                (long long)r->capacity);
  // Entries land at slots (start + length + i) % capacity, in at most two contiguous runs.
  int64_t slot = (r->start + r->length) % r->capacity, done = 0;
  while (done < n) {
    const int64_t run = std::min(n - done, r->capacity - slot);
    DC_TRY(copy_slots(r->k, slot, k, done, run));
    DC_TRY(copy_slots(r->v, slot, v, done, run));
    done += run;
    slot = (slot + run) % r->capacity;
  }
  const int64_t overflow = r->length + n - r->capacity;
  if (overflow > 0) {
    r->start = (r->start + overflow) % r->capacity;
    r->evicted += overflow;
    r->length = r->capacity;
  } else {
    r->length += n;
  }
  return DC_OK;
}

dc_status dc_kv_ring_clear(dc_kv_ring* r) {
  DC_TRY(check_ring(r));
  r->length = r->start = r->evicted = 0;
  return DC_OK;
}

dc_status dc_kv_ring_state_get(const dc_kv_ring* r, dc_kv_ring_state* state) {
  DC_TRY(check_ring(r));
  DC_TRY(check_record(state, "dc_kv_ring_state", "state"));
  dc_kv_ring_state s{};
  s.capacity = r->capacity;
  s.length = r->length;
  s.start = r->start;
  s.evicted = r->evicted;
  s.bytes = r->k->storage->bytes + r->v->storage->bytes;
  write_record(state, s);
  return DC_OK;
}

dc_status dc_kv_ring_tensors(const dc_kv_ring* r, dc_tensor** k, dc_tensor** v) {
  DC_TRY(check_ring(r));
  if (!k || !v) return fail(DC_ERR_INVALID_ARGUMENT, "k and v are required");
  DC_TRY(dc_tensor_retain(r->k));
  DC_TRY(dc_tensor_retain(r->v));
  *k = r->k;
  *v = r->v;
  return DC_OK;
}

}  // extern "C"
