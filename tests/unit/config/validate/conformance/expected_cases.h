// Reads the case table of shared/conformance/istio-analyze/EXPECTED.md.
#pragma once

#include <string>
#include <vector>

namespace halyard::config::conformance {

struct ExpectedMessage {
  std::string code;      // "IST0101"
  std::string type;      // "ReferencedResourceNotFound"
  std::string resource;  // "VirtualService default/reviews" or "Gateway alpha"
};

struct AnalyzerCase {
  int number = 0;
  std::string name;
  std::vector<std::string> inputs;  // paths relative to pkg/config/analysis/analyzers/
  std::string extra;                // the "Extra config" column as written
  std::string mesh_config;          // from extra: "mesh config `testdata/x.yaml`"
  std::string analyzer;             // "virtualservice.GatewayAnalyzer"
  std::vector<ExpectedMessage> expected;
};

std::vector<AnalyzerCase> readAnalyzerCases(const std::string& expected_md);

}  // namespace halyard::config::conformance
