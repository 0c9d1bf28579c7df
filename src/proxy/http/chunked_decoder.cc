#include "proxy/http/chunked_decoder.h"

#include <algorithm>

#include "proxy/http/h1_syntax.h"

namespace halyard::proxy::http {

namespace {

int hexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

}  // namespace

ChunkedStep ChunkedDecoder::fail(size_t consumed, std::string_view reason) {
  state_ = State::kError;
  error_ = ParseError{400, reason};
  return ChunkedStep{ChunkedStatus::kError, consumed, {}};
}

ChunkedStep ChunkedDecoder::decode(std::span<const char> input) {
  if (state_ == State::kDone) return ChunkedStep{ChunkedStatus::kDone, 0, {}};
  if (state_ == State::kError) return ChunkedStep{ChunkedStatus::kError, 0, {}};
  size_t pos = 0;
  while (pos < input.size()) {
    if (state_ == State::kData) {
      const size_t n =
          static_cast<size_t>(std::min<uint64_t>(chunk_remaining_, input.size() - pos));
      chunk_remaining_ -= n;
      if (chunk_remaining_ == 0) state_ = State::kDataCr;
      return ChunkedStep{ChunkedStatus::kData, pos + n, std::string_view(input.data() + pos, n)};
    }
    const char c = input[pos++];
    if ((state_ == State::kSize || state_ == State::kExtension) &&
        ++line_bytes_ > limits_.max_chunk_line_bytes) {
      return fail(pos, "chunk size line too long");
    }
    if (inTrailer() && ++trailer_bytes_ > limits_.max_trailer_bytes) {
      return fail(pos, "trailer section too large");
    }
    switch (state_) {
      // RFC 9112 §7.1: chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF, with
      // chunk-size = 1*HEXDIG. Anything but a hex digit, ';' or CR ends it: "0x5", "-1",
      // " 5" and "5 " are all errors, so every parser downstream agrees on the size.
      case State::kSize: {
        const int digit = hexValue(c);
        if (digit >= 0) {
          if (chunk_size_ > (kMaxChunkSize - static_cast<uint64_t>(digit)) / 16) {
            return fail(pos, "chunk size too large");
          }
          chunk_size_ = chunk_size_ * 16 + static_cast<uint64_t>(digit);
          ++size_digits_;
        } else if (size_digits_ == 0) {
          return fail(pos, "invalid chunk size");
        } else if (c == ';') {
          state_ = State::kExtension;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else {
          return fail(pos, "invalid chunk size");
        }
        break;
      }
      // chunk-ext = *( BWS ";" BWS ext-name [ BWS "=" BWS ext-val ] ): accepted and ignored,
      // but bounded (it is unbounded work that carries no body) and free of controls.
      case State::kExtension:
        if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (!syntax::isFieldValueChar(c)) {
          return fail(pos, "invalid character in chunk extension");
        }
        break;
      case State::kSizeLf:
        if (c != '\n') return fail(pos, "chunk size line not ended by CRLF");
        if (chunk_size_ == 0) {
          state_ = State::kTrailerStart;  // last-chunk
        } else {
          chunk_remaining_ = chunk_size_;
          state_ = State::kData;
        }
        break;
      case State::kDataCr:
        if (c != '\r') return fail(pos, "chunk data not followed by CRLF");
        state_ = State::kDataLf;
        break;
      case State::kDataLf:
        if (c != '\n') return fail(pos, "chunk data not followed by CRLF");
        state_ = State::kSize;
        chunk_size_ = 0;
        size_digits_ = 0;
        line_bytes_ = 0;
        break;
      // §7.1.2: trailer-section = *( field-line CRLF ), then the final CRLF. Field lines
      // follow the header rules: token name, no whitespace before ':', no obs-fold.
      case State::kTrailerStart:
        if (c == '\r') {
          state_ = State::kFinalLf;
        } else if (syntax::isTokenChar(c)) {
          state_ = State::kTrailerName;
        } else {
          return fail(pos, "invalid trailer line");
        }
        break;
      case State::kTrailerName:
        if (c == ':') {
          state_ = State::kTrailerValue;
        } else if (!syntax::isTokenChar(c)) {
          return fail(pos, "invalid trailer line");
        }
        break;
      case State::kTrailerValue:
        if (c == '\r') {
          state_ = State::kTrailerLf;
        } else if (!syntax::isFieldValueChar(c)) {
          return fail(pos, "invalid character in trailer value");
        }
        break;
      case State::kTrailerLf:
        if (c != '\n') return fail(pos, "trailer line not ended by CRLF");
        state_ = State::kTrailerStart;
        break;
      case State::kFinalLf:
        if (c != '\n') return fail(pos, "trailer section not ended by CRLF");
        state_ = State::kDone;
        return ChunkedStep{ChunkedStatus::kDone, pos, {}};
      case State::kData:
      case State::kDone:
      case State::kError:
        break;  // handled before the switch
    }
  }
  return ChunkedStep{ChunkedStatus::kNeedMore, pos, {}};
}

}  // namespace halyard::proxy::http
