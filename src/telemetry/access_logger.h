// Access log output: one AccessLogger per process (where and how), one AccessLogWriter per
// worker (its own line buffer).
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

#include "common/error.h"
#include "telemetry/access_log_entry.h"

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

 private:
  friend class AccessLogWriter;
  struct Sink;
  std::shared_ptr<const Sink> sink() const;

  std::atomic<AccessLogFormat> format_{AccessLogFormat::kText};
  std::atomic<bool> has_sink_{false};
  mutable std::mutex mu_;  // guards sink_; taken once per flush, never per request
  std::shared_ptr<const Sink> sink_;
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
  // Owner thread only. Writes the buffered lines. A write error drops them: a log must never
  // stop the proxy.
  void flush();

 private:
  AccessLogger& logger_;
  size_t flush_bytes_;
  std::string buf_;
};

}  // namespace halyard::telemetry
