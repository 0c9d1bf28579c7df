// What the request path and an HTTP/2 upstream stream (upstream/h2_session.h) hand each other
// beside the stream's bytes: the response head as the parsed structure the HTTP/1.1 parser
// would have produced (no HTTP/1.1 text either way), and the trailers. The request head goes
// the other way as fields (upstream::startH2Request); the bodies travel as bytes, unframed,
// through the stream's net::MemoryPipe.
#pragma once

#include <memory>
#include <vector>

#include "common/local_shared.h"
#include "proxy/http/field_block.h"
#include "proxy/http/h1_response_parser.h"
#include "proxy/http/h2_response_encoder.h"

namespace halyard::proxy::upstream {

struct H2Exchange {
  // The stream while it lives (the session clears it when the stream ends).
  void* stream = nullptr;
  // The shared connection the stream is on, which takes the finished stream's
  // UpstreamConnection back for its next stream (upstream::releaseH2Stream).
  common::LocalWeak<void> session;
  // The final response head, once it arrived; its views point into `headers`.
  bool head_ready = false;
  http::ResponseHead head;
  http::FieldBlock headers;
  std::vector<http::HeaderView> views;
  // The response's trailers, filled in before its body ends (gRPC's status travels there).
  http::Fields trailers;
  // The server refused the stream before any response (REFUSED_STREAM, or a GOAWAY whose last
  // stream is below it): it never processed the request, which may go again on another
  // connection (Istio's default retryOn has refused-stream).
  bool refused = false;

  // Back to a new exchange's state for another stream (the buffers' capacity kept).
  void reset() {
    stream = nullptr;
    session.reset();
    head_ready = false;
    head = http::ResponseHead{};
    headers.clear();
    views.clear();
    trailers.clear();
    refused = false;
  }
};

}  // namespace halyard::proxy::upstream
