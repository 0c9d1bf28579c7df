#include "telemetry/access_logger.h"

#include <fcntl.h>
#include <limits.h>
#include <unistd.h>

#include <cerrno>
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

common::Expected<void> AccessLogger::open(const std::string& path) {
  std::shared_ptr<Sink> sink;
  if (path == "/dev/stdout") {
    sink = std::make_shared<Sink>(STDOUT_FILENO, false);
  } else if (path == "/dev/stderr") {
    sink = std::make_shared<Sink>(STDERR_FILENO, false);
  } else if (!path.empty()) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
      return common::fail(common::ErrorKind::kIo,
                          "cannot open access log " + path + ": " + std::strerror(errno));
    }
    sink = std::make_shared<Sink>(fd, true);
  }
  std::lock_guard lock(mu_);
  sink_ = std::move(sink);
  has_sink_.store(sink_ != nullptr, std::memory_order_relaxed);
  return common::Ok{};
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
  if (buf_.empty()) return;
  if (auto sink = logger_.sink()) {
    std::string_view rest = buf_;
    while (!rest.empty()) {
      // The longest run of whole lines within PIPE_BUF, or one longer line by itself.
      size_t end = rest.size() <= PIPE_BUF ? rest.size() : rest.rfind('\n', PIPE_BUF - 1) + 1;
      if (end == 0) end = rest.find('\n') + 1;  // npos + 1 == 0: unterminated, take it all
      if (end == 0) end = rest.size();
      if (!writeAll(sink->fd, rest.data(), end)) break;
      rest.remove_prefix(end);
    }
  }
  buf_.clear();
}

}  // namespace halyard::telemetry
