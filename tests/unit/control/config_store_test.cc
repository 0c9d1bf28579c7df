// Quarantine semantics: an invalid object is left out and reported, an earlier valid version
// keeps serving in its place, a broken document keeps what its file defined, and everything else
// follows the source.
#include "control/store/config_store.h"

#include <gtest/gtest.h>

#include "config/yaml/loader.h"

namespace halyard::control {
namespace {

std::shared_ptr<const SourceFile> file(const std::string& path, const std::string& yaml) {
  config::LoadResult loaded;
  config::loadText(yaml, path, loaded);
  auto f = std::make_shared<SourceFile>();
  f->path = path;
  f->objects = std::move(loaded.objects);
  f->diagnostics = std::move(loaded.diagnostics);
  return f;
}

std::string virtualService(const std::string& name, const std::string& host, int weight = 100) {
  return "apiVersion: networking.istio.io/v1\n"
         "kind: VirtualService\n"
         "metadata:\n"
         "  name: " +
         name +
         "\n"
         "  namespace: default\n"
         "spec:\n"
         "  hosts: [\"" +
         host +
         "\"]\n"
         "  http:\n"
         "  - route:\n"
         "    - destination:\n"
         "        host: backend\n"
         "      weight: " +
         std::to_string(weight) + "\n";
}

SourceUpdate updateOf(std::vector<std::shared_ptr<const SourceFile>> files) {
  return SourceUpdate{std::move(files), {}};
}

// "name=host" for every effective VirtualService, in order.
std::vector<std::string> served(const ConfigStore& store) {
  std::vector<std::string> out;
  for (const auto& o : store.effective()) {
    const config::Node* hosts = o.spec() ? o.spec()->get("hosts") : nullptr;
    out.push_back(o.name + "=" + std::string(hosts ? hosts->items.at(0).str() : ""));
  }
  return out;
}

TEST(ConfigStore, AnInvalidObjectIsLeftOutAndTheOthersServe) {
  ConfigStore store;
  store.update(updateOf({file("/c/routes.yaml", virtualService("good", "a.example") + "---\n" +
                                                    virtualService("bad", "b.example", -5))}));
  EXPECT_EQ(served(store), std::vector<std::string>{"good=a.example"});
  const auto q = store.quarantined();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].resource.str(), "VirtualService default/bad");
  EXPECT_FALSE(q[0].previous_serving);
  ASSERT_FALSE(q[0].problems.empty());
  EXPECT_EQ(q[0].problems[0].code, "IST0106");
  EXPECT_EQ(q[0].problems[0].pos.str(), "/c/routes.yaml:25");  // the weight's line
}

TEST(ConfigStore, AnInvalidUpdateKeepsThePreviousVersionServing) {
  ConfigStore store;
  store.update(updateOf({file("/c/vs.yaml", virtualService("api", "v1.example"))}));
  store.commit();
  store.update(updateOf({file("/c/vs.yaml", virtualService("api", "v2.example", -1))}));
  EXPECT_EQ(served(store), std::vector<std::string>{"api=v1.example"});
  ASSERT_EQ(store.quarantined().size(), 1u);
  EXPECT_TRUE(store.quarantined()[0].previous_serving);
  store.commit();  // still the first version to fall back on
  store.update(updateOf({file("/c/vs.yaml", virtualService("api", "v3.example"))}));
  EXPECT_EQ(served(store), std::vector<std::string>{"api=v3.example"});
  EXPECT_TRUE(store.quarantined().empty());
}

TEST(ConfigStore, ABrokenDocumentKeepsTheObjectsItsFileDefined) {
  ConfigStore store;
  store.update(updateOf({file("/c/vs.yaml", virtualService("one", "1.example") + "---\n" +
                                                virtualService("two", "2.example"))}));
  store.commit();
  // "two" is being edited and does not parse: it keeps its last valid version; "one" changes.
  store.update(updateOf(
      {file("/c/vs.yaml", virtualService("one", "1b.example") + "---\nkind: [unclosed\n")}));
  EXPECT_EQ(served(store), (std::vector<std::string>{"one=1b.example", "two=2.example"}));
  const auto q = store.quarantined();
  ASSERT_EQ(q.size(), 1u);
  EXPECT_EQ(q[0].resource.str(), "VirtualService default/two");
  EXPECT_TRUE(q[0].previous_serving);
  EXPECT_EQ(q[0].problems.at(0).code, "HAL0001");
  EXPECT_EQ(q[0].pos.fileName(), "/c/vs.yaml");
  store.commit();
  // Once the file parses again without it, it is deleted.
  store.update(updateOf({file("/c/vs.yaml", virtualService("one", "1b.example"))}));
  EXPECT_EQ(served(store), std::vector<std::string>{"one=1b.example"});
}

TEST(ConfigStore, ADeletedFileTakesItsObjectsAlong) {
  ConfigStore store;
  store.update(updateOf({file("/c/a.yaml", virtualService("a", "a.example")),
                         file("/c/b.yaml", virtualService("b", "b.example"))}));
  store.commit();
  store.update(updateOf({file("/c/b.yaml", virtualService("b", "b.example"))}));
  EXPECT_EQ(served(store), std::vector<std::string>{"b=b.example"});
}

TEST(ConfigStore, TheLaterOfTwoDefinitionsServes) {
  ConfigStore store;
  store.update(updateOf({file("/c/a.yaml", virtualService("same", "first.example")),
                         file("/c/b.yaml", virtualService("same", "second.example"))}));
  EXPECT_EQ(served(store), std::vector<std::string>{"same=second.example"});
  ASSERT_EQ(store.problems().size(), 1u);
  EXPECT_EQ(store.problems()[0].code, "HAL0002");
  EXPECT_EQ(store.problems()[0].pos.str(), "/c/a.yaml:1");
}

TEST(ConfigStore, TranslationProblemsQuarantineTheObjectTheyName) {
  ConfigStore store;
  store.update(updateOf({file("/c/vs.yaml", virtualService("x", "x.example") + "---\n" +
                                                virtualService("y", "y.example"))}));
  config::Diagnostic d;
  d.code = "HAL0103";
  d.level = config::Level::kError;
  d.resource = config::ResourceRef{"VirtualService", "default", "x"};
  d.message = "regex does not compile";
  EXPECT_TRUE(store.quarantine({d}));
  EXPECT_FALSE(store.quarantine({d}));  // already quarantined
  EXPECT_EQ(served(store), std::vector<std::string>{"y=y.example"});
  ASSERT_EQ(store.quarantined().size(), 1u);
  EXPECT_EQ(store.quarantined()[0].problems.at(0).code, "HAL0103");
}

}  // namespace
}  // namespace halyard::control
