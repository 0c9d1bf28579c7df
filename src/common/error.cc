#include "common/error.h"

namespace halyard::common {

const char* toString(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kInvalidArgument: return "invalid_argument";
    case ErrorKind::kNotFound: return "not_found";
    case ErrorKind::kIo: return "io";
    case ErrorKind::kTimeout: return "timeout";
    case ErrorKind::kProtocol: return "protocol";
    case ErrorKind::kOverflow: return "overflow";
    case ErrorKind::kCancelled: return "cancelled";
    case ErrorKind::kInternal: return "internal";
  }
  return "internal";
}

const char* toString(ErrorSource source) {
  switch (source) {
    case ErrorSource::kDownstream: return "downstream";
    case ErrorSource::kUpstream: return "upstream";
    case ErrorSource::kInternal: return "internal";
  }
  return "internal";
}

}  // namespace halyard::common
