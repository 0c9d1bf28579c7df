#include "proxy/upstream/retry_state.h"

#include <gtest/gtest.h>

namespace halyard::proxy::upstream {
namespace {

namespace tr = halyard::translate;

tr::RetryPolicy policy(uint32_t retry_on, uint32_t attempts = 2) {
  tr::RetryPolicy p;
  p.attempts = attempts;
  p.retry_on = retry_on;
  return p;
}

TEST(RetryState, ConditionsFollowEnvoy) {
  const auto p5xx = policy(tr::kRetry5xx);
  RetryState s5xx(p5xx);
  EXPECT_TRUE(s5xx.retriableResponse(500, {}));
  EXPECT_TRUE(s5xx.retriableResponse(503, {}));
  EXPECT_FALSE(s5xx.retriableResponse(404, {}));
  EXPECT_TRUE(s5xx.retriableConnectFailure());
  EXPECT_TRUE(s5xx.retriableReset(true));
  EXPECT_TRUE(s5xx.retriableTimeout());

  const auto pgw = policy(tr::kRetryGatewayError);
  RetryState gw(pgw);
  EXPECT_TRUE(gw.retriableResponse(502, {}));
  EXPECT_TRUE(gw.retriableResponse(504, {}));
  EXPECT_FALSE(gw.retriableResponse(500, {}));

  const auto pcf = policy(tr::kRetryConnectFailure);
  RetryState cf(pcf);
  EXPECT_TRUE(cf.retriableConnectFailure());
  EXPECT_FALSE(cf.retriableReset(true));
  EXPECT_FALSE(cf.retriableResponse(503, {}));

  const auto prbr = policy(tr::kRetryResetBeforeRequest);
  RetryState rbr(prbr);
  EXPECT_TRUE(rbr.retriableReset(false));
  EXPECT_FALSE(rbr.retriableReset(true));

  auto pcodes = policy(tr::kRetryRetriableStatusCodes);
  pcodes.retriable_status_codes = {418};
  RetryState codes(pcodes);
  EXPECT_TRUE(codes.retriableResponse(418, {}));
  EXPECT_FALSE(codes.retriableResponse(503, {}));

  const auto p4xx = policy(tr::kRetryRetriable4xx);
  EXPECT_TRUE(RetryState(p4xx).retriableResponse(409, {}));
}

TEST(RetryState, RefusedStreamsRetryUnderRefusedStreamOrAnyReset) {
  const auto prs = policy(tr::kRetryRefusedStream);
  EXPECT_TRUE(RetryState(prs).retriableRefusedStream());
  EXPECT_FALSE(RetryState(prs).retriableReset(true));  // other resets are not refused streams
  const auto preset = policy(tr::kRetryReset);
  EXPECT_TRUE(RetryState(preset).retriableRefusedStream());
  const auto prbr = policy(tr::kRetryResetBeforeRequest);
  EXPECT_TRUE(RetryState(prbr).retriableRefusedStream());  // the request was never processed
  const auto pcf = policy(tr::kRetryConnectFailure);
  EXPECT_FALSE(RetryState(pcf).retriableRefusedStream());
}

TEST(RetryState, GrpcAndRateLimitHeaders) {
  const auto p = policy(tr::kRetryUnavailable | tr::kRetryEnvoyRateLimited);
  RetryState s(p);
  const http::HeaderView unavailable[] = {{"grpc-status", "14"}};
  const http::HeaderView internal[] = {{"grpc-status", "13"}};
  const http::HeaderView limited[] = {{"x-envoy-ratelimited", "true"}};
  EXPECT_TRUE(s.retriableResponse(200, unavailable));
  EXPECT_FALSE(s.retriableResponse(200, internal));
  EXPECT_TRUE(s.retriableResponse(429, limited));
}

TEST(RetryState, CountsRetriesAndBacksOffWithinBounds) {
  auto p = policy(tr::kRetry5xx, 3);
  p.backoff_base = std::chrono::milliseconds(25);
  RetryState s(p);
  FastRandom random(7);
  const int64_t bounds[] = {25, 75, 175};
  for (int64_t bound : bounds) {
    ASSERT_TRUE(s.retriesLeft());
    const auto wait = s.takeRetry(random);
    EXPECT_GE(wait.count(), 0);
    EXPECT_LT(wait.count(), bound);
  }
  EXPECT_FALSE(s.retriesLeft());
  EXPECT_EQ(s.retriesUsed(), 3u);
  // Later retries are capped at ten times the base.
  auto many = policy(tr::kRetry5xx, 20);
  RetryState m(many);
  for (int i = 0; i < 20; ++i) EXPECT_LT(m.takeRetry(random).count(), 250);
}

TEST(RetryState, NoAttemptsNoRetries) {
  const auto p = policy(tr::kRetry5xx, 0);
  EXPECT_FALSE(RetryState(p).retriesLeft());
}

}  // namespace
}  // namespace halyard::proxy::upstream
