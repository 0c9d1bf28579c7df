// Counters of the control plane's identity work, for its admin /metrics: cheap atomics bumped on
// the gRPC threads, read when /metrics is scraped.
#pragma once

#include <atomic>
#include <cstdint>

namespace halyard::control {

struct IdentityCounters {
  std::atomic<uint64_t> certificates_issued{0};
  std::atomic<uint64_t> certificate_errors{0};       // CSRs that could not be signed
  std::atomic<uint64_t> refused_unauthenticated{0};  // no, malformed, forged or expired credential
  std::atomic<uint64_t> refused_permission_denied{0};  // a valid credential for another identity
};

}  // namespace halyard::control
