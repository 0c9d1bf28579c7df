// Helpers for the object validation tests: validate one YAML document and look at the result.
#pragma once

#include <gtest/gtest.h>

#include <string>

#include "config/validate/object_validator.h"
#include "config/yaml/loader.h"

namespace halyard::config::testing {

// Validates the single object in `yaml`.
inline Diagnostics validate(const std::string& yaml) {
  LoadResult loaded;
  loadText(yaml, "test.yaml", loaded);
  EXPECT_EQ(loaded.objects.size(), 1u) << yaml;
  Diagnostics out;
  for (const auto& obj : loaded.objects) validateObject(obj, out);
  return out;
}

// The field paths of the errors, for compact expectations.
inline std::vector<std::string> errorPaths(const Diagnostics& diags) {
  std::vector<std::string> paths;
  for (const auto& d : diags) {
    if (d.level == Level::kError) paths.push_back(d.field_path);
  }
  return paths;
}

inline std::string describe(const Diagnostics& diags) {
  std::string out;
  for (const auto& d : diags)
    out += "\n  " + d.code + " line " + std::to_string(d.pos.line) + ": " + d.message;
  return out;
}

}  // namespace halyard::config::testing
