// Starting a coroutine that nobody awaits. Data-plane coroutines do not throw (I/O results are
// tuples, see net/awaitable.h); anything that still escapes (bad_alloc) is logged here instead
// of vanishing, and never crosses into the event loop.
#pragma once

#include <asio/co_spawn.hpp>
#include <exception>

#include "common/log.h"
#include "proxy/net/awaitable.h"

namespace halyard::proxy::runtime {

template <class Executor>
void spawnDetached(const Executor& executor, net::awaitable<void> task) {
  asio::co_spawn(executor, std::move(task), [](std::exception_ptr e) {
    if (!e) return;
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& ex) {
      HLOG_ERROR("coroutine failed: {}", ex.what());
    } catch (...) {
      HLOG_ERROR("coroutine failed with an unknown exception");
    }
  });
}

}  // namespace halyard::proxy::runtime
