// Bounds one asynchronous operation in time. arm() before starting the operation, disarm()
// when it completes; if the deadline passes first, `on_expire` runs (typically socket.cancel()),
// the operation completes with operation_aborted, and fired() tells the caller why.
//
// The expiry handler shares a small state block with the timer instead of pointing at it, and
// each arm() has its own generation: a handler that was already queued when the operation
// finished (or when the owner went away) sees a stale generation and does nothing.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <memory>
#include <utility>

namespace halyard::proxy::net {

class OpTimer {
 public:
  using Clock = std::chrono::steady_clock;

  explicit OpTimer(const asio::any_io_executor& executor)
      : timer_(executor), state_(std::make_shared<State>()) {}
  ~OpTimer() { ++state_->generation; }
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

  template <class OnExpire>
  void armAt(Clock::time_point deadline, OnExpire on_expire) {
    const uint64_t generation = ++state_->generation;
    state_->fired = false;
    timer_.expires_at(deadline);
    timer_.async_wait(
        [state = state_, generation, f = std::move(on_expire)](const asio::error_code& ec) mutable {
          if (ec || state->generation != generation) return;
          state->fired = true;
          f();
        });
  }

  template <class OnExpire>
  void arm(Clock::duration timeout, OnExpire on_expire) {
    armAt(Clock::now() + timeout, std::move(on_expire));
  }

  void disarm() {
    ++state_->generation;
    timer_.cancel();
  }

  // The last armed deadline passed before disarm().
  bool fired() const { return state_->fired; }

 private:
  struct State {
    uint64_t generation = 0;
    bool fired = false;
  };
  asio::steady_timer timer_;
  std::shared_ptr<State> state_;
};

}  // namespace halyard::proxy::net
