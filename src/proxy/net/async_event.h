// A one-thread, coroutine-friendly event: waiters suspend until set(). Waiters and setter must
// run on the same executor.
//
// Asio has no condition variable for coroutines; the usual idiom, a timer that never expires and
// is cancelled to wake its waiters, costs a lock of the execution context's service registry to
// make the timer and a lock of the reactor's timer queue for every wait and every wake-up. The
// HTTP/2 path makes several events per stream and waits on them for every request, so the
// waiters' completion handlers are kept here instead, and set() posts them: no timer, no lock.
// The wake-ups of one thread that are waiting for their turn go in one posted operation.
#pragma once

#include <asio/any_io_executor.hpp>
#include <asio/async_result.hpp>
#include <asio/awaitable.hpp>
#include <asio/io_context.hpp>
#include <asio/post.hpp>
#include <asio/use_awaitable.hpp>
#include <asio/version.hpp>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

namespace halyard::proxy::net {

// Resumer and nextSet() use Asio 1.22's awaitable internals (Debian 12's): look again when it
// changes.
static_assert(ASIO_VERSION == 102201, "net::AsyncEvent relies on Asio 1.22's awaitable internals");

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

  // One suspension until the next set(), in the caller's own frame: for a caller that reset()
  // the event and checks its own condition in a loop around this (the pipe's reads and writes,
  // the HTTP/2 writers). Each waits once or more per proxied request. wait() costs a frame of
  // its own, and an Asio operation (async_initiate with use_awaitable) one for its initiation:
  // each an allocation and several resumptions. This is the form Asio's awaitable accepts for
  // suspending the caller itself (awaitable_frame_base::await_transform of a function of the
  // frame), and Resumer resumes it there. Never call it with the event set: the waiter would
  // sleep until the set() after.
  auto nextSet() {
    return [this](asio::detail::awaitable_frame_base<asio::any_io_executor>* frame) {
      Resumer resumer(frame->detach_thread());
      if (!first_) {
        first_.emplace(std::move(resumer));
      } else {
        more_.push_back(std::move(resumer));
      }
      return static_cast<asio::detail::awaitable_thread<asio::any_io_executor>*>(nullptr);
    };
  }

  // Suspends until the event is set (at once if it is).
  asio::awaitable<void> wait() {
    while (!set_) co_await nextSet();
  }

 private:
  // The suspended coroutine's thread of execution, which resumes it where nextSet() suspended
  // it. (Asio's own handler for an operation completing with no arguments first pops the frame of
  // the operation's initiation, which nextSet() does not make.)
  class Resumer : public asio::detail::awaitable_handler_base<asio::any_io_executor, void> {
   public:
    using awaitable_handler_base::awaitable_handler_base;
    void operator()() {
      this->frame()->attach_thread(this);
      this->frame()->clear_cancellation_slot();
      this->pump();
    }
  };
  using Handler = Resumer;

  // The waiters set() wakes on one thread, waiting for their turn together: one operation
  // posted to the io_context resumes them all, in the order they were woken. A response burst
  // from an HTTP/2 upstream wakes one stream per response; one posted operation each would cost
  // every stream a pass through the scheduler (its mutex, taken twice, and its atomic count of
  // outstanding work).
  struct WakeBatch {
    explicit WakeBatch(asio::io_context::executor_type executor) : io(executor) {}
    // Not run (the io_context went first): the waiters are abandoned, as the event's own are.
    ~WakeBatch() {
      if (pending == this) pending = nullptr;
    }
    WakeBatch(const WakeBatch&) = delete;
    WakeBatch& operator=(const WakeBatch&) = delete;

    void run() {
      // Wake-ups from the waiters resumed here go to the next batch.
      if (pending == this) pending = nullptr;
      for (Handler& h : waiters) h();
    }

    asio::io_context::executor_type io;
    std::vector<Handler> waiters;
    // The batch of this thread not yet run, if any.
    static inline thread_local WakeBatch* pending = nullptr;
    // A batch that ran, kept with its list's capacity for the thread's next one: a burst's
    // wake-ups cost no allocation.
    static inline thread_local std::unique_ptr<WakeBatch> spare;
  };

  // Posted inside a plain function object. Posted as it is, a handler with an executor of its
  // own is wrapped in a work_dispatcher, which takes a work-tracking copy of that executor (two
  // atomic operations and a few type-erased calls per wake-up) only to run the handler on the
  // same io_context when its turn comes.
  void resume(Handler h) {
    WakeBatch* batch = WakeBatch::pending;
    if (!batch || batch->io != io_) {
      std::unique_ptr<WakeBatch> owned = std::move(WakeBatch::spare);
      if (owned) {
        owned->io = io_;
      } else {
        owned = std::make_unique<WakeBatch>(io_);
      }
      batch = owned.get();
      WakeBatch::pending = batch;
      asio::post(io_, [owned = std::move(owned)]() mutable {
        owned->run();
        owned->waiters.clear();
        if (!WakeBatch::spare) WakeBatch::spare = std::move(owned);
      });
    }
    batch->waiters.push_back(std::move(h));
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
