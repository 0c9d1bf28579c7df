// Shared ownership inside one thread: std::shared_ptr with plain, not atomic, reference counts.
//
// Once a process has a second thread, std::shared_ptr counts with locked read-modify-write
// instructions. Each is a full barrier: the core waits for every earlier load and store before
// it goes on, so the cache misses around it stop overlapping. The objects of one request on a
// worker (an HTTP/2 stream's pipe, response encoder and exchange, its request path, the worker's
// upstream HTTP/2 sessions) are never seen by another thread, as workers share nothing, and a
// request copies and drops their pointers a few dozen times. libstdc++ has the same shared_ptr
// with a single-threaded lock policy; this header names it (elsewhere: std::shared_ptr).
//
// Never let one of these, or a copy of it, reach another thread.
#pragma once

#include <memory>
#include <utility>

namespace halyard::common {

#if defined(__GLIBCXX__)

inline constexpr __gnu_cxx::_Lock_policy kLocalPolicy = __gnu_cxx::_S_single;
template <class T>
using LocalShared = std::__shared_ptr<T, kLocalPolicy>;
template <class T>
using LocalWeak = std::__weak_ptr<T, kLocalPolicy>;
template <class T>
using EnableLocalSharedFromThis = std::__enable_shared_from_this<T, kLocalPolicy>;
template <class T, class... Args>
LocalShared<T> makeLocalShared(Args&&... args) {
  return std::__make_shared<T, kLocalPolicy>(std::forward<Args>(args)...);
}

#else

template <class T>
using LocalShared = std::shared_ptr<T>;
template <class T>
using LocalWeak = std::weak_ptr<T>;
template <class T>
using EnableLocalSharedFromThis = std::enable_shared_from_this<T>;
template <class T, class... Args>
LocalShared<T> makeLocalShared(Args&&... args) {
  return std::make_shared<T>(std::forward<Args>(args)...);
}

#endif

}  // namespace halyard::common
