// Heap scratch owned by one kernel call, for tables and partial sums whose size depends on the
// shape (a fixed stack array would either overflow or cap the shape).
#pragma once
#include <cstddef>
#include <cstdint>

namespace dc::cpu::DC_ISA_NS {
namespace {

template <class T>
struct Scratch {
  T* p;
  explicit Scratch(int64_t n) : p(n > 0 ? new T[size_t(n)]() : nullptr) {}  // none for n = 0
  ~Scratch() { delete[] p; }
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  T& operator[](int64_t i) { return p[i]; }
};

}  // namespace
}  // namespace dc::cpu::DC_ISA_NS
