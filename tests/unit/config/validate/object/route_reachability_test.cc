#include <gmock/gmock.h>

#include <algorithm>

#include "shared_corpus.h"
#include "validate_test_util.h"

namespace halyard::config {
namespace {

using testing::describe;
using ::testing::ElementsAre;
using ::testing::IsEmpty;

std::string analyzersDir() {
  return corpus::sharedPath("conformance/istio-analyze/pkg/config/analysis/analyzers/");
}

// "IST0130 VirtualService ns/name" for every message of the given objects.
std::vector<std::string> messages(const LoadResult& loaded) {
  std::vector<std::string> out;
  for (const auto& obj : loaded.objects) {
    Diagnostics diags;
    validateObject(obj, diags);
    for (const auto& d : diags) out.push_back(d.code + " " + d.resource.str());
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> messagesOf(const std::string& yaml) {
  LoadResult loaded;
  loadText(yaml, "test.yaml", loaded);
  return messages(loaded);
}

// EXPECTED.md case 63 (dupmatches): exactly these warnings, and no errors.
TEST(RouteReachability, IstioDupMatchesCase) {
  HALYARD_REQUIRE_SHARED_CORPUS();
  LoadResult loaded =
      loadPaths({analyzersDir() + "testdata/virtualservice_dupmatches.yaml",
                 analyzersDir() + "testdata/virtualservice_overlappingmatches.yaml"});
  std::vector<std::string> want = {
      "IST0130 VirtualService duplicate-match",
      "IST0130 VirtualService foo/sample-foo-cluster01",
      "IST0131 VirtualService almost-duplicate-match",
      "IST0131 VirtualService duplicate-match",
      "IST0130 VirtualService duplicate-tcp-match",
      "IST0130 VirtualService duplicate-empty-tcp",
      "IST0131 VirtualService almost-duplicate-tcp-match",
      "IST0131 VirtualService duplicate-tcp-match",
      "IST0130 VirtualService none/tls-routing",
      "IST0131 VirtualService none/tls-routing-almostmatch",
      "IST0131 VirtualService none/tls-routing",
      "IST0131 VirtualService non-method-get",
      "IST0131 VirtualService overlapping-in-single-match",
      "IST0131 VirtualService overlapping-in-two-matches",
      "IST0131 VirtualService overlapping-mathes-with-different-methods",
  };
  std::sort(want.begin(), want.end());
  EXPECT_EQ(messages(loaded), want);
}

std::string vs(const std::string& http) {
  return "apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: vs\n"
         "spec:\n  hosts: [a]\n  http:\n" +
         http;
}

const std::string kRoute = "    route:\n    - destination:\n        host: a\n";

TEST(RouteReachability, MessagesNameRuleAndMatch) {
  LoadResult loaded;
  loadText(vs("  - name: first\n    match:\n    - uri:\n        prefix: /x\n" + kRoute +
              "  - name: second\n    match:\n    - name: again\n      uri:\n        prefix: /x\n" +
              kRoute),
           "test.yaml", loaded);
  Diagnostics d;
  validateObject(loaded.objects.at(0), d);
  ASSERT_EQ(d.size(), 2u) << describe(d);
  EXPECT_EQ(d[0].type, "VirtualServiceIneffectiveMatch");
  EXPECT_EQ(d[0].level, Level::kInfo);
  EXPECT_EQ(d[0].field_path, "spec.http[1].match[0]");
  EXPECT_EQ(d[0].message,
            "spec.http[1].match[0]: rule \"second\" match \"again\" never applies (duplicate or "
            "overlapping match in rule \"first\")");
  EXPECT_EQ(d[1].type, "VirtualServiceUnreachableRule");
  EXPECT_EQ(d[1].level, Level::kWarning);
  EXPECT_EQ(d[1].field_path, "spec.http[1]");
  EXPECT_EQ(d[1].pos.line, 15);
}

TEST(RouteReachability, RuleAfterCatchAllIsUnreachablePerMatch) {
  auto m = messagesOf(vs("  -" + kRoute.substr(3) +
                         "  - match:\n    - uri:\n        prefix: /a\n"
                         "    - uri:\n        prefix: /b\n" +
                         kRoute));
  EXPECT_THAT(m, ElementsAre("IST0130 VirtualService vs", "IST0130 VirtualService vs"));
}

TEST(RouteReachability, EmptyAndZeroValuesEqualUnset) {
  // ignoreUriCase: false and port: 0 are what an unset field serializes to.
  auto m = messagesOf(vs("  - match:\n    - uri:\n        exact: /a\n" + kRoute +
                         "  - match:\n    - uri:\n        exact: /a\n      ignoreUriCase: false\n"
                         "      port: 0\n      headers: {}\n" +
                         kRoute));
  EXPECT_THAT(m, ElementsAre("IST0130 VirtualService vs", "IST0131 VirtualService vs"));
}

TEST(RouteReachability, DifferentMatchesAreFine) {
  auto m = messagesOf(vs("  - match:\n    - uri:\n        exact: /a\n" + kRoute +
                         "  - match:\n    - uri:\n        exact: /a\n      ignoreUriCase: true\n" +
                         kRoute + "  - match:\n    - uri:\n        regex: /a.*\n" + kRoute));
  EXPECT_THAT(m, IsEmpty());
}

TEST(RouteReachability, LongerPrefixWithOtherHeadersIsNotCovered) {
  auto m = messagesOf(vs("  - match:\n    - uri:\n        prefix: /api\n" + kRoute +
                         "  - match:\n    - uri:\n        prefix: /api/v1\n      headers:\n"
                         "        x:\n          exact: y\n" +
                         kRoute));
  EXPECT_THAT(m, IsEmpty());
  m = messagesOf(vs("  - match:\n    - uri:\n        prefix: /api\n" + kRoute +
                    "  - match:\n    - uri:\n        prefix: /api/v1\n" + kRoute));
  EXPECT_THAT(m, ElementsAre("IST0131 VirtualService vs"));
}

}  // namespace
}  // namespace halyard::config
