// For a test binary of its own that checks a path makes no heap allocation: replaces the global
// operator new and delete (malloc and free underneath) and counts the news. Include it in one
// file of the binary only (halyard_add_no_alloc_test in tests/CMakeLists.txt builds such a
// binary).
#pragma once

#include <atomic>
#include <cstdlib>
#include <new>

namespace halyard::test_support {

inline std::atomic<long> g_allocations{0};

// Calls to operator new so far, in this process.
inline long allocations() {
  return g_allocations.load(std::memory_order_relaxed);
}

}  // namespace halyard::test_support

void* operator new(std::size_t n) {
  halyard::test_support::g_allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
