// Access log output: one AccessLogger per process (where and how), one AccessLogWriter per
// worker (its own line buffers: one for the proxy's own log, one per provider path).
//
// The proxy's own log is --access-log. The Telemetry API's providers (MeshConfig
// envoyFileAccessLog, translate::AccessLogProvider) name their own paths and formats: a worker
// asks the logger for a path's destination once (opened on first use, shared by the workers)
// and keeps it until the logger's generation changes, which reopen() does (SIGUSR1, after a
// log rotation) and usePaths() when a new config names other paths. A provider whose path
// changes with a push writes to the new path from its next line on.
//
// Lines never interleave across workers: a writer buffers whole lines and hands them to the
// kernel in write(2) calls that each carry whole lines and, when the destination is a pipe,
// at most PIPE_BUF bytes, the size up to which the kernel keeps a pipe write in one piece (a
// single line longer than that is written alone). The request path takes no lock: it reads
// the format with one relaxed atomic load and appends to the worker's buffer.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "telemetry/access_log_entry.h"
#include "translate/tracing.h"

namespace halyard::telemetry {

enum class AccessLogFormat : uint8_t { kOff, kText, kJson };

class AccessLogger {
 public:
  AccessLogger();  // TEXT format, no destination: nothing is written until open()
  ~AccessLogger();
  AccessLogger(const AccessLogger&) = delete;
  AccessLogger& operator=(const AccessLogger&) = delete;

  // Any thread. meshConfig.accessLogFile semantics: "" writes nothing, "/dev/stdout" and
  // "/dev/stderr" use the process's streams, any other path is opened for appending (created
  // 0644). Lines buffered before the switch still go to the old destination, which is closed
  // when no writer uses it any more. On failure the previous destination stays.
  common::Expected<void> open(const std::string& path);
  // Any thread; takes effect with the next line each worker logs.
  void setFormat(AccessLogFormat format) { format_.store(format, std::memory_order_relaxed); }
  AccessLogFormat format() const { return format_.load(std::memory_order_relaxed); }
  bool hasDefault() const { return has_sink_.load(std::memory_order_relaxed); }

  // Any thread (SIGUSR1 on the main thread): the --access-log file and every provider file are
  // opened again by path, the old descriptors closed once no worker writes to them; lines
  // already buffered go to the old file. What log rotation (logrotate's move + signal) needs.
  void reopen();
  // Any thread (after a config is applied): the provider paths the config names. When they
  // differ from the last ones, the workers drop their descriptors at their next line, so a path
  // no provider names any more is closed (the --access-log file is left alone).
  void usePaths(std::vector<std::string> paths);

 private:
  friend class AccessLogWriter;
  struct Sink;
  std::shared_ptr<const Sink> sink() const;
  // "/dev/stdout" and "/dev/stderr" are the process's streams (as in Istio); another path is
  // opened for appending (created 0644); "" is no destination (null).
  static common::Expected<std::shared_ptr<Sink>> openSink(const std::string& path);
  // A provider path's destination, opened on first use; null when it cannot be opened (said
  // once per path and generation on stderr).
  std::shared_ptr<const Sink> sinkFor(const std::string& path);
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }

  std::atomic<AccessLogFormat> format_{AccessLogFormat::kText};
  std::atomic<bool> has_sink_{false};
  mutable std::mutex mu_;  // guards sink_, path_ and by_path_; never taken per request
  std::shared_ptr<const Sink> sink_;
  std::string path_;                                                          // of sink_
  std::vector<std::pair<std::string, std::shared_ptr<const Sink>>> by_path_;  // providers'
  std::vector<std::string> paths_;                                            // usePaths(), sorted
  std::atomic<uint64_t> generation_{0};
};

class AccessLogWriter {
 public:
  // Lines are written once `flush_bytes` are buffered; the owner should also call flush() on a
  // timer (Envoy flushes every second) and before exit. 0 writes every line at once.
  static constexpr size_t kDefaultFlushBytes = 4096;
  explicit AccessLogWriter(AccessLogger& logger, size_t flush_bytes = kDefaultFlushBytes);
  ~AccessLogWriter();  // flushes
  AccessLogWriter(const AccessLogWriter&) = delete;
  AccessLogWriter& operator=(const AccessLogWriter&) = delete;

  // Owner thread only. Formats the entry in the current format (nothing when off or when there
  // is no destination). Does not allocate once the buffer has grown to its working size.
  void log(const AccessLogEntry& entry);
  // Owner thread only. One line to one provider (a sink of the Telemetry API's access log), in
  // its format to its path. A provider with an empty path is the proxy's own log when it has
  // one, else /dev/stdout (Istio's built-in "envoy").
  void log(const AccessLogEntry& entry, const translate::AccessLogProvider& provider);
  // Whether log(entry) would write anything: callers skip the filter otherwise.
  bool wantsOwn() const {
    return logger_.hasDefault() && logger_.format() != AccessLogFormat::kOff;
  }
  // Owner thread only. Writes the buffered lines. A write error drops them: a log must never
  // stop the proxy.
  void flush();

 private:
  // A provider path's buffer and destination (null: it could not be opened this generation).
  struct Slot {
    std::string path;
    std::shared_ptr<const AccessLogger::Sink> sink;
    std::string buf;
  };
  void logTo(const AccessLogEntry& entry, const translate::AccessLogProvider& provider);
  // Drops the slots when the logger's generation changed (reopen(), usePaths()).
  void followGeneration();
  static void writeOut(const AccessLogger::Sink* sink, std::string& buf);

  AccessLogger& logger_;
  size_t flush_bytes_;
  std::string buf_;
  std::vector<Slot> slots_;  // a handful: searched linearly
  uint64_t generation_ = 0;
};

}  // namespace halyard::telemetry
