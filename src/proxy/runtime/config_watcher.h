// Watches the proxy's config directory (recursively) with inotify and calls `on_change` on the
// io_context's thread once changes settle: `debounce` after the last event, and no later than
// `max_delay` after the first, so an editor's write-rename dance or a `cp -r` of many files makes
// one reload, and a steady trickle of writes still reloads within a second.
#pragma once

#include <array>
#include <asio/io_context.hpp>
#include <asio/posix/stream_descriptor.hpp>
#include <asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <map>
#include <string>

#include "common/error.h"

namespace halyard::proxy::runtime {

class ConfigWatcher {
 public:
  ConfigWatcher(asio::io_context& io, std::string dir, std::function<void()> on_change,
                std::chrono::milliseconds debounce = std::chrono::milliseconds(100),
                std::chrono::milliseconds max_delay = std::chrono::milliseconds(1000));
  ~ConfigWatcher();
  ConfigWatcher(const ConfigWatcher&) = delete;
  ConfigWatcher& operator=(const ConfigWatcher&) = delete;

  // Adds watches on the directory and every subdirectory and starts reading events.
  common::Expected<void> start();
  void stop();

 private:
  void watchTree(const std::string& dir);
  void readEvents();
  void handleEvents(size_t bytes);
  void schedule();

  asio::io_context& io_;
  std::string dir_;
  std::function<void()> on_change_;
  std::chrono::milliseconds debounce_;
  std::chrono::milliseconds max_delay_;
  asio::posix::stream_descriptor inotify_;
  asio::steady_timer timer_;
  bool pending_ = false;
  std::chrono::steady_clock::time_point first_event_;
  std::map<int, std::string> watches_;  // watch descriptor -> directory
  alignas(8) std::array<char, 16 * 1024> buffer_{};
};

}  // namespace halyard::proxy::runtime
