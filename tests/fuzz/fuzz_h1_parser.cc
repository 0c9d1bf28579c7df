// Fuzzes the HTTP/1.1 codec: the request parser, the chunked decoder and the response parser,
// each fed once in one piece and once split at random points. Both runs must agree exactly
// (the incremental contract), and every accepted head must satisfy the invariants the
// connection manager relies on. An accepted request must also survive a round trip through
// the writer.
//
// Input layout: byte 0 selects options (limits, the request method for the response parser),
// bytes 1-4 seed the split points, the rest is the message.
#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "proxy/http/chunked_decoder.h"
#include "proxy/http/h1_request_parser.h"
#include "proxy/http/h1_response_parser.h"
#include "proxy/http/h1_syntax.h"
#include "proxy/http/h1_writer.h"

namespace {

using namespace halyard::proxy::http;

struct Splitter {
  uint32_t state;
  // The next prefix length after `n`: mostly small steps, sometimes a jump.
  size_t next(size_t n, size_t size) {
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    const size_t step = (state & 3) == 0 ? state % 64 + 1 : state % 4 + 1;
    return n + step > size ? size : n + step;
  }
};

bool within(std::string_view view, const std::string& buffer) {
  return view.empty() || (view.data() >= buffer.data() &&
                          view.data() + view.size() <= buffer.data() + buffer.size());
}

void checkHeaders(std::span<const HeaderView> headers, const std::string& buffer) {
  for (const HeaderView& h : headers) {
    FUZZ_CHECK(within(h.name, buffer) && within(h.value, buffer));
    FUZZ_CHECK(syntax::isToken(h.name));
    for (char c : h.name) FUZZ_CHECK(c < 'A' || c > 'Z');
    FUZZ_CHECK(h.value.empty() ||
               (!syntax::isWhitespace(h.value.front()) && !syntax::isWhitespace(h.value.back())));
    for (char c : h.value) FUZZ_CHECK(syntax::isFieldValueChar(c));
  }
}

bool sameHeaders(std::span<const HeaderView> a, std::span<const HeaderView> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].name != b[i].name || a[i].value != b[i].value) return false;
  }
  return true;
}

struct DecodeResult {
  ChunkedStatus status = ChunkedStatus::kNeedMore;
  std::string body;
  size_t consumed = 0;
  std::string_view reason;
};

DecodeResult decode(std::string_view input, Splitter* splitter) {
  ChunkedLimits limits;
  limits.max_chunk_line_bytes = 64;
  limits.max_trailer_bytes = 256;
  ChunkedDecoder decoder(limits);
  DecodeResult r;
  size_t available = splitter ? 0 : input.size();
  while (true) {
    if (splitter) available = splitter->next(available, input.size());
    while (r.consumed < available) {
      const ChunkedStep step =
          decoder.decode(std::span<const char>(input.data() + r.consumed, available - r.consumed));
      FUZZ_CHECK(step.consumed <= available - r.consumed);
      r.consumed += step.consumed;
      r.status = step.status;
      if (step.status == ChunkedStatus::kData) {
        FUZZ_CHECK(!step.data.empty());
        r.body.append(step.data);
      } else if (step.status == ChunkedStatus::kDone) {
        FUZZ_CHECK(decoder.done());
        return r;
      } else if (step.status == ChunkedStatus::kError) {
        r.reason = decoder.error().reason;
        return r;
      } else {
        FUZZ_CHECK(r.consumed == available);  // kNeedMore consumes everything
      }
    }
    if (available == input.size()) break;
  }
  if (r.status == ChunkedStatus::kData) r.status = ChunkedStatus::kNeedMore;
  return r;
}

void checkDecodersAgree(std::string_view input, uint32_t seed) {
  const DecodeResult whole = decode(input, nullptr);
  Splitter splitter{seed | 1};
  const DecodeResult split = decode(input, &splitter);
  FUZZ_CHECK(whole.status == split.status);
  FUZZ_CHECK(whole.body == split.body);
  FUZZ_CHECK(whole.consumed == split.consumed);
  FUZZ_CHECK(whole.reason == split.reason);
}

template <class Parser>
ParseStatus feedSplit(Parser& parser, std::string& buffer, uint32_t seed) {
  Splitter splitter{seed | 1};
  ParseStatus status = ParseStatus::kNeedMore;
  for (size_t n = 0; n < buffer.size() && status == ParseStatus::kNeedMore;) {
    n = splitter.next(n, buffer.size());
    status = parser.feed(std::span<char>(buffer.data(), n));
  }
  return status;
}

void fuzzRequest(std::string_view message, const ParserLimits& limits, uint32_t seed) {
  std::string whole_buffer(message);
  std::string split_buffer(message);
  RequestParser whole(limits);
  RequestParser split(limits);
  const ParseStatus whole_status =
      whole.feed(std::span<char>(whole_buffer.data(), whole_buffer.size()));
  const ParseStatus split_status = feedSplit(split, split_buffer, seed);
  FUZZ_CHECK(whole_status == split_status);
  if (whole_status == ParseStatus::kError) {
    FUZZ_CHECK(whole.error().status == split.error().status);
    FUZZ_CHECK(whole.error().reason == split.error().reason);
    FUZZ_CHECK(!whole.error().reason.empty());
    return;
  }
  if (whole_status != ParseStatus::kHeadComplete) return;
  const RequestHead& a = whole.head();
  const RequestHead& b = split.head();
  FUZZ_CHECK(a.head_bytes == b.head_bytes && a.head_bytes <= whole_buffer.size());
  FUZZ_CHECK(a.method == b.method && a.target == b.target && a.path == b.path &&
             a.authority == b.authority && a.host == b.host && a.version == b.version);
  FUZZ_CHECK(a.keep_alive == b.keep_alive && a.expect_continue == b.expect_continue &&
             a.upgrade == b.upgrade && a.upgrade_protocol == b.upgrade_protocol);
  FUZZ_CHECK(a.framing.kind == b.framing.kind &&
             a.framing.content_length == b.framing.content_length);
  FUZZ_CHECK(a.framing.kind != BodyKind::kUntilClose);
  FUZZ_CHECK(sameHeaders(a.headers, b.headers));
  checkHeaders(a.headers, whole_buffer);
  FUZZ_CHECK(within(a.method, whole_buffer) && within(a.target, whole_buffer));
  FUZZ_CHECK(within(a.authority, whole_buffer) && syntax::isAuthority(a.authority));
  FUZZ_CHECK(syntax::isToken(a.method));
  FUZZ_CHECK(a.version == HttpVersion::kHttp11 || !a.expect_continue);

  if (a.framing.kind == BodyKind::kChunked) {
    checkDecodersAgree(std::string_view(whole_buffer).substr(a.head_bytes), seed);
  }

  // Round trip: what the proxy writes upstream must parse to the same request.
  if (!a.path.empty() && !a.host.empty()) {
    std::string out;
    FUZZ_CHECK(appendRequestHead(out, a.method, a.path, a.headers));
    // Written heads can be a little longer than received ones ("x:v" becomes "x: v").
    RequestParser again(ParserLimits{1 << 20, 1 << 20, a.headers.size()});
    FUZZ_CHECK(again.feed(std::span<char>(out.data(), out.size())) == ParseStatus::kHeadComplete);
    FUZZ_CHECK(again.head().method == a.method && again.head().path == a.path);
    FUZZ_CHECK(sameHeaders(again.head().headers, a.headers));
    FUZZ_CHECK(again.head().head_bytes == out.size());
  }
}

void fuzzResponse(std::string_view message, const ParserLimits& limits, std::string_view method,
                  uint32_t seed) {
  std::string whole_buffer(message);
  std::string split_buffer(message);
  ResponseParser whole(limits);
  ResponseParser split(limits);
  whole.reset(method);
  split.reset(method);
  const ParseStatus whole_status =
      whole.feed(std::span<char>(whole_buffer.data(), whole_buffer.size()));
  const ParseStatus split_status = feedSplit(split, split_buffer, seed);
  FUZZ_CHECK(whole_status == split_status);
  if (whole_status == ParseStatus::kError) {
    FUZZ_CHECK(whole.error().status == 502 && split.error().status == 502);
    FUZZ_CHECK(whole.error().reason == split.error().reason);
    return;
  }
  if (whole_status != ParseStatus::kHeadComplete) return;
  const ResponseHead& a = whole.head();
  const ResponseHead& b = split.head();
  FUZZ_CHECK(a.status == b.status && a.reason == b.reason && a.head_bytes == b.head_bytes);
  FUZZ_CHECK(a.interim == b.interim && a.tunnel == b.tunnel && a.keep_alive == b.keep_alive);
  FUZZ_CHECK(a.framing.kind == b.framing.kind &&
             a.framing.content_length == b.framing.content_length);
  FUZZ_CHECK(sameHeaders(a.headers, b.headers));
  checkHeaders(a.headers, whole_buffer);
  FUZZ_CHECK(a.status >= 100 && a.status <= 599);
  FUZZ_CHECK(!a.interim || a.status < 200);
  FUZZ_CHECK(a.framing.kind != BodyKind::kUntilClose || !a.keep_alive);
  if (a.framing.kind == BodyKind::kChunked) {
    checkDecodersAgree(std::string_view(whole_buffer).substr(a.head_bytes), seed);
  }
  std::string out;
  FUZZ_CHECK(appendResponseHead(out, a.status, a.headers));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 5) return 0;
  const uint8_t options = data[0];
  const uint32_t seed = static_cast<uint32_t>(data[1]) | static_cast<uint32_t>(data[2]) << 8 |
                        static_cast<uint32_t>(data[3]) << 16 | static_cast<uint32_t>(data[4]) << 24;
  const std::string_view message(reinterpret_cast<const char*>(data + 5), size - 5);

  ParserLimits limits;
  if (options & 1) {  // tiny limits so the fuzzer reaches them with small inputs
    limits.max_request_line_bytes = 32;
    limits.max_header_bytes = 128;
    limits.max_headers = 4;
  }
  static constexpr std::string_view kMethods[] = {"GET", "HEAD", "CONNECT", "PUT"};
  fuzzRequest(message, limits, seed);
  fuzzResponse(message, limits, kMethods[(options >> 1) & 3], seed);
  checkDecodersAgree(message, seed);
  return 0;
}
