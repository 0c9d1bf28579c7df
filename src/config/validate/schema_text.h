// Text helpers of schema validation: "did you mean" suggestions, short renderings of values for
// messages, and the Kubernetes name formats (DNS-1123, qualified names, label values).
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/model/node.h"

namespace halyard::config::schema {

// Optimal-string-alignment distance (Levenshtein plus adjacent transpositions).
size_t editDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a likely typo ("rewite" ->
// "rewrite", "Hosts" -> "hosts", "retry_on" -> "retryOn"); nullopt otherwise.
std::optional<std::string_view> suggest(std::string_view word,
                                        const std::vector<std::string_view>& candidates);

// `string "abc"`, `integer 80`, `boolean true`, `null`, `object {"a":1}`: type and value,
// truncated to keep a message on one line.
std::string renderShort(const Node& node);
// A JSON-quoted string, truncated.
std::string quoteShort(std::string_view s);

// [A-Za-z_][A-Za-z0-9_]*: such map keys are written .key in a field path, others [key].
bool isIdentifier(std::string_view s);
// Length in characters (UTF-8 code points), as Kubernetes counts minLength/maxLength.
size_t codePoints(std::string_view s);
// Standard base64 with padding; CR and LF are ignored (format: byte).
bool isBase64(std::string_view s);

bool isDns1123Label(std::string_view s);      // "reviews": at most 63 characters
bool isDns1123Subdomain(std::string_view s);  // "reviews.prod": at most 253 characters
bool isQualifiedName(std::string_view s);     // label/annotation key: [prefix/]name
bool isLabelValue(std::string_view s);        // empty, or a name of at most 63 characters

}  // namespace halyard::config::schema
