#include "proxy/http/h1_types.h"

#include <string>

namespace halyard::proxy::http {

common::Error toError(const ParseError& error, common::ErrorSource source) {
  const bool too_large = error.status == 414 || error.status == 431;
  return common::Error{too_large ? common::ErrorKind::kOverflow : common::ErrorKind::kProtocol,
                       source, false, std::string(error.reason)};
}

}  // namespace halyard::proxy::http
