// An in-process byte stream between the HTTP/2 codec of a connection (the "driver") and the
// HTTP/1.1 request path serving one of its streams: what a local socket pair used to carry,
// without the socket pair. No system call, no epoll registration, no kernel copy: the driver
// appends to and takes from plain byte queues in its codec callbacks, and the request path
// reads and writes them through net::Transport as it would a socket.
//
// Bounds, as the small socket buffers of the pair gave them:
// - driver -> request path (`input`): not bounded here. The driver only puts in what the peer
//   sent within its HTTP/2 flow-control window, and returns window (onPipeRead) only as the
//   request path takes the bytes, so a slow request path stops the peer after one window.
// - request path -> driver (`output`): at most `capacity` bytes queued; a writer finding the
//   queue full waits until the driver took enough of it, as a full socket buffer would.
//
// Ends, as a socket pair's: the driver ending its input (endInput) lets the request path read
// what is queued and then end of stream; closing its side does too, or, when it closes without
// having ended the input (`aborted`), a reset after the queued bytes, so a body that runs until
// the end of the stream is never taken as complete when its stream was reset. Closing fails the
// request path's writes (broken pipe). The request path closing its side (or shutting down its
// sending side) shows the driver the end of the output.
//
// A driver that hands the request path something beside the bytes (a response head it parsed
// itself) wakes a pending read with notify(): that read returns with no bytes and no error.
//
// One thread: both sides run on the connection's executor.
#pragma once

#include <algorithm>
#include <asio/any_io_executor.hpp>
#include <asio/buffer.hpp>
#include <asio/error.hpp>
#include <asio/post.hpp>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <tuple>

#include "proxy/net/async_event.h"
#include "proxy/net/awaitable.h"

namespace halyard::proxy::net {

class MemoryPipe {
 public:
  // What the driver hears of the request path's side. Called synchronously from the request
  // path's reads, writes and close; the driver must not destroy the pipe from within.
  class Driver {
   public:
    // The request path took `bytes` of the input.
    virtual void onPipeRead(size_t bytes) = 0;
    // The request path wrote output, or ended it (shut down its sending side, or closed).
    virtual void onPipeOutput() = 0;

   protected:
    ~Driver() = default;
  };

  MemoryPipe(const asio::any_io_executor& executor, size_t capacity)
      : executor_(executor), capacity_(capacity), readable_(executor), writable_(executor) {}
  ~MemoryPipe() = default;
  MemoryPipe(const MemoryPipe&) = delete;
  MemoryPipe& operator=(const MemoryPipe&) = delete;

  // ---- the driver's side ----
  void setDriver(Driver* driver) { driver_ = driver; }
  // Bytes for the request path are appended here, then announced with inputAdded().
  std::string& input() { return in_; }
  void inputAdded();
  size_t inputSize() const { return in_.size() - in_offset_; }
  // No more input: once the queued bytes are read, end of stream.
  void endInput();
  bool inputEnded() const { return input_ended_; }
  // Wakes the request path's pending (or next) read with nothing read and no error.
  void notify();
  // What the request path wrote and the driver has not taken yet.
  std::string_view output() const { return std::string_view(out_).substr(out_offset_); }
  // The same bytes, writable: a parser that works in place (the HTTP/1.1 head parser) may.
  std::span<char> outputBytes() { return {out_.data() + out_offset_, out_.size() - out_offset_}; }
  void consumeOutput(size_t bytes);
  // The request path will write nothing more (it shut down its sending side or closed).
  bool outputEnded() const { return out_ended_; }
  // The request path closed its side: input it did not read is discarded.
  bool requestSideClosed() const { return inner_closed_; }
  // The driver is done: the request path reads what is queued, then end of stream (a reset when
  // `aborted` and the input was not ended); its writes fail. The driver hears nothing more.
  void closeDriverSide(bool aborted = false);

  // ---- the request path's side (through net::Transport) ----
  asio::any_io_executor executor() const { return executor_; }

  template <class MutableBuffers>
  awaitable<std::tuple<asio::error_code, size_t>> readSome(MutableBuffers buffers) {
    const uint64_t generation = cancelGeneration();
    while (!readReady() && generation == cancelGeneration()) co_await nextReadable();
    co_return readAfterWait(buffers, generation);
  }
  // readSome() in parts, for a reader that loops itself (runtime::readSome): without a frame of
  // its own, the wait costs one suspension and no allocation. The loop is readSome()'s above.
  uint64_t cancelGeneration() const { return cancel_generation_; }
  // One suspension until input, an end or a cancel() may have come.
  auto nextReadable() {
    readable_.reset();
    return readable_.nextSet();
  }
  // What the read returns once the wait that began at `generation` is over.
  template <class MutableBuffers>
  std::tuple<asio::error_code, size_t> readAfterWait(const MutableBuffers& buffers,
                                                     uint64_t generation) {
    if (inputSize() == 0 && generation != cancel_generation_) {
      return {asio::error::operation_aborted, 0};
    }
    return readNow(buffers);
  }
  // readSome() when readReady(): the same result without a coroutine frame (a frame and its
  // scheduling cost some hundreds of instructions, for a copy of a few bytes).
  template <class MutableBuffers>
  std::tuple<asio::error_code, size_t> readNow(const MutableBuffers& buffers) {
    if (inputSize() > 0) {
      const size_t n =
          asio::buffer_copy(buffers, asio::buffer(in_.data() + in_offset_, inputSize()));
      takeInput(n);
      return {asio::error_code(), n};
    }
    if (inner_closed_) return {asio::error::operation_aborted, 0};
    // Before the end: what the driver handed over beside the bytes may have come with it.
    if (notified_) {
      notified_ = false;
      return {asio::error_code(), 0};
    }
    if (input_ended_) return {asio::error::eof, 0};
    const asio::error_code end =
        aborted_ ? asio::error_code(asio::error::connection_reset) : asio::error::eof;
    return {end, 0};  // driver_closed_
  }

  // writeAll() when writeReady(asio::buffer_size(buffers)): the same, without a coroutine frame.
  template <class ConstBuffers>
  std::tuple<asio::error_code, size_t> writeNow(const ConstBuffers& buffers) {
    const size_t total = asio::buffer_size(buffers);
    if (total == 0) return {asio::error_code(), 0};
    if (inner_closed_) return {asio::error::operation_aborted, 0};
    if (driver_closed_ || out_ended_) return {asio::error::broken_pipe, 0};
    for (auto it = asio::buffer_sequence_begin(buffers); it != asio::buffer_sequence_end(buffers);
         ++it) {
      const asio::const_buffer b(*it);
      out_.append(static_cast<const char*>(b.data()), b.size());
    }
    if (driver_) driver_->onPipeOutput();
    return {asio::error_code(), total};
  }

  template <class ConstBuffers>
  awaitable<std::tuple<asio::error_code, size_t>> writeAll(ConstBuffers buffers) {
    const uint64_t generation = cancel_generation_;
    size_t written = 0;
    auto it = asio::buffer_sequence_begin(buffers);
    const auto end = asio::buffer_sequence_end(buffers);
    asio::const_buffer current = it != end ? asio::const_buffer(*it) : asio::const_buffer();
    while (true) {
      while (current.size() == 0 && it != end) {
        if (++it != end) current = asio::const_buffer(*it);
      }
      if (current.size() == 0) break;
      if (inner_closed_ || generation != cancel_generation_) {
        co_return std::tuple<asio::error_code, size_t>{asio::error::operation_aborted, written};
      }
      if (driver_closed_ || out_ended_) {
        co_return std::tuple<asio::error_code, size_t>{asio::error::broken_pipe, written};
      }
      const size_t queued = out_.size() - out_offset_;
      if (queued >= capacity_) {
        writable_.reset();
        co_await writable_.nextSet();
        continue;
      }
      const size_t n = std::min(current.size(), capacity_ - queued);
      out_.append(static_cast<const char*>(current.data()), n);
      current += n;
      written += n;
      if (driver_) driver_->onPipeOutput();
    }
    co_return std::tuple<asio::error_code, size_t>{asio::error_code(), written};
  }

  // A peek for the request path's client watch: `handler(ec, n)` runs (posted) once input is
  // waiting (n = 1), the driver closed (end of stream) or the watch was cancelled.
  template <class Handler>
  void peek(Handler&& handler) {
    peek_ = std::forward<Handler>(handler);
    if (inputSize() > 0 || driver_closed_) firePeek(asio::error_code());
  }

  // readSome() would return at once; writeAll() of `bytes` would not wait for room.
  bool readReady() const {
    return inputSize() > 0 || input_ended_ || driver_closed_ || inner_closed_ || notified_;
  }
  bool writeReady(size_t bytes) const {
    return driver_closed_ || out_ended_ || inner_closed_ ||
           out_.size() - out_offset_ + bytes <= capacity_;
  }

  void shutdownSend();
  void cancel();
  // Forgets a pending peek without running its handler (which would only learn that it was
  // cancelled): no post, for the watch every request on a stream sets and ends.
  void dropPeek() { peek_ = nullptr; }
  void close();

  // Back to a new pipe's state, for the owner's next stream, once nothing else holds it (no
  // reader, writer or peek pending): a pipe costs an allocation and its queues' buffers, and a
  // connection's streams come and go by the thousand. Queues keep up to kKeptCapacity.
  void reset();
  static constexpr size_t kKeptCapacity = 4096;

 private:
  void takeInput(size_t bytes);
  void firePeek(const asio::error_code& ec);

  asio::any_io_executor executor_;
  size_t capacity_;
  Driver* driver_ = nullptr;
  std::string in_;
  size_t in_offset_ = 0;
  std::string out_;
  size_t out_offset_ = 0;
  bool out_ended_ = false;
  bool inner_closed_ = false;
  bool driver_closed_ = false;
  bool input_ended_ = false;
  bool aborted_ = false;
  bool notified_ = false;
  uint64_t cancel_generation_ = 0;
  AsyncEvent readable_;  // input, end or cancellation for a waiting reader
  AsyncEvent writable_;  // room, end or cancellation for a waiting writer
  std::function<void(const asio::error_code&, size_t)> peek_;
};

}  // namespace halyard::proxy::net
