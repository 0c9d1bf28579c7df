#include <gtest/gtest.h>

#include "config/validate/object_validator.h"
#include "config/yaml/loader.h"
#include "shared_corpus.h"

namespace halyard::config {
namespace {

// Istio accepts the configurations of its own repository, so object validation must too, except
// for the inputs its tests use because they are invalid.
TEST(ObjectValidatorCorpus, IstioConfigsHaveNoErrors) {
  HALYARD_REQUIRE_SHARED_CORPUS();
  const std::string kInvalidOnPurpose[] = {
      // "We didn't specify http, tcp or tls - this will cause a schema validation error".
      "tests/integration/pilot/testdata/some-dir/missing-gateway.yaml",
  };
  LoadResult loaded = loadPaths({corpus::sharedPath("conformance/istio")});
  int checked = 0;
  for (const auto& obj : loaded.objects) {
    if (obj.group != "networking.istio.io" && obj.group != "security.istio.io") continue;
    bool invalid_on_purpose = false;
    for (const auto& f : kInvalidOnPurpose) invalid_on_purpose |= obj.pos.fileName().ends_with(f);
    if (invalid_on_purpose) continue;
    ++checked;
    Diagnostics out;
    validateObject(obj, out);
    for (const auto& d : out) {
      if (d.level == Level::kError) {
        ADD_FAILURE() << d.pos.str() << " " << d.resource.str() << ": " << d.message;
      }
    }
  }
  EXPECT_GT(checked, 250);
}

}  // namespace
}  // namespace halyard::config
