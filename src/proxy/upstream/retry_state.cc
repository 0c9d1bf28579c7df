#include "proxy/upstream/retry_state.h"

#include <algorithm>

namespace halyard::proxy::upstream {

namespace tr = halyard::translate;

namespace {

std::optional<std::string_view> header(std::span<const http::HeaderView> headers,
                                       std::string_view name) {
  for (const auto& h : headers) {
    if (h.name == name) return h.value;
  }
  return std::nullopt;
}

}  // namespace

bool RetryState::retriableConnectFailure() const {
  return has(tr::kRetryConnectFailure) || has(tr::kRetry5xx) || has(tr::kRetryGatewayError) ||
         has(tr::kRetryReset) || has(tr::kRetryResetBeforeRequest);
}

bool RetryState::retriableReset(bool request_sent) const {
  if (has(tr::kRetry5xx) || has(tr::kRetryGatewayError) || has(tr::kRetryReset)) return true;
  return !request_sent && has(tr::kRetryResetBeforeRequest);
}

bool RetryState::retriableRefusedStream() const {
  return has(tr::kRetryRefusedStream) || retriableReset(false);
}

bool RetryState::retriableResponse(uint16_t status,
                                   std::span<const http::HeaderView> headers) const {
  if (has(tr::kRetry5xx) && status >= 500) return true;
  if (has(tr::kRetryGatewayError) && (status == 502 || status == 503 || status == 504)) return true;
  if (has(tr::kRetryRetriable4xx) && status == 409) return true;
  if (has(tr::kRetryRetriableStatusCodes)) {
    const auto& codes = policy_->retriable_status_codes;
    if (std::find(codes.begin(), codes.end(), status) != codes.end()) return true;
  }
  if (has(tr::kRetryEnvoyRateLimited) && header(headers, "x-envoy-ratelimited")) return true;
  constexpr uint32_t kGrpcBits = tr::kRetryCancelled | tr::kRetryDeadlineExceeded |
                                 tr::kRetryInternal | tr::kRetryResourceExhausted |
                                 tr::kRetryUnavailable;
  if ((policy_->retry_on & kGrpcBits) != 0) {
    const auto grpc = header(headers, "grpc-status");
    if (grpc) {
      if ((has(tr::kRetryCancelled) && *grpc == "1") ||
          (has(tr::kRetryDeadlineExceeded) && *grpc == "4") ||
          (has(tr::kRetryResourceExhausted) && *grpc == "8") ||
          (has(tr::kRetryInternal) && *grpc == "13") ||
          (has(tr::kRetryUnavailable) && *grpc == "14")) {
        return true;
      }
    }
  }
  return false;
}

std::chrono::milliseconds RetryState::takeRetry(FastRandom& random) {
  ++used_;
  const uint64_t base = static_cast<uint64_t>(std::max<int64_t>(policy_->backoff_base.count(), 1));
  const uint64_t cap = 10 * base;
  const uint64_t multiplier = used_ >= 16 ? cap : (uint64_t{1} << used_) - 1;
  const uint64_t bound = std::min(cap, multiplier * base);
  return std::chrono::milliseconds(random.below(bound));
}

}  // namespace halyard::proxy::upstream
