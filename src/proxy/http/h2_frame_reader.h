// Cuts received bytes into HTTP/2 frames, however the transport split them: a frame whole in
// the bytes given is handed on where it lies; one split across receive() calls is gathered in a
// buffer (at most one frame: the maximum frame size bounds it) and handed on once complete.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>

#include "proxy/http/h2_frame.h"

namespace halyard::proxy::http {

class H2FrameReader {
 public:
  enum class Status { kMore, kStopped, kTooLarge };

  explicit H2FrameReader(uint32_t max_frame_size = kH2DefaultMaxFrameSize)
      : max_frame_size_(max_frame_size) {}

  // Calls on_frame(const H2FrameHeader&, std::span<const uint8_t> payload) for each complete
  // frame, in order. kMore: all bytes taken (a partial frame kept); kStopped: on_frame returned
  // false (the rest is dropped); kTooLarge: a frame announced more than the maximum size (its
  // header is in `last`).
  template <class OnFrame>
  Status feed(std::span<const uint8_t> bytes, OnFrame&& on_frame) {
    const uint8_t* p = bytes.data();
    const uint8_t* end = p + bytes.size();
    if (!partial_.empty()) {
      // Finish the frame begun earlier.
      if (partial_.size() < kH2FrameHeaderSize) {
        const size_t n = std::min<size_t>(kH2FrameHeaderSize - partial_.size(), end - p);
        partial_.append(reinterpret_cast<const char*>(p), n);
        p += n;
        if (partial_.size() < kH2FrameHeaderSize) return Status::kMore;
        last_ = h2ParseFrameHeader(reinterpret_cast<const uint8_t*>(partial_.data()));
        if (last_.length > max_frame_size_) return Status::kTooLarge;
      }
      const size_t want = kH2FrameHeaderSize + last_.length - partial_.size();
      const size_t n = std::min<size_t>(want, end - p);
      partial_.append(reinterpret_cast<const char*>(p), n);
      p += n;
      if (n < want) return Status::kMore;
      const bool go = on_frame(
          last_, std::span<const uint8_t>(
                     reinterpret_cast<const uint8_t*>(partial_.data()) + kH2FrameHeaderSize,
                     last_.length));
      partial_.clear();
      if (!go) return Status::kStopped;
    }
    while (end - p >= static_cast<ptrdiff_t>(kH2FrameHeaderSize)) {
      last_ = h2ParseFrameHeader(p);
      if (last_.length > max_frame_size_) return Status::kTooLarge;
      if (static_cast<size_t>(end - p) < kH2FrameHeaderSize + last_.length) break;
      const bool go =
          on_frame(last_, std::span<const uint8_t>(p + kH2FrameHeaderSize, last_.length));
      p += kH2FrameHeaderSize + last_.length;
      if (!go) return Status::kStopped;
    }
    if (p < end) {
      partial_.assign(reinterpret_cast<const char*>(p), end - p);
      if (partial_.size() >= kH2FrameHeaderSize) {
        last_ = h2ParseFrameHeader(reinterpret_cast<const uint8_t*>(partial_.data()));
      }
    }
    return Status::kMore;
  }

  const H2FrameHeader& last() const { return last_; }
  // Whether a frame is partly received.
  bool midFrame() const { return !partial_.empty(); }

 private:
  uint32_t max_frame_size_;
  H2FrameHeader last_;
  std::string partial_;
};

}  // namespace halyard::proxy::http
