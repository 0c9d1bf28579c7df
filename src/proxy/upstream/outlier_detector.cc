#include "proxy/upstream/outlier_detector.h"

#include <algorithm>
#include <mutex>

namespace halyard::proxy::upstream {

namespace {

int64_t ns(std::chrono::milliseconds ms) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(ms).count();
}

}  // namespace

bool OutlierDetector::isError(uint16_t status) const {
  const auto& codes = policy_->error_codes;
  if (!codes.empty()) return std::find(codes.begin(), codes.end(), status) != codes.end();
  return status >= 500 && status <= 599;
}

Ejection OutlierDetector::response(HostHealth& host, uint16_t status, int64_t now_ns) {
  if (!isError(status)) {
    host.consecutive_5xx.store(0, std::memory_order_relaxed);
    host.consecutive_gateway.store(0, std::memory_order_relaxed);
    return Ejection::kNone;
  }
  Ejection result = Ejection::kNone;
  if (status == 502 || status == 503 || status == 504) {
    const uint32_t n = host.consecutive_gateway.fetch_add(1, std::memory_order_relaxed) + 1;
    if (policy_->consecutive_gateway_errors > 0 && n >= policy_->consecutive_gateway_errors) {
      result = eject(host, Ejection::kConsecutiveGateway, now_ns);
    }
  } else {
    host.consecutive_gateway.store(0, std::memory_order_relaxed);
  }
  const uint32_t n = host.consecutive_5xx.fetch_add(1, std::memory_order_relaxed) + 1;
  if (result == Ejection::kNone && policy_->consecutive_5xx > 0 && n >= policy_->consecutive_5xx) {
    result = eject(host, Ejection::kConsecutive5xx, now_ns);
  }
  return result;
}

Ejection OutlierDetector::localFailure(HostHealth& host, LocalOrigin what, int64_t now_ns) {
  if (!policy_->split_external_local_origin_errors) {
    return response(host, what == LocalOrigin::kTimeout ? 504 : 503, now_ns);
  }
  const uint32_t n = host.consecutive_local_origin.fetch_add(1, std::memory_order_relaxed) + 1;
  if (policy_->consecutive_local_origin_failures > 0 &&
      n >= policy_->consecutive_local_origin_failures) {
    return eject(host, Ejection::kConsecutiveLocalOrigin, now_ns);
  }
  return Ejection::kNone;
}

void OutlierDetector::connected(HostHealth& host) {
  if (policy_->split_external_local_origin_errors) {
    host.consecutive_local_origin.store(0, std::memory_order_relaxed);
  }
}

Ejection OutlierDetector::eject(HostHealth& host, Ejection why, int64_t now_ns) {
  std::lock_guard lock(state_->ejectionMutex());
  if (host.ejected(now_ns)) return Ejection::kNone;  // another worker got there first
  const size_t total = std::max<size_t>(hosts_->size(), 1);
  const size_t ejected = state_->ejectedCount(*hosts_, now_ns);
  host.consecutive_5xx.store(0, std::memory_order_relaxed);
  host.consecutive_gateway.store(0, std::memory_order_relaxed);
  host.consecutive_local_origin.store(0, std::memory_order_relaxed);
  if (ejected > 0 && 100 * (ejected + 1) > policy_->max_ejection_percent * total) {
    return Ejection::kOverflow;
  }
  // Forgive one earlier ejection per interval spent in service since the last one ended.
  uint32_t count = host.ejections.load(std::memory_order_relaxed);
  const int64_t last_end = host.last_ejection_end.load(std::memory_order_relaxed);
  const int64_t interval = std::max<int64_t>(ns(policy_->interval), 1);
  if (count > 0 && last_end > 0 && now_ns > last_end) {
    const int64_t forgiven = (now_ns - last_end) / interval;
    count = forgiven >= count ? 0 : count - static_cast<uint32_t>(forgiven);
  }
  ++count;
  host.ejections.store(count, std::memory_order_relaxed);
  // Envoy caps the growth at max_ejection_time (300 s by default, or the base when longer).
  const int64_t base = ns(policy_->base_ejection_time);
  const int64_t duration = std::min<int64_t>(
      base * count, std::max<int64_t>(base, ns(std::chrono::milliseconds(300'000))));
  host.ejected_until.store(now_ns + duration, std::memory_order_relaxed);
  if (state_->ejections_end.load(std::memory_order_relaxed) < now_ns + duration) {
    state_->ejections_end.store(now_ns + duration, std::memory_order_relaxed);  // under the mutex
  }
  host.last_ejection_end.store(now_ns + duration, std::memory_order_relaxed);
  return why;
}

}  // namespace halyard::proxy::upstream
