#include "proxy/http/h1_response_encoder.h"

#include <charconv>

namespace halyard::proxy::http {

void H1ResponseEncoder::beginHead(uint16_t status, std::string_view reason, std::string& out) {
  const std::string_view standard = reasonPhrase(status);
  appendStatusLine(out, status, standard.empty() ? reason : standard);
  chunked_ = false;
}

void H1ResponseEncoder::header(std::string_view name, std::string_view value, std::string& out) {
  appendHeader(out, name, value);
}

void H1ResponseEncoder::endHead(const ResponseFraming& framing, std::string& out) {
  std::array<char, 24> digits{};
  switch (framing.body) {
    case BodyKind::kContentLength: {
      const auto end =
          std::to_chars(digits.data(), digits.data() + digits.size(), framing.content_length).ptr;
      appendHeader(out, "content-length", std::string_view(digits.data(), end - digits.data()));
      break;
    }
    case BodyKind::kChunked:
      appendHeader(out, "transfer-encoding", "chunked");
      chunked_ = true;
      break;
    case BodyKind::kNone:
      if (!framing.described_length.empty()) {
        appendHeader(out, "content-length", framing.described_length);
      }
      break;
    case BodyKind::kUntilClose:
      break;
  }
  if (!framing.upgrade.empty()) {
    appendHeader(out, "connection", "upgrade");
    appendHeader(out, "upgrade", framing.upgrade);
  } else if (framing.close) {
    appendHeader(out, "connection", "close");
  } else if (framing.http10_keep_alive) {
    appendHeader(out, "connection", "keep-alive");
  }
  appendHeadEnd(out);
}

DataFrame H1ResponseEncoder::data(size_t size) {
  if (!chunked_) return {};
  chunk_ = chunkHeader(size);
  return DataFrame{chunk_.view(), kChunkEnd};
}

std::string_view H1ResponseEncoder::end() {
  return chunked_ ? kLastChunk : std::string_view();
}

}  // namespace halyard::proxy::http
