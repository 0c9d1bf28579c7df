// HTTP/1.1 behind the ResponseEncoder seam: a status line, headers, Content-Length or chunked
// transfer coding, Connection: close / keep-alive, and chunk framing around body data.
#pragma once

#include <array>

#include "proxy/http/h1_writer.h"
#include "proxy/http/response_encoder.h"

namespace halyard::proxy::http {

class H1ResponseEncoder final : public ResponseEncoder {
 public:
  void beginHead(uint16_t status, std::string_view reason, std::string& out) override;
  void header(std::string_view name, std::string_view value, std::string& out) override;
  void endHead(const ResponseFraming& framing, std::string& out) override;
  DataFrame data(size_t size) override;
  std::string_view end() override;

 private:
  bool chunked_ = false;
  ChunkHeader chunk_;
};

}  // namespace halyard::proxy::http
