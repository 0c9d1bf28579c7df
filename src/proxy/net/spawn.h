// Starting a coroutine that nobody awaits. Data-plane coroutines do not throw (I/O results are
// tuples, see net/awaitable.h); anything that still escapes (bad_alloc) is logged here instead
// of vanishing, and never crosses into the event loop.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/co_spawn.hpp>
#include <asio/io_context.hpp>
#include <asio/version.hpp>
#include <exception>
#include <utility>

#include "common/log.h"
#include "proxy/net/awaitable.h"

namespace halyard::proxy::net {

namespace spawn_detail {

inline void logEscaped(std::exception_ptr e) {
  if (!e) return;
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& ex) {
    HLOG_ERROR("coroutine failed: {}", ex.what());
  } catch (...) {
    HLOG_ERROR("coroutine failed with an unknown exception");
  }
}

// The bottom frame of a detached coroutine's thread of execution: runs the task and logs what
// escapes it. asio::co_spawn's own bottom frame also takes two work-tracking copies of the
// executor, resumes itself once through dispatch() and dispatches the completion handler at the
// end: some hundreds of instructions, several type-erased calls and four atomic operations per
// spawn, and an HTTP/2 connection spawns one coroutine per stream.
inline asio::awaitable<asio::detail::awaitable_thread_entry_point, asio::any_io_executor>
detachedEntry(net::awaitable<void> task) {
  std::exception_ptr escaped;
  try {
    co_await std::move(task);
  } catch (...) {
    escaped = std::current_exception();
  }
  logEscaped(escaped);
}

}  // namespace spawn_detail

// Runs `task` at once on this thread, up to its first suspension, when the executor is the
// io_context running here (as co_spawn does there: its first dispatch runs inline); from any
// other thread it goes through co_spawn, which hands it to the executor.
// awaitable_thread is Asio's internal type (1.22, Debian 12's): the assertion below asks for a
// look at this function when Asio changes.
static_assert(ASIO_VERSION == 102201, "spawnDetached() relies on Asio 1.22's awaitable_thread");
template <class Executor>
void spawnDetached(const Executor& executor, net::awaitable<void> task) {
  const asio::any_io_executor any(executor);
  if (const auto* io = any.target<asio::io_context::executor_type>();
      io && io->running_in_this_thread()) {
    asio::detail::awaitable_thread<asio::any_io_executor>(
        spawn_detail::detachedEntry(std::move(task)), any, asio::cancellation_slot(),
        asio::cancellation_state())
        .launch();
    return;
  }
  asio::co_spawn(any, std::move(task), [](std::exception_ptr e) { spawn_detail::logEscaped(e); });
}

}  // namespace halyard::proxy::net
