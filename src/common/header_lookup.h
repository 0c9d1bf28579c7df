// A request's headers as telemetry reads them (access log formats, access log filters, metric
// tag values) without depending on the HTTP codec and without copying them: the connection
// manager points this at its request view, valid for the report of that request only.
#pragma once

#include <optional>
#include <string_view>

namespace halyard::common {

struct HeaderLookup {
  const void* context = nullptr;
  // The first header with this lowercase name; nullopt when absent.
  std::optional<std::string_view> (*find)(const void* context,
                                          std::string_view lower_name) = nullptr;

  std::optional<std::string_view> operator()(std::string_view lower_name) const {
    if (!find) return std::nullopt;
    return find(context, lower_name);
  }
};

}  // namespace halyard::common
