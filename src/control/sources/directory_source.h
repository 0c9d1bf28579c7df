// A directory of Istio/Kubernetes YAML (recursive; *.yaml, *.yml, *.json, as `halyard analyze`
// reads it), watched with inotify. Changes are debounced: the directory is looked at again once
// no event came for `debounce`, and at the latest `max_delay` after the first event, so an editor
// writing a file in several steps, or `cp -r` of many files, makes one update. Only files whose
// inotify events named them, or whose size, inode or modification time differ, are read again,
// and a look that finds nothing new delivers nothing.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>

#include "control/sources/config_source.h"

namespace halyard::control {

struct DirectorySourceOptions {
  std::string dir;
  std::chrono::milliseconds debounce{100};
  std::chrono::milliseconds max_delay{1000};
};

class DirectorySource : public ConfigSource {
 public:
  explicit DirectorySource(DirectorySourceOptions options);
  ~DirectorySource() override;

  common::Expected<void> start(Handler handler) override;
  void stop() override;
  std::string describe() const override { return "directory " + options_.dir; }

 private:
  struct FileStamp {
    dev_t device = 0;
    ino_t inode = 0;
    off_t size = 0;
    int64_t mtime_ns = 0;
    bool operator==(const FileStamp&) const = default;
  };
  struct CachedFile {
    FileStamp stamp;
    std::shared_ptr<const SourceFile> file;
  };

  void run();
  // Reads the inotify events pending; true when there was one.
  bool drainEvents();
  // Walks the directory, watches every subdirectory, reads new and changed files.
  SourceUpdate scan();
  void watch(const std::string& dir);

  DirectorySourceOptions options_;
  Handler handler_;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;                    // eventfd
  std::map<int, std::string> watches_;  // watch descriptor -> directory
  std::set<std::string> dirty_;         // paths inotify named since the last scan
  std::map<std::string, CachedFile> files_;
  SourceUpdate delivered_;  // the last state handed out
  std::thread thread_;
};

}  // namespace halyard::control
