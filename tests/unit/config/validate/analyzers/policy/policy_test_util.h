// Runs one analyzer over inline YAML and returns its messages in a comparable form.
#pragma once

#include <string>
#include <vector>

#include "config/model/diagnostic.h"
#include "config/validate/analysis.h"

namespace halyard::config::testing {

struct Run {
  Diagnostics diagnostics;
  // "IST0101 Sidecar default/foo", sorted.
  std::vector<std::string> keys() const;
};

Run runAnalyzer(const Analyzer& analyzer, const std::string& yaml, MeshConfig mesh = {});

}  // namespace halyard::config::testing
