// A one-thread, coroutine-friendly event: waiters suspend until set(). Waiters and setter must
// run on the same executor.
//
// Asio has no condition variable for coroutines; the usual idiom, a timer that never expires and
// is cancelled to wake its waiters, costs a lock of the execution context's service registry to
// make the timer and a lock of the reactor's timer queue for every wait and every wake-up. The
// HTTP/2 path makes several events per stream and waits on them for every request, so the
// waiters' completion handlers are kept here instead, and set() posts them: no timer, no lock.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <utility>
#include <vector>

namespace halyard::proxy::net {

class AsyncEvent {
 public:
  // `executor` must be an io_context's (every executor of the proxy is): the event keeps that
  // executor itself rather than the type-erased one, which is five times its size and posts
  // through more indirect calls.
  explicit AsyncEvent(const asio::any_io_executor& executor) : io_(ioExecutor(executor)) {}
  // Waiters still suspended here when the event goes are abandoned: their coroutines are
  // destroyed, never resumed (an owner outlives the coroutines that wait on its events).
  ~AsyncEvent() = default;
  AsyncEvent(const AsyncEvent&) = delete;
  AsyncEvent& operator=(const AsyncEvent&) = delete;

  // Wakes every waiter (each resumes through the executor, as a completed operation would).
  void set() {
    set_ = true;
    if (first_) {
      resume(std::move(*first_));
      first_.reset();
    }
    for (Handler& h : more_) resume(std::move(h));
    more_.clear();
  }
  // Back to unset, for the next round.
  void reset() { set_ = false; }

  asio::awaitable<void> wait() {
    while (!set_) co_await nextSet();
  }

  // One suspension until the next set(), without wait()'s coroutine frame: for a caller that
  // reset() the event and checks its own condition in a loop around this (the pipe's reads and
  // writes, the HTTP/2 writers). Each waits once or more per proxied request, and a frame is an
  // allocation and three resumptions through Asio's handler. Never call it with the event set:
  // the waiter would sleep until the set() after.
  asio::awaitable<void> nextSet() {
    return asio::async_initiate<const asio::use_awaitable_t<>&, void()>(
        [this](Handler handler) {
          if (!first_) {
            first_.emplace(std::move(handler));
          } else {
            more_.push_back(std::move(handler));
          }
        },
        asio::use_awaitable);
  }

 private:
  // What use_awaitable makes for an operation completing with no arguments: resuming it
  // resumes the waiting coroutine.
  using Handler = asio::detail::awaitable_handler<asio::any_io_executor>;

  // Posted inside a plain function object. Posted as it is, a handler with an executor of its
  // own is wrapped in a work_dispatcher, which takes a work-tracking copy of that executor (two
  // atomic operations and a few type-erased calls per wake-up, several wake-ups per proxied
  // request) only to run the handler on the same io_context when its turn comes.
  void resume(Handler h) {
    asio::post(io_, [h = std::move(h)]() mutable { h(); });
  }

  static asio::io_context::executor_type ioExecutor(const asio::any_io_executor& executor) {
    const auto* io = executor.target<asio::io_context::executor_type>();
    if (!io) {
      std::fputs("net::AsyncEvent needs an io_context's executor\n", stderr);
      std::abort();
    }
    return *io;
  }

  asio::io_context::executor_type io_;
  bool set_ = false;
  std::optional<Handler> first_;  // almost every event has at most one waiter
  std::vector<Handler> more_;
};

}  // namespace halyard::proxy::net
