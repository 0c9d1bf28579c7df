// A one-thread, coroutine-friendly event: waiters suspend until set(). Asio has no condition
// variable for coroutines; a timer that never expires by itself and is cancelled to wake every
// waiter is the usual idiom. Waiters and setter must run on the same executor.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/steady_timer.hpp>
#include <asio/use_awaitable.hpp>

namespace halyard::proxy::net {

class AsyncEvent {
 public:
  explicit AsyncEvent(const asio::any_io_executor& executor)
      : timer_(executor, asio::steady_timer::time_point::max()) {}

  // Cancelling a timer takes the reactor's timer lock; with nobody waiting there is nothing to
  // wake, and the HTTP/2 drivers set their events for every frame.
  void set() {
    set_ = true;
    if (waiters_ > 0) timer_.cancel();
  }
  // Back to unset, for the next round. The timer's expiry never changes (a cancel leaves it),
  // so nothing needs re-arming.
  void reset() { set_ = false; }

  asio::awaitable<void> wait() {
    while (!set_) {
      ++waiters_;
      co_await timer_.async_wait(asio::experimental::as_tuple(asio::use_awaitable));
      --waiters_;
    }
  }

 private:
  asio::steady_timer timer_;
  bool set_ = false;
  int waiters_ = 0;
};

}  // namespace halyard::proxy::net
