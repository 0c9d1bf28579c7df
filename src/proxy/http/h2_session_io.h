// Small pieces both sides of the HTTP/2 codec share: the room reserved for a message's fields,
// and :status values kept as text for the program's life.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace halyard::proxy::http {

// Room reserved up front for a message's header fields: most messages carry fewer, so their list
// is allocated once instead of growing through 1, 2, 4 and 8.
inline constexpr size_t kTypicalFields = 16;
// And for their names and values, when they are kept in one buffer (http::FieldBlock).
inline constexpr size_t kTypicalFieldBytes = 512;

// ":status"'s value for `status` (three digits) in storage that lives as long as the program;
// empty outside 100-999.
std::string_view h2StatusText(uint16_t status);

}  // namespace halyard::proxy::http
