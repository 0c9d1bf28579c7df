// The retry decisions of one request (Envoy's router retry state, as Istio configures it):
// which failures are retriable under the route's retry_on conditions, how many retries remain,
// and the jittered exponential backoff between them.
//
// Conditions for HTTP/1.1 upstreams:
//  - connect-failure: the connection could not be established (or timed out);
//  - reset: the upstream closed or reset the connection, or the attempt timed out, before
//    sending a response; reset-before-request: the same, when no request byte was sent;
//  - 5xx: any 5xx response, and everything connect-failure and reset cover;
//  - gateway-error: 502, 503 and 504 responses, and resets and connect failures;
//  - retriable-4xx: 409; retriable-status-codes: the configured list;
//  - envoy-ratelimited: a response with x-envoy-ratelimited;
//  - cancelled, deadline-exceeded, internal, resource-exhausted, unavailable: the grpc-status
//    of a response head;
//  - refused-stream, http3-post-connect-failure and retriable-headers never apply to HTTP/1.1.
// A per-try timeout counts as a reset (Envoy answers it with 504 and retries it under 5xx,
// gateway-error and reset).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>

#include "proxy/http/request_view.h"
#include "proxy/upstream/fast_random.h"
#include "translate/snapshot.h"

namespace halyard::proxy::upstream {

class RetryState {
 public:
  explicit RetryState(const translate::RetryPolicy& policy) : policy_(&policy) {}

  bool retriesLeft() const { return used_ < policy_->attempts; }
  uint32_t retriesUsed() const { return used_; }

  bool retriableConnectFailure() const;
  // `request_sent`: some of the request reached the upstream.
  bool retriableReset(bool request_sent) const;
  bool retriableTimeout() const { return retriableReset(true); }
  // An HTTP/2 stream the upstream refused unprocessed (REFUSED_STREAM or GOAWAY): refused-stream,
  // or any condition that retries a reset.
  bool retriableRefusedStream() const;
  bool retriableResponse(uint16_t status, std::span<const http::HeaderView> headers) const;

  // Takes one retry and returns how long to wait first: uniform in
  // [0, (2^n - 1) * base) for the n-th retry, capped at 10 * base.
  std::chrono::milliseconds takeRetry(FastRandom& random);

 private:
  bool has(uint32_t bit) const { return (policy_->retry_on & bit) != 0; }

  const translate::RetryPolicy* policy_;
  uint32_t used_ = 0;
};

}  // namespace halyard::proxy::upstream
