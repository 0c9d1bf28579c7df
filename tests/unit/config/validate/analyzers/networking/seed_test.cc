// The seed scenario (shared/seed) with the services that back it (samples/pirata) draws no
// message from any networking analyzer.
#include <gtest/gtest.h>

#include "config/validate/analyze.h"
#include "config/validate/analyzers/networking_analyzers.h"
#include "shared_corpus.h"

namespace halyard::config {
namespace {

TEST(NetworkingAnalyzers, SeedScenarioIsClean) {
  HALYARD_REQUIRE_SHARED_CORPUS();
  AnalyzerList list;
  registerNetworkingAnalyzers(list);
  AnalyzeOptions options;
  for (const auto& a : list) options.analyzers.emplace_back(a->name());
  AnalyzeResult res = analyzePaths(
      {corpus::sharedPath("seed"), HALYARD_SOURCE_DIR "/samples/pirata/services.yaml"}, options);
  EXPECT_TRUE(res.io_errors.empty());
  EXPECT_GE(res.objects, 4u);
  for (const auto& d : res.diagnostics) {
    ADD_FAILURE() << d.code << " " << d.resource.str() << " " << d.pos.str() << ": " << d.message;
  }
}

TEST(NetworkingAnalyzers, SeedAloneOnlyMissesItsServices) {
  HALYARD_REQUIRE_SHARED_CORPUS();
  AnalyzerList list;
  registerNetworkingAnalyzers(list);
  AnalyzeOptions options;
  for (const auto& a : list) options.analyzers.emplace_back(a->name());
  AnalyzeResult res = analyzePaths({corpus::sharedPath("seed")}, options);
  ASSERT_EQ(res.diagnostics.size(), 5u);  // front-svc, front-v2-svc, items, uploader, ai
  for (const auto& d : res.diagnostics) {
    EXPECT_EQ(d.code, "IST0101");
    EXPECT_NE(d.message.find("Referenced host not found"), std::string::npos);
  }
}

}  // namespace
}  // namespace halyard::config
