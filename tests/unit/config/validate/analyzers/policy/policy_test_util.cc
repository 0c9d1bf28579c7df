#include "policy_test_util.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "config/yaml/config_set_builder.h"
#include "config/yaml/loader.h"

namespace halyard::config::testing {

std::vector<std::string> Run::keys() const {
  std::vector<std::string> k;
  for (const auto& d : diagnostics) k.push_back(d.code + " " + d.resource.str());
  std::sort(k.begin(), k.end());
  return k;
}

Run runAnalyzer(const Analyzer& analyzer, const std::string& yaml, MeshConfig mesh) {
  LoadResult loaded;
  loadText(yaml, "test.yaml", loaded);
  EXPECT_TRUE(loaded.diagnostics.empty()) << "test YAML does not load";
  model::ConfigSet config = buildConfigSet(loaded.objects);
  AnalysisContext ctx(loaded.objects, config, std::move(mesh));
  Run run;
  analyzer.analyze(ctx, run.diagnostics);
  return run;
}

}  // namespace halyard::config::testing
