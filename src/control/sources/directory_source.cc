#include "control/sources/directory_source.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>

#include "common/log.h"
#include "config/yaml/loader.h"

namespace halyard::control {

namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

constexpr uint32_t kWatchMask = IN_CREATE | IN_DELETE | IN_CLOSE_WRITE | IN_MODIFY | IN_MOVED_FROM |
                                IN_MOVED_TO | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF |
                                IN_ONLYDIR;
// While the directory itself is missing there is nothing to watch: look for it this often.
constexpr std::chrono::milliseconds kMissingDirPoll{1000};

// The loader's rule (config/yaml/loader.cc), so the control plane reads what analyze reads.
bool loadable(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), ::tolower);
  return ext == ".yaml" || ext == ".yml" || ext == ".json";
}

config::Diagnostic fileProblem(const std::string& path, config::Level level, std::string type,
                               std::string message) {
  config::Diagnostic d;
  d.code = "HAL0001";
  d.type = std::move(type);
  d.level = level;
  d.pos.file = std::make_shared<const std::string>(path);
  d.message = std::move(message);
  return d;
}

std::shared_ptr<const SourceFile> readFile(const std::string& path) {
  config::LoadResult loaded = config::loadPaths({path});
  auto file = std::make_shared<SourceFile>();
  file->path = path;
  file->objects = std::move(loaded.objects);
  file->diagnostics = std::move(loaded.diagnostics);
  for (auto& e : loaded.io_errors) {
    file->diagnostics.push_back(fileProblem(path, config::Level::kError, "IOError", std::move(e)));
  }
  if (loaded.skipped_templates > 0) {
    file->diagnostics.push_back(fileProblem(path, config::Level::kWarning, "TemplateSkipped",
                                            "contains template markers ({{); not loaded"));
  }
  return file;
}

}  // namespace

DirectorySource::DirectorySource(DirectorySourceOptions options) : options_(std::move(options)) {
  // One spelling of every path: "dir/" and "dir" name the same files as "dir/x.yaml".
  fs::path root = fs::path(options_.dir).lexically_normal();
  if (!root.has_filename() && root.has_parent_path() && root != root.root_path()) {
    root = root.parent_path();
  }
  options_.dir = root.string();
}

DirectorySource::~DirectorySource() {
  stop();
}

common::Expected<void> DirectorySource::start(Handler handler) {
  std::error_code ec;
  if (!fs::is_directory(options_.dir, ec)) {
    return common::fail(common::ErrorKind::kNotFound,
                        "config directory " + options_.dir + " does not exist");
  }
  inotify_fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  stop_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (inotify_fd_ < 0 || stop_fd_ < 0) {
    return common::fail(common::ErrorKind::kIo,
                        std::string("cannot watch the config directory: ") + std::strerror(errno));
  }
  handler_ = std::move(handler);
  delivered_ = scan();
  handler_(delivered_);
  thread_ = std::thread([this] { run(); });
  return common::Ok{};
}

void DirectorySource::stop() {
  if (thread_.joinable()) {
    const uint64_t one = 1;
    [[maybe_unused]] auto n = write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (inotify_fd_ >= 0) close(inotify_fd_);
  if (stop_fd_ >= 0) close(stop_fd_);
  inotify_fd_ = stop_fd_ = -1;
}

void DirectorySource::run() {
  // The debounce window: open since the first change of a burst, `last` the latest one.
  // (Not two optionals: GCC 12 warned that one might be read uninitialized, wrongly, in the
  // profile-guided build.)
  bool window_open = false;
  Clock::time_point first{};
  Clock::time_point last{};
  for (;;) {
    int timeout_ms = -1;
    if (window_open) {
      const auto deadline = std::min(last + options_.debounce, first + options_.max_delay);
      timeout_ms = static_cast<int>(std::max<int64_t>(
          0, std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now()).count()));
    } else if (watches_.empty()) {
      timeout_ms = static_cast<int>(kMissingDirPoll.count());
    }
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    const int n = poll(fds, 2, timeout_ms);
    if (n < 0) {
      if (errno == EINTR) continue;
      HLOG_ERROR("config directory watch failed: {}", std::strerror(errno));
      return;
    }
    if (fds[1].revents != 0) return;
    if (n > 0) {
      if (drainEvents()) {
        last = Clock::now();
        if (!window_open) first = last;
        window_open = true;
      }
      continue;
    }
    // Timed out: the debounce window closed (or it is time to look for a missing directory).
    window_open = false;
    std::error_code ec;
    if (!fs::is_directory(options_.dir, ec)) continue;
    SourceUpdate update = scan();
    if (update.files == delivered_.files && update.errors == delivered_.errors) continue;
    delivered_ = update;
    handler_(std::move(update));
  }
}

bool DirectorySource::drainEvents() {
  alignas(inotify_event) char buf[16 * 1024];
  bool any = false;
  for (;;) {
    const ssize_t n = read(inotify_fd_, buf, sizeof buf);
    if (n <= 0) break;  // EAGAIN: nothing more for now
    for (ssize_t off = 0; off < n;) {
      const auto* ev = reinterpret_cast<const inotify_event*>(buf + off);
      off += static_cast<ssize_t>(sizeof(inotify_event) + ev->len);
      if (ev->mask & IN_Q_OVERFLOW) {
        // Events were lost: every file is read again.
        for (const auto& [path, cached] : files_) dirty_.insert(path);
        any = true;
        continue;
      }
      auto it = watches_.find(ev->wd);
      if (it == watches_.end()) continue;
      // Any name may matter (a symlink swapped over a directory of config, as a mounted
      // ConfigMap does): the directory is looked at again, and a look that finds nothing new
      // delivers nothing. Config files named by an event are read again for sure.
      any = true;
      if (ev->mask & IN_IGNORED) {
        watches_.erase(it);
      } else if (ev->len > 0) {
        const fs::path path = fs::path(it->second) / ev->name;
        if ((ev->mask & IN_ISDIR) || loadable(path)) dirty_.insert(path.string());
      }
    }
  }
  return any;
}

void DirectorySource::watch(const std::string& dir) {
  const int wd = inotify_add_watch(inotify_fd_, dir.c_str(), kWatchMask);
  if (wd < 0) {
    HLOG_WARN("cannot watch {}: {}", dir, std::strerror(errno));
    return;
  }
  watches_[wd] = dir;
}

SourceUpdate DirectorySource::scan() {
  SourceUpdate out;
  std::set<std::string> dirty;
  dirty.swap(dirty_);

  watch(options_.dir);
  std::vector<std::string> paths;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(options_.dir, ec);
       !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code type_ec;
    if (it->is_directory(type_ec)) {
      watch(it->path().string());
    } else if (it->is_regular_file(type_ec) && loadable(it->path())) {
      paths.push_back(it->path().string());
    }
  }
  if (ec) out.errors.push_back("cannot list " + options_.dir + ": " + ec.message());
  std::sort(paths.begin(), paths.end());

  std::map<std::string, CachedFile> next;
  for (const auto& path : paths) {
    struct stat st {};
    FileStamp stamp;
    if (::stat(path.c_str(), &st) == 0) {
      stamp = FileStamp{st.st_dev, st.st_ino, st.st_size,
                        int64_t{st.st_mtim.tv_sec} * 1'000'000'000 + st.st_mtim.tv_nsec};
    }
    auto cached = files_.find(path);
    if (cached != files_.end() && cached->second.stamp == stamp && !dirty.count(path)) {
      next.emplace(path, std::move(cached->second));
    } else {
      next.emplace(path, CachedFile{stamp, readFile(path)});
    }
    out.files.push_back(next[path].file);
  }
  files_ = std::move(next);
  return out;
}

}  // namespace halyard::control
