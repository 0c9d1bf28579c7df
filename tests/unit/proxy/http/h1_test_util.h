// Helpers for the codec tests: parse a whole message at once or byte by byte, keeping the
// buffer alive as long as the views into it.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "proxy/http/chunked_decoder.h"
#include "proxy/http/h1_request_parser.h"
#include "proxy/http/h1_response_parser.h"

namespace halyard::proxy::http::testing {

struct ParsedRequest {
  std::string bytes;
  RequestParser parser;
  ParseStatus status = ParseStatus::kNeedMore;

  const RequestHead& head() const { return parser.head(); }
  const ParseError& error() const { return parser.error(); }
};

inline std::unique_ptr<ParsedRequest> parseRequest(std::string_view text,
                                                   const ParserLimits& limits = {}) {
  auto p = std::make_unique<ParsedRequest>(ParsedRequest{std::string(text), RequestParser(limits)});
  p->status = p->parser.feed(std::span<char>(p->bytes.data(), p->bytes.size()));
  return p;
}

// Feeds growing prefixes, one more byte each time, as a connection reading one byte per
// read would.
inline std::unique_ptr<ParsedRequest> parseRequestByteByByte(std::string_view text,
                                                             const ParserLimits& limits = {}) {
  auto p = std::make_unique<ParsedRequest>(ParsedRequest{std::string(text), RequestParser(limits)});
  for (size_t n = 1; n <= p->bytes.size(); ++n) {
    p->status = p->parser.feed(std::span<char>(p->bytes.data(), n));
    if (p->status != ParseStatus::kNeedMore) break;
  }
  return p;
}

struct ParsedResponse {
  std::string bytes;
  ResponseParser parser;
  ParseStatus status = ParseStatus::kNeedMore;

  const ResponseHead& head() const { return parser.head(); }
  const ParseError& error() const { return parser.error(); }
};

inline std::unique_ptr<ParsedResponse> parseResponse(std::string_view text,
                                                     std::string_view request_method = "GET",
                                                     bool byte_by_byte = false) {
  auto p = std::make_unique<ParsedResponse>(ParsedResponse{std::string(text), ResponseParser()});
  p->parser.reset(request_method);
  for (size_t n = byte_by_byte ? 1 : p->bytes.size(); n <= p->bytes.size(); ++n) {
    p->status = p->parser.feed(std::span<char>(p->bytes.data(), n));
    if (p->status != ParseStatus::kNeedMore) break;
  }
  return p;
}

struct Decoded {
  ChunkedStatus status = ChunkedStatus::kNeedMore;
  std::string body;
  size_t consumed = 0;  // input bytes up to the end of the body (or the error)
  ParseError error;
};

// Decodes `input` handing the decoder pieces of at most `piece` bytes.
inline Decoded decodeChunked(std::string_view input, size_t piece = std::string_view::npos,
                             const ChunkedLimits& limits = {}) {
  ChunkedDecoder decoder(limits);
  Decoded out;
  size_t offset = 0;
  while (offset < input.size()) {
    const size_t end =
        piece == std::string_view::npos ? input.size() : std::min(input.size(), offset + piece);
    std::span<const char> window(input.data() + offset, end - offset);
    while (!window.empty()) {
      const ChunkedStep step = decoder.decode(window);
      window = window.subspan(step.consumed);
      offset += step.consumed;
      out.status = step.status;
      if (step.status == ChunkedStatus::kData) out.body.append(step.data);
      if (step.status == ChunkedStatus::kDone) {
        out.consumed = offset;
        return out;
      }
      if (step.status == ChunkedStatus::kError) {
        out.consumed = offset;
        out.error = decoder.error();
        return out;
      }
    }
  }
  out.status = ChunkedStatus::kNeedMore;
  out.consumed = offset;
  return out;
}

}  // namespace halyard::proxy::http::testing
