// gRPC status codes by name (fault injection's abort.grpcStatus is a name such as UNAVAILABLE;
// the grpc-status header carries the number).
#pragma once

#include <string_view>

namespace halyard::proxy::runtime {

// "UNAVAILABLE" -> "14"; a numeric value is returned as is; unknown names give "2" (UNKNOWN).
std::string_view grpcStatusNumber(std::string_view name_or_number);

}  // namespace halyard::proxy::runtime

#include <chrono>
#include <optional>

namespace halyard::proxy::runtime {

// A grpc-timeout value ("250m", "5S", "1H": at most 8 digits and a unit of H, M, S, m, u, n)
// in milliseconds, rounded up; nullopt when malformed.
std::optional<std::chrono::milliseconds> parseGrpcTimeout(std::string_view value);

}  // namespace halyard::proxy::runtime
