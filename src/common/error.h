// The structured error carried by every Result on the data plane and in the control plane.
#pragma once

#include <string>

#include "common/result.h"

namespace halyard::common {

enum class ErrorKind {
  kInvalidArgument,  // bad input from a user or a peer
  kNotFound,
  kIo,          // socket or file failure
  kTimeout,
  kProtocol,    // malformed or ambiguous protocol data
  kOverflow,    // a limit was exceeded
  kCancelled,
  kInternal,
};

// Which side of the proxy the error came from; decides response flags and retries.
enum class ErrorSource { kDownstream, kUpstream, kInternal };

struct Error {
  ErrorKind kind = ErrorKind::kInternal;
  ErrorSource source = ErrorSource::kInternal;
  bool retryable = false;
  std::string message;  // a sentence naming the cause, for logs and x-halyard-reason
};

const char* toString(ErrorKind kind);
const char* toString(ErrorSource source);

template <class T>
using Expected = Result<T, Error>;

inline Unexpected<Error> fail(ErrorKind kind, std::string message,
                              ErrorSource source = ErrorSource::kInternal,
                              bool retryable = false) {
  return {Error{kind, source, retryable, std::move(message)}};
}

}  // namespace halyard::common
