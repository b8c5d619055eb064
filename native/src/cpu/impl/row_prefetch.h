// Requests the rows a later work item will touch a few at a time while the current item computes.
// Thousands of short, strided sequences (temporal attention) otherwise wait on memory for every row:
// the hardware prefetchers cannot follow dozens of interleaved strided rows, and requesting a whole
// item at once puts the current item's own loads behind a burst of misses. Rows are requested into
// L2 (prefetcht1), rows to be written with intent to write.
#pragma once
#include <cstdint>

namespace dc::cpu::DC_ISA_NS {
namespace {

class RowPrefetcher {
 public:
  // Forgets the rows not yet requested; the next item's rows are added after.
  void reset() {
    count_ = next_ = 0;
    row_ = 0;
  }

  // `rows` rows of `row_bytes` bytes, the first at `base`, `stride` bytes apart.
  void add(const void* base, int64_t stride, int64_t rows, int64_t row_bytes, bool write) {
    if (count_ == kMaxSegments || rows <= 0) return;
    segments_[count_++] = {static_cast<const char*>(base), stride, rows, row_bytes, write};
  }

  // Starts spreading the added rows over about as many ticks as the previous item made.
  void start() {
    int64_t rows = 0;
    for (int s = 0; s < count_; ++s) rows += segments_[s].rows;
    const int64_t ticks = ticks_ > 0 ? ticks_ : 16;
    per_tick_ = (rows + ticks - 1) / ticks;
    ticks_ = 0;
  }

  // Requests the next few rows.
  void tick() {
    ++ticks_;
    for (int64_t n = per_tick_; n > 0 && next_ < count_; --n) request_row();
  }

  // Requests every row not yet requested.
  void finish() {
    while (next_ < count_) request_row();
  }

 private:
  static constexpr int kMaxSegments = 8;
  struct Segment {
    const char* base;
    int64_t stride, rows, row_bytes;
    bool write;
  };

  void request_row() {
    const Segment& s = segments_[next_];
    const char* row = s.base + row_ * s.stride;
    const uintptr_t first = reinterpret_cast<uintptr_t>(row) & ~uintptr_t(63);
    const uintptr_t end = reinterpret_cast<uintptr_t>(row) + uintptr_t(s.row_bytes);
    for (uintptr_t line = first; line < end; line += 64) {
      if (s.write) {
        __builtin_prefetch(reinterpret_cast<const char*>(line), 1, 2);
      } else {
        __builtin_prefetch(reinterpret_cast<const char*>(line), 0, 2);
      }
    }
    if (++row_ == s.rows) {
      row_ = 0;
      ++next_;
    }
  }

  Segment segments_[kMaxSegments] = {};
  int count_ = 0, next_ = 0;
  int64_t row_ = 0;
  int64_t per_tick_ = 0, ticks_ = 0;
};

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
