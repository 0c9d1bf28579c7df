#include "config/yaml/loader.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "shared_corpus.h"

namespace halyard::config {
namespace {

LoadResult load(std::string_view text) {
  LoadResult r;
  loadText(text, "test.yaml", r);
  return r;
}

TEST(Loader, MultiDocumentWithLinesAndScalarTypes) {
  auto r = load(R"(# leading comment
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: reviews
  namespace: prod
  labels: {app: reviews}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, port: {number: 9080}}
      weight: 50
      quoted: "80"
      ratio: 0.5
      flag: true
      empty:
---
apiVersion: v1
kind: Service
metadata: {name: reviews}
)");
  ASSERT_EQ(r.objects.size(), 2u);
  EXPECT_TRUE(r.diagnostics.empty());
  const Object& vs = r.objects[0];
  EXPECT_EQ(vs.kind, "VirtualService");
  EXPECT_EQ(vs.group, "networking.istio.io");
  EXPECT_EQ(vs.version, "v1");
  EXPECT_EQ(vs.name, "reviews");
  EXPECT_EQ(vs.namespace_, "prod");
  EXPECT_EQ(vs.labels.at("app"), "reviews");
  EXPECT_EQ(vs.pos.line, 2);
  EXPECT_EQ(vs.pos.str(), "test.yaml:2");
  EXPECT_EQ(vs.lineOf("spec.http[0].route[0].weight"), 13);
  EXPECT_EQ(vs.lineOf("spec.http[0].route[0].destination.port.number"), 12);
  EXPECT_EQ(vs.lineOf("spec.http[0].nothing.here"), 11);  // deepest existing prefix
  const Node* dest =
      vs.root.get("spec")->get("http")->items[0].get("route")->items[0].get("weight");
  ASSERT_NE(dest, nullptr);
  EXPECT_EQ(dest->type, NodeType::kInt);
  EXPECT_EQ(dest->asInt(), 50);
  const Node& route = vs.root.get("spec")->get("http")->items[0].get("route")->items[0];
  EXPECT_EQ(route.get("quoted")->type, NodeType::kString);
  EXPECT_EQ(route.get("ratio")->type, NodeType::kDouble);
  EXPECT_EQ(route.get("flag")->asBool(), true);
  EXPECT_TRUE(route.get("empty")->isNull());
  EXPECT_EQ(r.objects[1].kind, "Service");
  EXPECT_EQ(r.objects[1].group, "");
  EXPECT_EQ(r.objects[1].pos.line, 19);
}

TEST(Loader, BrokenDocumentDoesNotStopTheOthers) {
  auto r = load(R"(apiVersion: v1
kind: Service
metadata: {name: a}
---
apiVersion: v1
kind: Service
metadata: {name: [unclosed
---
apiVersion: v1
kind: Service
metadata: {name: c}
)");
  ASSERT_EQ(r.objects.size(), 2u);
  EXPECT_EQ(r.objects[0].name, "a");
  EXPECT_EQ(r.objects[1].name, "c");
  EXPECT_EQ(r.objects[1].pos.line, 9);
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_EQ(r.diagnostics[0].type, "InvalidYAML");
  EXPECT_GE(r.diagnostics[0].pos.line, 5);
  EXPECT_LE(r.diagnostics[0].pos.line, 8);
}

TEST(Loader, ListKindAndJson) {
  auto r = load(R"({"apiVersion": "v1", "kind": "List", "items": [
  {"apiVersion": "networking.istio.io/v1beta1", "kind": "Gateway", "metadata": {"name": "g"}},
  {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s", "namespace": "x"}}]}
)");
  ASSERT_EQ(r.objects.size(), 2u);
  EXPECT_EQ(r.objects[0].kind, "Gateway");
  EXPECT_EQ(r.objects[0].pos.line, 2);
  EXPECT_EQ(r.objects[1].namespace_, "x");
}

TEST(Loader, NonObjectsAreReported) {
  auto r = load("just a string\n---\nfoo: bar\n---\n# only a comment\n");
  EXPECT_TRUE(r.objects.empty());
  ASSERT_EQ(r.diagnostics.size(), 2u);
  EXPECT_EQ(r.diagnostics[0].pos.line, 1);
  EXPECT_NE(r.diagnostics[1].message.find("apiVersion"), std::string::npos);
}

TEST(Loader, TestErrorKeyIsStrippedOnRequest) {
  LoadResult r;
  LoadOptions o;
  o.strip_test_error_key = true;
  loadText("_err: bad\napiVersion: v1\nkind: Service\nmetadata: {name: a}\n", "t.yaml", r, o);
  ASSERT_EQ(r.objects.size(), 1u);
  EXPECT_EQ(r.objects[0].root.get("_err"), nullptr);
}

TEST(Loader, DirectoriesRecurseSortedAndSkipTemplates) {
  namespace fs = std::filesystem;
  fs::path dir = fs::temp_directory_path() / "halyard_loader_test";
  fs::remove_all(dir);
  fs::create_directories(dir / "sub");
  std::ofstream(dir / "b.yaml") << "apiVersion: v1\nkind: Service\nmetadata: {name: b}\n";
  std::ofstream(dir / "sub" / "a.yml") << "apiVersion: v1\nkind: Service\nmetadata: {name: a}\n";
  std::ofstream(dir / "t.yaml") << "apiVersion: v1\nkind: Service\nmetadata: {name: {{ .Name }}}\n";
  std::ofstream(dir / "notes.txt") << "ignored";
  auto r = loadPaths({dir.string(), (dir / "missing.yaml").string()});
  ASSERT_EQ(r.objects.size(), 2u);
  EXPECT_EQ(r.objects[0].name, "b");
  EXPECT_EQ(r.objects[1].name, "a");
  EXPECT_EQ(r.skipped_templates, 1);
  ASSERT_EQ(r.io_errors.size(), 1u);
  EXPECT_NE(r.io_errors[0].find("missing.yaml"), std::string::npos);
  fs::remove_all(dir);
}

TEST(Loader, SeedFilesLoadUnchanged) {
  HALYARD_REQUIRE_SHARED_CORPUS();
  auto r = loadPaths({corpus::sharedPath("seed")});
  EXPECT_TRUE(r.diagnostics.empty());
  ASSERT_EQ(r.objects.size(), 4u);
  // The seed writes "weight: 0 " with a trailing space and "kind: Gateway " likewise.
  for (const auto& o : r.objects) EXPECT_TRUE(o.kind == "Gateway" || o.kind == "VirtualService");
}

}  // namespace
}  // namespace halyard::config

namespace halyard::config {
namespace {

TEST(Loader, HostileNestingIsRefusedNotRecursed) {
  std::string deep = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\ndata: ";
  deep += std::string(5000, '[') + std::string(5000, ']') + "\n";
  auto r = load(deep);
  EXPECT_TRUE(r.objects.empty());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_NE(r.diagnostics[0].message.find("nested too deeply"), std::string::npos);
}

TEST(Loader, AliasExpansionIsBounded) {
  // Each level doubles the previous one: 2^40 values if expanded naively.
  std::string bomb = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\na0: &a0 [x, x]\n";
  for (int i = 1; i <= 40; ++i) {
    const std::string cur = std::to_string(i), prev = std::to_string(i - 1);
    bomb.append("a").append(cur).append(": &a").append(cur).append(" [*a").append(prev);
    bomb.append(", *a").append(prev).append("]\n");
  }
  auto r = load(bomb);
  EXPECT_TRUE(r.objects.empty());
  ASSERT_EQ(r.diagnostics.size(), 1u);
  EXPECT_NE(r.diagnostics[0].message.find("too large"), std::string::npos);
}

}  // namespace
}  // namespace halyard::config

namespace halyard::config {
namespace {

TEST(Loader, Ipv6AddressEndingInColonsInAFlowSequenceIsAString) {
  auto r = load(
      "apiVersion: v1\nkind: X\nmetadata: {name: x}\naddresses: [1.2.3.4, 2001:db8::]\n"
      "pair: [a: b]\n");
  ASSERT_EQ(r.objects.size(), 1u);
  const Node* a = r.objects[0].root.get("addresses");
  ASSERT_EQ(a->items.size(), 2u);
  EXPECT_EQ(a->items[1].type, NodeType::kString);
  EXPECT_EQ(a->items[1].text, "2001:db8::");
  EXPECT_TRUE(r.objects[0].root.get("pair")->items[0].isMap());  // a real pair stays a map
}

}  // namespace
}  // namespace halyard::config
