// Incremental decoder of the chunked transfer coding (RFC 9112 §7.1). It keeps no pointer into
// its input and buffers nothing: body bytes come back as views into the bytes passed in, and
// every framing byte is consumed as it arrives, so input may be split anywhere, down to one
// byte per call.
//
//   while (!input.empty()) {
//     auto step = decoder.decode(input);
//     input = input.subspan(step.consumed);
//     if (step.status == ChunkedStatus::kData) forward(step.data);
//     else if (step.status == ChunkedStatus::kDone) break;   // input: the next message
//     else if (step.status == ChunkedStatus::kError) fail(decoder.error());
//   }                                                        // kNeedMore: all input consumed
//
// Chunk extensions are accepted and ignored; trailer fields are checked and discarded, which
// §7.1.2 allows a recipient that removes the chunked coding to do.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "proxy/http/h1_types.h"

namespace halyard::proxy::http {

struct ChunkedLimits {
  size_t max_chunk_line_bytes = 4 * 1024;  // chunk-size, extensions and CRLF of one chunk
  size_t max_trailer_bytes = 60 * 1024;    // the whole trailer section
};

enum class ChunkedStatus : uint8_t { kNeedMore, kData, kDone, kError };

struct ChunkedStep {
  ChunkedStatus status = ChunkedStatus::kNeedMore;
  size_t consumed = 0;    // input bytes used by this step, framing and data
  std::string_view data;  // body bytes (a view into the input) when status == kData
};

class ChunkedDecoder {
 public:
  explicit ChunkedDecoder(const ChunkedLimits& limits = {}) : limits_(limits) {}

  // Consumes framing until it reaches body bytes (returned as kData, up to the end of the
  // chunk or of the input), the end of the body (kDone: the rest of the input is not part of
  // it), an error, or the end of the input (kNeedMore). After kDone or kError, returns the
  // same status and consumes nothing until reset().
  ChunkedStep decode(std::span<const char> input);

  // The status is 400; when decoding an upstream response the proxy answers 502 instead.
  const ParseError& error() const { return error_; }
  bool done() const { return state_ == State::kDone; }

  void reset() { *this = ChunkedDecoder(limits_); }

  // Largest chunk size accepted: keeps byte counts within signed 64-bit offsets.
  static constexpr uint64_t kMaxChunkSize = (uint64_t{1} << 62) - 1;

 private:
  enum class State : uint8_t {
    kSize,       // chunk-size hex digits
    kExtension,  // after ';' until CR
    kSizeLf,     // CR of the size line seen
    kData,       // chunk_remaining_ bytes of data left
    kDataCr,     // data done, CRLF expected
    kDataLf,
    kTrailerStart,  // at the start of a trailer line or of the final CRLF
    kTrailerName,
    kTrailerValue,
    kTrailerLf,  // CR of a trailer line seen
    kFinalLf,    // CR of the final empty line seen
    kDone,
    kError,
  };

  ChunkedStep fail(size_t consumed, std::string_view reason);
  bool inTrailer() const { return state_ >= State::kTrailerStart && state_ <= State::kFinalLf; }

  ChunkedLimits limits_;
  State state_ = State::kSize;
  uint64_t chunk_size_ = 0;
  uint64_t chunk_remaining_ = 0;
  size_t size_digits_ = 0;
  size_t line_bytes_ = 0;     // bytes of the current chunk-size line
  size_t trailer_bytes_ = 0;  // bytes of the trailer section so far
  ParseError error_;
};

}  // namespace halyard::proxy::http
