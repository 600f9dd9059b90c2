#pragma once
// A standard allocator whose blocks start on a 64-byte cache line: a key row of 128 floats is
// then exactly 8 lines (malloc's 16-byte alignment spreads it over 9), which the gather
// kernel's prefetches and the hardware prefetcher both see.
#include <cstddef>
#include <cstdlib>
#include <new>
#include <vector>

namespace ra {

template <class T>
struct CacheLineAllocator {
  using value_type = T;
  CacheLineAllocator() = default;
  template <class U>
  CacheLineAllocator(const CacheLineAllocator<U>&) noexcept {}
  T* allocate(std::size_t n) {
    if (n > static_cast<std::size_t>(-1) / sizeof(T) - 64) throw std::bad_alloc();
    void* p = std::aligned_alloc(64, (n * sizeof(T) + 63) / 64 * 64);
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { std::free(p); }
  friend bool operator==(const CacheLineAllocator&, const CacheLineAllocator&) noexcept { return true; }
};

/// A std::vector on cache-line aligned storage.
template <class T>
using AlignedVector = std::vector<T, CacheLineAllocator<T>>;

}  // namespace ra
