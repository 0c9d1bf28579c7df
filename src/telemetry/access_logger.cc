#include "telemetry/access_logger.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "telemetry/access_log_format.h"

namespace halyard::telemetry {

struct AccessLogger::Sink {
  Sink(int f, bool o) : fd(f), owned(o) {}
  Sink(const Sink&) = delete;
  Sink& operator=(const Sink&) = delete;
  ~Sink() {
    if (owned) ::close(fd);
  }
  int fd;
  bool owned;  // stdout and stderr are the process's, never closed
};

AccessLogger::AccessLogger() = default;
AccessLogger::~AccessLogger() = default;

common::Expected<std::shared_ptr<AccessLogger::Sink>> AccessLogger::openSink(
    const std::string& path) {
  if (path == "/dev/stdout") return std::make_shared<Sink>(STDOUT_FILENO, false);
  if (path == "/dev/stderr") return std::make_shared<Sink>(STDERR_FILENO, false);
  if (path.empty()) return std::shared_ptr<Sink>();
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return common::fail(common::ErrorKind::kIo,
                        "cannot open access log " + path + ": " + std::strerror(errno) +
                            "; expected a writable file path, /dev/stdout or /dev/stderr");
  }
  return std::make_shared<Sink>(fd, true);
}

common::Expected<void> AccessLogger::open(const std::string& path) {
  auto sink = openSink(path);
  if (!sink) return common::unexpected(sink.error());
  std::lock_guard lock(mu_);
  sink_ = std::move(*sink);
  path_ = path;
  has_sink_.store(sink_ != nullptr, std::memory_order_relaxed);
  return common::Ok{};
}

void AccessLogger::reopen() {
  std::string path;
  {
    std::lock_guard lock(mu_);
    path = path_;
    by_path_.clear();  // reopened by the workers' next lines
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
  if (path.empty() || path == "/dev/stdout" || path == "/dev/stderr") return;
  if (auto reopened = open(path); !reopened) {
    std::fprintf(stderr, "access log: %s; still writing to the old file\n",
                 reopened.error().message.c_str());
  }
}

void AccessLogger::usePaths(std::vector<std::string> paths) {
  std::sort(paths.begin(), paths.end());
  paths.erase(std::unique(paths.begin(), paths.end()), paths.end());
  {
    std::lock_guard lock(mu_);
    if (paths == paths_) return;
    paths_ = std::move(paths);
    by_path_.clear();
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

std::shared_ptr<const AccessLogger::Sink> AccessLogger::sinkFor(const std::string& path) {
  std::lock_guard lock(mu_);
  for (const auto& [p, sink] : by_path_) {
    if (p == path) return sink;
  }
  auto sink = openSink(path);
  if (!sink) {
    std::fprintf(stderr, "access log provider: %s; its lines are dropped\n",
                 sink.error().message.c_str());
  }
  std::shared_ptr<const Sink> opened = sink ? std::move(*sink) : nullptr;
  by_path_.emplace_back(path, opened);  // a failure is remembered too: no retry per line
  return opened;
}

std::shared_ptr<const AccessLogger::Sink> AccessLogger::sink() const {
  std::lock_guard lock(mu_);
  return sink_;
}

AccessLogWriter::AccessLogWriter(AccessLogger& logger, size_t flush_bytes)
    : logger_(logger), flush_bytes_(flush_bytes) {
  buf_.reserve(flush_bytes + 2048);  // room for the last line before a flush
}

AccessLogWriter::~AccessLogWriter() {
  flush();
}

void AccessLogWriter::log(const AccessLogEntry& entry,
                          const translate::AccessLogProvider& provider) {
  followGeneration();
  logTo(entry, provider);
}

void AccessLogWriter::followGeneration() {
  const uint64_t g = logger_.generation();
  if (g == generation_) return;
  // Reopened or other paths: what is buffered goes to the old destinations, the next lines to
  // the new ones; the old descriptors close once no worker holds them.
  for (auto& slot : slots_) writeOut(slot.sink.get(), slot.buf);
  slots_.clear();
  generation_ = g;
}

namespace {

// One line of `entry` in the provider's format.
void appendLine(std::string& out, const AccessLogEntry& entry,
                const translate::AccessLogProvider& provider) {
  using E = translate::AccessLogProvider::Encoding;
  if (provider.encoding == E::kDefaultJson) {
    appendJsonLine(out, entry);
  } else if (provider.compiled &&
             (provider.encoding == E::kText || provider.encoding == E::kLabels)) {
    appendTemplateLine(out, entry, *provider.compiled);
  } else {
    appendTextLine(out, entry);
  }
}

}  // namespace

void AccessLogWriter::logTo(const AccessLogEntry& entry,
                            const translate::AccessLogProvider& provider) {
  // The built-in "envoy" without accessLogFile is the proxy's own log when it has one: in the
  // proxy's format (switchable at /logging) unless MeshConfig gave it one.
  if (provider.path.empty() && logger_.hasDefault()) {
    if (provider.encoding == translate::AccessLogProvider::Encoding::kDefaultText) {
      return log(entry);
    }
    appendLine(buf_, entry, provider);
    if (buf_.size() >= flush_bytes_) writeOut(logger_.sink().get(), buf_);
    return;
  }
  const std::string_view path =
      provider.path.empty() ? std::string_view("/dev/stdout") : std::string_view(provider.path);
  Slot* slot = nullptr;
  for (auto& s : slots_) {
    if (s.path == path) {
      slot = &s;
      break;
    }
  }
  if (!slot) {
    slot = &slots_.emplace_back();
    slot->path.assign(path);
    slot->sink = logger_.sinkFor(slot->path);
    slot->buf.reserve(flush_bytes_ + 2048);
  }
  if (!slot->sink) return;
  appendLine(slot->buf, entry, provider);
  if (slot->buf.size() >= flush_bytes_) writeOut(slot->sink.get(), slot->buf);
}

void AccessLogWriter::log(const AccessLogEntry& entry) {
  const AccessLogFormat format = logger_.format();
  if (format == AccessLogFormat::kOff || !logger_.has_sink_.load(std::memory_order_relaxed)) {
    return;
  }
  if (format == AccessLogFormat::kJson) {
    appendJsonLine(buf_, entry);
  } else {
    appendTextLine(buf_, entry);
  }
  if (buf_.size() >= flush_bytes_) flush();
}

namespace {

// False on an error other than EINTR; the caller drops what is left.
bool writeAll(int fd, const char* p, size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return true;
}

}  // namespace

void AccessLogWriter::flush() {
  for (auto& slot : slots_) writeOut(slot.sink.get(), slot.buf);
  followGeneration();  // a worker with no traffic lets go of old files too
  if (buf_.empty()) return;
  writeOut(logger_.sink().get(), buf_);
}

void AccessLogWriter::writeOut(const AccessLogger::Sink* sink, std::string& buf) {
  if (buf.empty()) return;
  if (sink) {
    std::string_view rest = buf;
    while (!rest.empty()) {
      // The longest run of whole lines within PIPE_BUF, or one longer line by itself.
      size_t end = rest.size() <= PIPE_BUF ? rest.size() : rest.rfind('\n', PIPE_BUF - 1) + 1;
      if (end == 0) end = rest.find('\n') + 1;  // npos + 1 == 0: unterminated, take it all
      if (end == 0) end = rest.size();
      if (!writeAll(sink->fd, rest.data(), end)) break;
      rest.remove_prefix(end);
    }
  }
  buf.clear();
}

}  // namespace halyard::telemetry
