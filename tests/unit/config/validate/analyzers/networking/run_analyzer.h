// Runs one analyzer of the networking group over inline YAML through the analyze pipeline (with
// istioctl's synthetic ingress gateway Pod and Service), and summarises what it reported.
#pragma once

#include <algorithm>
#include <string>
#include <string_view>
#include <vector>

#include "config/validate/analyze.h"
#include "config/yaml/loader.h"

namespace halyard::config::testing {

inline Diagnostics runAnalyzer(std::string_view yaml, const std::string& analyzer) {
  LoadResult loaded;
  loadText(yaml, "test.yaml", loaded);
  AnalyzeOptions options;
  options.analyzers = {analyzer};
  return analyzeObjects(std::move(loaded.objects), options);
}

// "IST0101 VirtualService default/a" per message, sorted.
inline std::vector<std::string> keys(const Diagnostics& diags) {
  std::vector<std::string> out;
  for (const auto& d : diags) out.push_back(d.code + " " + d.resource.str());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace halyard::config::testing
