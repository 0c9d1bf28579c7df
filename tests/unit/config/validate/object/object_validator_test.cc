#include <gmock/gmock.h>

#include <filesystem>

#include "shared_corpus.h"
#include "validate_test_util.h"

namespace halyard::config {
namespace {

using testing::describe;
using ::testing::IsEmpty;
using testing::validate;

TEST(ObjectValidator, IgnoresOtherKinds) {
  EXPECT_THAT(validate("apiVersion: v1\nkind: Service\nmetadata:\n  name: s\nspec:\n  ports: []\n"),
              IsEmpty());
  EXPECT_THAT(validate("apiVersion: networking.istio.io/v1alpha3\nkind: EnvoyFilter\nmetadata:\n"
                       "  name: f\nspec: {}\n"),
              IsEmpty());
}

TEST(ObjectValidator, AllServedVersions) {
  for (const char* version : {"v1", "v1beta1", "v1alpha3"}) {
    auto d = validate(std::string("apiVersion: networking.istio.io/") + version +
                      "\nkind: VirtualService\nmetadata:\n  name: vs\nspec:\n  hosts: [a]\n");
    EXPECT_EQ(d.size(), 1u) << version << describe(d);  // no routes
  }
}

// Wrong types are the schema validator's to report; object validation must neither crash nor
// invent errors about them.
TEST(ObjectValidator, SurvivesWrongTypes) {
  for (const char* kind : {"Gateway", "VirtualService", "DestinationRule", "ServiceEntry",
                           "WorkloadEntry", "WorkloadGroup", "Sidecar"}) {
    for (const char* spec :
         {"spec: 5", "spec: [1, 2]", "spec:\n  hosts: 7\n  http: x\n  servers: [3]",
          "spec:\n  http:\n  - match: 5\n    route: {a: 1}\n  tcp: [[]]"}) {
      validate(std::string("apiVersion: networking.istio.io/v1\nkind: ") + kind +
               "\nmetadata:\n  name: x\n" + spec + "\n");
    }
  }
  for (const char* kind : {"AuthorizationPolicy", "RequestAuthentication", "PeerAuthentication"}) {
    validate(std::string("apiVersion: security.istio.io/v1\nkind: ") + kind +
             "\nmetadata:\n  name: x\nspec:\n  rules: 5\n  jwtRules: [x]\n");
  }
}

// Istio's CRD test documents that both the CRD and the webhook accept.
TEST(ObjectValidator, AcceptsIstioValidCrdTestDocuments) {
  HALYARD_REQUIRE_SHARED_CORPUS();
  namespace fs = std::filesystem;
  const fs::path dir =
      corpus::sharedPath("conformance/istio-analyze/pkg/config/validation/testdata/crds");
  int checked = 0;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (!e.path().filename().string().ends_with("-valid.yaml")) continue;
    LoadResult loaded = loadPaths({e.path().string()});
    for (const auto& obj : loaded.objects) {
      Diagnostics d;
      validateObject(obj, d);
      ++checked;
      EXPECT_THAT(testing::errorPaths(d), IsEmpty()) << e.path() << " " << obj.name << describe(d);
    }
  }
  EXPECT_GT(checked, 10);
}

// Documents of Istio's CRD tests whose reason is a webhook rule the CRD cannot express.
TEST(ObjectValidator, RejectsWebhookOnlyCrdTestCases) {
  auto d = validate(
      "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: s\n"
      "spec:\n  hosts: [example.com]\n  workloadSelector:\n    labels:\n      \"*\": val\n");
  EXPECT_EQ(d.size(), 1u) << describe(d);
  d = validate(
      "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: s\n"
      "spec:\n  hosts: [\"foo*\"]\n");
  EXPECT_EQ(d.size(), 1u) << describe(d);
  d = validate(
      "apiVersion: networking.istio.io/v1\nkind: ServiceEntry\nmetadata:\n  name: s\n"
      "spec:\n  hosts: [example.com]\n  addresses: [1.2.3.4/99]\n");
  EXPECT_EQ(d.size(), 1u) << describe(d);
}

}  // namespace
}  // namespace halyard::config
