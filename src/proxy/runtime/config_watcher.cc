#include "proxy/runtime/config_watcher.h"

#include <sys/inotify.h>
#include <unistd.h>

#include <filesystem>
#include <system_error>

#include "common/log.h"

namespace halyard::proxy::runtime {

namespace {

// Everything that can change what loadPaths reads: file contents, files appearing, vanishing or
// being renamed into place (editors and `kubectl`-style tools write a temp file and rename it).
constexpr uint32_t kMask = IN_CLOSE_WRITE | IN_MODIFY | IN_ATTRIB | IN_CREATE | IN_DELETE |
                           IN_MOVED_FROM | IN_MOVED_TO | IN_DELETE_SELF | IN_MOVE_SELF;

}  // namespace

ConfigWatcher::ConfigWatcher(asio::io_context& io, std::string dir, std::function<void()> on_change,
                             std::chrono::milliseconds debounce,
                             std::chrono::milliseconds max_delay)
    : io_(io),
      dir_(std::move(dir)),
      on_change_(std::move(on_change)),
      debounce_(debounce),
      max_delay_(max_delay),
      inotify_(io),
      timer_(io) {}

ConfigWatcher::~ConfigWatcher() {
  stop();
}

common::Expected<void> ConfigWatcher::start() {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) {
    return common::fail(common::ErrorKind::kIo,
                        "cannot watch " + dir_ + ": inotify_init1: " +
                            std::error_code(errno, std::generic_category()).message());
  }
  inotify_.assign(fd);
  watchTree(dir_);
  if (watches_.empty()) {
    return common::fail(common::ErrorKind::kIo, "cannot watch " + dir_ + " for changes");
  }
  readEvents();
  return common::Ok{};
}

void ConfigWatcher::stop() {
  asio::error_code ignored;
  timer_.cancel();
  if (inotify_.is_open()) inotify_.close(ignored);
  watches_.clear();
}

void ConfigWatcher::watchTree(const std::string& dir) {
  auto add = [this](const std::string& d) {
    int wd = ::inotify_add_watch(inotify_.native_handle(), d.c_str(), kMask);
    if (wd >= 0) {
      watches_[wd] = d;
    } else {
      HLOG_WARN("cannot watch {} for config changes: {}", d,
                std::error_code(errno, std::generic_category()).message());
    }
  };
  add(dir);
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_directory(ec)) add(it->path().string());
  }
}

void ConfigWatcher::readEvents() {
  inotify_.async_read_some(asio::buffer(buffer_), [this](const asio::error_code& ec, size_t n) {
    if (ec) return;  // closed by stop()
    handleEvents(n);
    readEvents();
  });
}

void ConfigWatcher::handleEvents(size_t bytes) {
  bool relevant = false;
  size_t off = 0;
  while (off + sizeof(inotify_event) <= bytes) {
    const auto* ev = reinterpret_cast<const inotify_event*>(buffer_.data() + off);
    off += sizeof(inotify_event) + ev->len;
    if (ev->mask & IN_IGNORED) {
      watches_.erase(ev->wd);
      continue;
    }
    relevant = true;
    // A new subdirectory (mkdir, or one moved in) must be watched too.
    if ((ev->mask & IN_ISDIR) && (ev->mask & (IN_CREATE | IN_MOVED_TO)) && ev->len > 0) {
      auto parent = watches_.find(ev->wd);
      if (parent != watches_.end()) watchTree(parent->second + "/" + ev->name);
    }
  }
  if (relevant) schedule();
}

void ConfigWatcher::schedule() {
  const auto now = std::chrono::steady_clock::now();
  if (!pending_) {
    pending_ = true;
    first_event_ = now;
  }
  // Wait for quiet, but never past max_delay from the first event of this burst.
  auto deadline = std::min(now + debounce_, first_event_ + max_delay_);
  timer_.expires_at(deadline);
  timer_.async_wait([this](const asio::error_code& ec) {
    if (ec) return;  // re-armed by a newer event, or stopped
    pending_ = false;
    on_change_();
  });
}

}  // namespace halyard::proxy::runtime
