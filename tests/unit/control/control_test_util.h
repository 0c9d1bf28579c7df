// Helpers for the control-plane tests: a temporary config directory, waiting for a condition.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>

namespace halyard::control::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "halyard-control-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::string& path() const { return path_; }
  std::string file(const std::string& name) const { return path_ + "/" + name; }

  // Written to a temporary name and renamed, as editors and `kubectl cp` do, so a reader never
  // sees half a file.
  void write(const std::string& name, const std::string& text) const {
    const std::filesystem::path target = file(name);
    std::filesystem::create_directories(target.parent_path());
    const std::string tmp = target.string() + ".tmp~";
    std::ofstream(tmp) << text;
    std::filesystem::rename(tmp, target);
  }
  void remove(const std::string& name) const { std::filesystem::remove(file(name)); }

 private:
  std::string path_;
};

// Polls `condition` until it holds or `timeout` passes; returns its last value.
template <class F>
bool waitFor(F condition, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return true;
}

}  // namespace halyard::control::testing
