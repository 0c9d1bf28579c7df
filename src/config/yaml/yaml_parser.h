// One YAML document -> config::Node, with libyaml's event parser (a C library that is several
// times faster than yaml-cpp and reads YAML the way Go's yaml package, and so Kubernetes, does).
// Plain scalars resolve with YAML 1.2's core schema; quoted and block scalars are strings.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/result.h"
#include "config/model/node.h"

namespace halyard::config {

struct YamlError {
  int line = 0;  // 1-based, with line_offset applied
  std::string message;
  bool limit_exceeded = false;  // too deep or too large, rather than a syntax error
};

struct YamlLimits {
  int max_depth = 200;           // nesting of sequences and maps
  size_t max_nodes = 2'000'000;  // values, counting every alias expansion
};

// Parses the first document of `text`. Lines in the result are 1-based and shifted by
// `line_offset` (the document's first line within its file, 0-based). An empty document is a
// null Node.
common::Result<Node, YamlError> parseYamlDocument(std::string_view text, int line_offset = 0,
                                                  const YamlLimits& limits = {});

}  // namespace halyard::config
