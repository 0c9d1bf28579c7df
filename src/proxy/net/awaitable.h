// The completion token of the data plane: coroutines that get (error_code, result...) tuples
// instead of exceptions, so no I/O failure ever throws (docs/ARCHITECTURE.md, "Errors").
#pragma once

#include <asio/awaitable.hpp>
#include <asio/experimental/as_tuple.hpp>
#include <asio/use_awaitable.hpp>

namespace halyard::proxy::net {

using asio::awaitable;
inline constexpr auto kAwait = asio::experimental::as_tuple(asio::use_awaitable);

}  // namespace halyard::proxy::net
