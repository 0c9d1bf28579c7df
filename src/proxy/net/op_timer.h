// Bounds one asynchronous operation in time. arm() before starting the operation, disarm()
// when it completes; if the deadline passes first, `on_expire` runs (typically socket.cancel()),
// the operation completes with operation_aborted, and fired() tells the caller why.
//
// The expiry handler shares a small state block with the timer instead of pointing at it only:
// a handler that was already queued when the owner went away sees it gone and does nothing.
// (One thread: the timer and its handler run on the same io_context, so the count is plain.)
//
// Lazy: arming does not restart the underlying timer when a wait is already pending that ends
// no later than the new deadline, and disarming does not cancel it. Deadlines almost always
// move forward (now + a timeout, for every read and write), so the common arm/disarm pair costs
// no timer-queue operation (each one takes the reactor's lock); a wait that ends before the
// current deadline simply waits again for the rest.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <utility>

#include "common/local_shared.h"

namespace halyard::proxy::net {

class OpTimer {
 public:
  using Clock = std::chrono::steady_clock;

  // The Asio timer and the state are made at the first arm: many timers are never armed (those
  // of an HTTP/2 stream's in-memory reads and writes), and making an Asio timer takes the
  // execution context's service lock.
  explicit OpTimer(const asio::any_io_executor& executor) : executor_(executor) {}
  ~OpTimer() {
    if (!state_) return;
    state_->alive = false;
    state_->active = false;
    state_->on_expire = nullptr;
  }
  OpTimer(const OpTimer&) = delete;
  OpTimer& operator=(const OpTimer&) = delete;

  template <class OnExpire>
  void armAt(Clock::time_point deadline, OnExpire on_expire) {
    if (!state_) {
      state_ = common::makeLocalShared<State>();
      timer_.emplace(executor_);
    }
    State& s = *state_;
    s.fired = false;
    s.active = true;
    s.deadline = deadline;
    s.on_expire = std::move(on_expire);
    if (s.waiting && timer_->expiry() <= deadline) return;
    startWait(deadline);
  }

  template <class OnExpire>
  void arm(Clock::duration timeout, OnExpire on_expire) {
    armAt(Clock::now() + timeout, std::move(on_expire));
  }

  void disarm() {
    if (state_) state_->active = false;
  }

  // The last armed deadline passed before disarm().
  bool fired() const { return state_ && state_->fired; }

 private:
  struct State {
    Clock::time_point deadline;
    std::function<void()> on_expire;
    uint64_t wait = 0;     // the current wait's number; older handlers do nothing
    bool waiting = false;  // a wait is pending on the timer
    bool active = false;   // armed and not yet disarmed or fired
    bool fired = false;
    bool alive = true;  // the OpTimer still exists
  };

  void startWait(Clock::time_point at) {
    const uint64_t wait = ++state_->wait;
    state_->waiting = true;
    timer_->expires_at(at);  // a pending wait completes as cancelled, with a stale number
    timer_->async_wait([state = state_, wait, self = this](const asio::error_code& ec) {
      State& s = *state;
      if (wait != s.wait) return;
      s.waiting = false;
      if (ec || !s.alive || !s.active) return;
      if (Clock::now() < s.deadline) {
        self->startWait(s.deadline);  // ended early: the deadline moved on since
        return;
      }
      s.active = false;
      s.fired = true;
      s.on_expire();
    });
  }

  asio::any_io_executor executor_;
  std::optional<asio::steady_timer> timer_;
  common::LocalShared<State> state_;
};

}  // namespace halyard::proxy::net
