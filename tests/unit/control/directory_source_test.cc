// The watched directory: the initial state before start() returns, debounced updates, only
// changed files read again, subdirectories, deletions, and files that are not config.
#include "control/sources/directory_source.h"

#include <gtest/gtest.h>

#include <mutex>
#include <vector>

#include "control_test_util.h"

namespace halyard::control {
namespace {

using testing::TempDir;
using testing::waitFor;
using namespace std::chrono_literals;

std::string gateway(const std::string& name) {
  return "apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata:\n  name: " + name +
         "\nspec:\n  selector:\n    istio: ingressgateway\n  servers:\n  - port:\n      number: "
         "80\n      name: http\n      protocol: HTTP\n    hosts: [\"*\"]\n";
}

class Updates {
 public:
  ConfigSource::Handler handler() {
    return [this](SourceUpdate u) {
      std::lock_guard lock(mu_);
      updates_.push_back(std::move(u));
    };
  }
  size_t count() {
    std::lock_guard lock(mu_);
    return updates_.size();
  }
  SourceUpdate last() {
    std::lock_guard lock(mu_);
    return updates_.back();
  }
  SourceUpdate at(size_t i) {
    std::lock_guard lock(mu_);
    return updates_.at(i);
  }

 private:
  std::mutex mu_;
  std::vector<SourceUpdate> updates_;
};

std::shared_ptr<const SourceFile> fileNamed(const SourceUpdate& u, const std::string& path) {
  for (const auto& f : u.files) {
    if (f->path == path) return f;
  }
  return nullptr;
}

TEST(DirectorySource, DeliversTheInitialStateBeforeStartReturns) {
  TempDir dir;
  dir.write("a.yaml", gateway("a"));
  dir.write("sub/b.yml", gateway("b"));
  Updates updates;
  DirectorySource source({dir.path() + "/", 50ms});
  ASSERT_TRUE(source.start(updates.handler()));
  ASSERT_EQ(updates.count(), 1u);
  const SourceUpdate first = updates.last();
  ASSERT_EQ(first.files.size(), 2u);
  EXPECT_EQ(first.files[0]->path, dir.file("a.yaml"));  // one spelling, whatever the flag said
  EXPECT_EQ(first.files[1]->path, dir.file("sub/b.yml"));
  EXPECT_EQ(first.files[0]->objects.at(0).name, "a");
  EXPECT_EQ(first.files[0]->objects.at(0).pos.str(), dir.file("a.yaml") + ":1");
}

TEST(DirectorySource, AMissingDirectoryFailsTheStart) {
  Updates updates;
  DirectorySource source({"/nonexistent/halyard-config"});
  auto started = source.start(updates.handler());
  ASSERT_FALSE(started);
  EXPECT_NE(started.error().message.find("does not exist"), std::string::npos);
}

TEST(DirectorySource, QuickEditsMakeOneUpdateAndOnlyChangedFilesAreReadAgain) {
  TempDir dir;
  dir.write("a.yaml", gateway("a"));
  dir.write("b.yaml", gateway("b0"));
  Updates updates;
  DirectorySource source({dir.path(), 200ms});
  ASSERT_TRUE(source.start(updates.handler()));
  const auto a_before = fileNamed(updates.last(), dir.file("a.yaml"));
  for (int i = 1; i <= 5; ++i) {
    dir.write("b.yaml", gateway("b" + std::to_string(i)));
    std::this_thread::sleep_for(5ms);
  }
  ASSERT_TRUE(waitFor([&] { return updates.count() >= 2; }));
  std::this_thread::sleep_for(400ms);  // a second update would have come by now
  ASSERT_EQ(updates.count(), 2u);
  const SourceUpdate u = updates.last();
  EXPECT_EQ(fileNamed(u, dir.file("b.yaml"))->objects.at(0).name, "b5");
  EXPECT_EQ(fileNamed(u, dir.file("a.yaml")), a_before);  // the same shared file: not re-read
}

TEST(DirectorySource, ASameSizeRewriteWithinOneClockTickIsSeen) {
  TempDir dir;
  dir.write("a.yaml", gateway("x1"));
  Updates updates;
  DirectorySource source({dir.path(), 50ms});
  ASSERT_TRUE(source.start(updates.handler()));
  // Same length, same second: only the inotify event tells the files apart.
  { std::ofstream(dir.file("a.yaml"), std::ios::trunc) << gateway("x2"); }
  ASSERT_TRUE(waitFor([&] {
    return updates.count() >= 2 &&
           fileNamed(updates.last(), dir.file("a.yaml"))->objects.at(0).name == "x2";
  }));
}

TEST(DirectorySource, SubdirectoriesAndDeletionsFollow) {
  TempDir dir;
  dir.write("a.yaml", gateway("a"));
  Updates updates;
  DirectorySource source({dir.path(), 50ms});
  ASSERT_TRUE(source.start(updates.handler()));
  dir.write("new/deeper/c.json",
            R"({"apiVersion":"networking.istio.io/v1","kind":"Gateway","metadata":{"name":"c"}})");
  ASSERT_TRUE(waitFor([&] { return fileNamed(updates.last(), dir.file("new/deeper/c.json")); }));
  // A file in a directory that appeared after the start is watched too.
  dir.write("new/deeper/d.yaml", gateway("d"));
  ASSERT_TRUE(waitFor([&] { return fileNamed(updates.last(), dir.file("new/deeper/d.yaml")); }));
  dir.remove("a.yaml");
  ASSERT_TRUE(waitFor([&] { return !fileNamed(updates.last(), dir.file("a.yaml")); }));
}

TEST(DirectorySource, FilesThatAreNotConfigMakeNoUpdate) {
  TempDir dir;
  dir.write("a.yaml", gateway("a"));
  Updates updates;
  DirectorySource source({dir.path(), 20ms});
  ASSERT_TRUE(source.start(updates.handler()));
  dir.write("notes.txt", "not config");
  dir.write(".a.yaml.swp", "editor state");
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(updates.count(), 1u);
}

TEST(DirectorySource, ContinuousChangesStillFlowAfterTheMaximumDelay) {
  TempDir dir;
  dir.write("a.yaml", gateway("a0"));
  Updates updates;
  DirectorySource source({dir.path(), 100ms, 300ms});
  ASSERT_TRUE(source.start(updates.handler()));
  const auto until = std::chrono::steady_clock::now() + 1200ms;
  for (int i = 1; std::chrono::steady_clock::now() < until; ++i) {
    dir.write("a.yaml", gateway("a" + std::to_string(i)));
    std::this_thread::sleep_for(20ms);  // never quiet for the debounce
  }
  EXPECT_GE(updates.count(), 3u);  // the initial state and at least two forced by max_delay
}

TEST(DirectorySource, BrokenYamlIsReportedWithTheFile) {
  TempDir dir;
  dir.write("a.yaml", gateway("a") + "---\nkind: [unclosed\n");
  Updates updates;
  DirectorySource source({dir.path()});
  ASSERT_TRUE(source.start(updates.handler()));
  const auto f = fileNamed(updates.last(), dir.file("a.yaml"));
  ASSERT_EQ(f->objects.size(), 1u);  // the good document still loads
  ASSERT_FALSE(f->diagnostics.empty());
  EXPECT_EQ(f->diagnostics[0].pos.fileName(), dir.file("a.yaml"));
}

}  // namespace
}  // namespace halyard::control
