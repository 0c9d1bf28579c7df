// Small rules over the config model that every part of translation shares.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "config/model/object_meta.h"
#include "translate/snapshot.h"

namespace halyard::translate {

// The namespace an object lives in: as written, or "default" (what kubectl would assign).
const std::string& namespaceOf(const config::model::ObjectMeta& meta);

// Istio's configuration order (istio-semantics.md §0.4): oldest creationTimestamp first, then
// name, then namespace. Objects without a timestamp sort as the oldest.
bool createdBefore(const config::model::ObjectMeta& a, const config::model::ObjectMeta& b);

// metadata.creationTimestamp (RFC 3339) as nanoseconds since the epoch; nullopt when absent or
// malformed.
std::optional<int64_t> parseTimestamp(std::string_view text);

// An Istio duration ("1s", "500ms", "1m30s", "0.5s") rounded down to milliseconds; nullopt when
// malformed or negative.
std::optional<Millis> parseMillis(std::string_view text);

std::string toLower(std::string_view s);

// Standard base64 (directResponse body.bytes); nullopt when malformed.
std::optional<std::string> decodeBase64(std::string_view text);

}  // namespace halyard::translate
