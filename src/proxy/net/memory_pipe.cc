#include "proxy/net/memory_pipe.h"

namespace halyard::proxy::net {

namespace {

// A consumed prefix is cut off once it is this large and most of the queue, so a queue that is
// never empty (a long stream) does not grow, and one that often is costs no copies.
constexpr size_t kCompactAt = 16 * 1024;

void compact(std::string& queue, size_t& offset) {
  if (offset == queue.size()) {
    queue.clear();
    offset = 0;
  } else if (offset >= kCompactAt && offset * 2 >= queue.size()) {
    queue.erase(0, offset);
    offset = 0;
  }
}

}  // namespace

void MemoryPipe::inputAdded() {
  if (inputSize() == 0) return;
  readable_.set();
  if (peek_) firePeek(asio::error_code());
}

void MemoryPipe::endInput() {
  if (input_ended_ || driver_closed_) return;
  input_ended_ = true;
  readable_.set();
}

void MemoryPipe::notify() {
  notified_ = true;
  readable_.set();
}

void MemoryPipe::takeInput(size_t bytes) {
  in_offset_ += bytes;
  compact(in_, in_offset_);
  if (driver_ && bytes > 0) driver_->onPipeRead(bytes);
}

void MemoryPipe::consumeOutput(size_t bytes) {
  out_offset_ += bytes;
  compact(out_, out_offset_);
  // The writer goes on once half the room is free, not for every byte taken.
  if (out_.size() - out_offset_ <= capacity_ / 2) writable_.set();
}

void MemoryPipe::closeDriverSide(bool aborted) {
  if (driver_closed_) return;
  driver_closed_ = true;
  aborted_ = aborted && !input_ended_;
  driver_ = nullptr;
  out_.clear();
  if (out_.capacity() > kKeptCapacity) out_.shrink_to_fit();
  out_offset_ = 0;
  readable_.set();
  writable_.set();
  if (peek_) firePeek(asio::error_code());
}

void MemoryPipe::firePeek(const asio::error_code& ec) {
  auto handler = std::move(peek_);
  peek_ = nullptr;
  const size_t n = ec || inputSize() == 0 ? 0 : 1;
  const asio::error_code result = !ec && n == 0 ? asio::error_code(asio::error::eof) : ec;
  asio::post(executor_, [handler = std::move(handler), result, n] { handler(result, n); });
}

void MemoryPipe::shutdownSend() {
  if (out_ended_) return;
  out_ended_ = true;
  if (driver_) driver_->onPipeOutput();
}

void MemoryPipe::cancel() {
  ++cancel_generation_;
  readable_.set();
  writable_.set();
  if (peek_) firePeek(asio::error::operation_aborted);
}

void MemoryPipe::reset() {
  driver_ = nullptr;
  for (std::string* queue : {&in_, &out_}) {
    queue->clear();
    if (queue->capacity() > kKeptCapacity) queue->shrink_to_fit();
  }
  in_offset_ = out_offset_ = 0;
  out_ended_ = inner_closed_ = driver_closed_ = input_ended_ = aborted_ = notified_ = false;
  readable_.reset();
  writable_.reset();
  peek_ = nullptr;
}

void MemoryPipe::close() {
  if (inner_closed_) return;
  inner_closed_ = true;
  out_ended_ = true;
  in_.clear();
  if (in_.capacity() > kKeptCapacity) in_.shrink_to_fit();
  in_offset_ = 0;
  cancel();
  if (driver_) driver_->onPipeOutput();
}

}  // namespace halyard::proxy::net
