#include "control/observability/control_metrics.h"

#include <cstdio>

namespace halyard::control {

namespace {

void header(std::string& out, std::string_view name, std::string_view help, std::string_view type) {
  out.append("# HELP ").append(name).append(" ").append(help).append("\n# TYPE ");
  out.append(name).append(" ").append(type).append("\n");
}

void counter(std::string& out, std::string_view name, std::string_view help, uint64_t value) {
  header(out, name, help, "counter");
  out.append(name).append(" ").append(std::to_string(value)).append("\n");
}

std::string number(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%g", v);
  return buf;
}

}  // namespace

void SecondsHistogram::record(std::chrono::nanoseconds elapsed) {
  const double seconds = std::chrono::duration<double>(elapsed).count();
  size_t i = 0;
  while (i < kBounds.size() && seconds > kBounds[i]) ++i;
  buckets_[i].fetch_add(1, std::memory_order_relaxed);
  sum_ns_.fetch_add(static_cast<uint64_t>(elapsed.count() < 0 ? 0 : elapsed.count()),
                    std::memory_order_relaxed);
}

void SecondsHistogram::render(std::string& out, std::string_view name,
                              std::string_view help) const {
  header(out, name, help, "histogram");
  uint64_t cumulative = 0;
  const std::string base(name);
  for (size_t i = 0; i < buckets_.size(); ++i) {
    cumulative += buckets_[i].load(std::memory_order_relaxed);
    const std::string le = i < kBounds.size() ? number(kBounds[i]) : "+Inf";
    out += base + "_bucket{le=\"" + le + "\"} " + std::to_string(cumulative) + "\n";
  }
  out += base + "_sum " +
         number(static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9) + "\n";
  out += base + "_count " + std::to_string(cumulative) + "\n";
}

void ControlMetrics::render(std::string& out) const {
  counter(out, "halyard_control_pushes_total", "Snapshots written to proxies, whole or delta.",
          pushes.load());
  counter(out, "halyard_control_whole_pushes_total",
          "Snapshots written whole (first push, or after a NACK).", whole_pushes.load());
  header(out, "halyard_control_push_answers_total", "Answers of proxies to pushes.", "counter");
  out += "halyard_control_push_answers_total{answer=\"ack\"} " + std::to_string(acks.load()) + "\n";
  out +=
      "halyard_control_push_answers_total{answer=\"nack\"} " + std::to_string(nacks.load()) + "\n";
  counter(out, "halyard_control_config_errors_total",
          "ConfigErrors sent: no snapshot could be translated for a proxy.", config_errors.load());
  counter(out, "halyard_control_generations_total", "Config generations built.",
          generations.load());
  counter(out, "halyard_control_proxy_connects_total", "Proxy streams accepted after their hello.",
          connects.load());
  counter(out, "halyard_control_proxy_disconnects_total", "Proxy streams that ended.",
          disconnects.load());
  push_latency.render(out, "halyard_control_push_latency_seconds",
                      "Time from writing a push to the proxy's ACK or NACK of it.");
  generation_duration.render(out, "halyard_control_generation_duration_seconds",
                             "Time to translate a config generation for every proxy class.");
  scrape_duration.render(out, "halyard_control_scrape_duration_seconds",
                         "Time for the dashboard's scrape of every proxy's /stats/prometheus.");
  counter(out, "halyard_control_scrape_failures_total",
          "Proxy scrapes that failed or timed out (the proxy's last totals stand in).",
          scrape_failures.load());
}

ControlMetrics& controlMetrics() {
  static ControlMetrics metrics;
  return metrics;
}

}  // namespace halyard::control
