// Envoy's response flags: why the proxy answered or failed the way it did. Rendered as short
// codes ("UH,UF", "-" when none) in access logs and in the response_flags metric label.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

namespace halyard::telemetry {

// In Envoy's declaration order, which is also the order Envoy renders several flags in.
enum class ResponseFlag : uint8_t {
  kFailedLocalHealthCheck,            // LH
  kNoHealthyUpstream,                 // UH
  kUpstreamRequestTimeout,            // UT
  kLocalReset,                        // LR
  kUpstreamRemoteReset,               // UR
  kUpstreamConnectionFailure,         // UF
  kUpstreamConnectionTermination,     // UC
  kUpstreamOverflow,                  // UO
  kNoRouteFound,                      // NR
  kDelayInjected,                     // DI
  kFaultInjected,                     // FI
  kRateLimited,                       // RL
  kUnauthorizedExternalService,       // UAEX
  kRateLimitServiceError,             // RLSE
  kDownstreamConnectionTermination,   // DC
  kUpstreamRetryLimitExceeded,        // URX
  kStreamIdleTimeout,                 // SI
  kInvalidEnvoyRequestHeaders,        // IH
  kDownstreamProtocolError,           // DPE
  kUpstreamMaxStreamDurationReached,  // UMSDR
  kResponseFromCacheFilter,           // RFCF
  kNoFilterConfigFound,               // NFCF
  kDurationTimeout,                   // DT
  kUpstreamProtocolError,             // UPE
  kNoClusterFound,                    // NC
  kOverloadManager,                   // OM
  kDnsResolutionFailed,               // DF
  kDropOverload,                      // DO
  kDownstreamRemoteReset,             // DR
  kUnconditionalDropOverload,         // UDO
  kCount,
};

// The short code of one flag ("UH").
std::string_view shortName(ResponseFlag flag);

// A set of flags; a plain value, cheap to copy and compare.
class ResponseFlags {
 public:
  constexpr ResponseFlags() = default;
  constexpr ResponseFlags(std::initializer_list<ResponseFlag> flags) {
    for (ResponseFlag f : flags) set(f);
  }

  constexpr void set(ResponseFlag f) { bits_ |= bit(f); }
  constexpr bool has(ResponseFlag f) const { return (bits_ & bit(f)) != 0; }
  constexpr bool empty() const { return bits_ == 0; }
  constexpr uint32_t bits() const { return bits_; }
  friend constexpr bool operator==(ResponseFlags, ResponseFlags) = default;

  // Appends "UH,UF" (Envoy's order) or "-" when empty. Does not allocate when `out` has room.
  void appendTo(std::string& out) const;
  std::string toString() const;

 private:
  static constexpr uint32_t bit(ResponseFlag f) { return uint32_t{1} << static_cast<unsigned>(f); }
  uint32_t bits_ = 0;
};

static_assert(static_cast<unsigned>(ResponseFlag::kCount) <= 32, "flags must fit the bit set");

}  // namespace halyard::telemetry
