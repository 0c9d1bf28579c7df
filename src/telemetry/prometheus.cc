#include "telemetry/prometheus.h"

#include <charconv>
#include <map>
#include <vector>

namespace halyard::telemetry {

namespace {

struct Totals {
  uint64_t counter = 0;
  int64_t gauge = 0;
  std::array<uint64_t, Histogram::kBucketCount> buckets{};
  uint64_t sum = 0;
};

struct Family {
  MetricType type;
  std::map<std::vector<Label>, Totals> series;  // views into the stats, alive during the render
};

template <class T>
void appendNumber(std::string& out, T v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;  // 32 chars hold any 64-bit integer
  out.append(buf, end);
}

// Bucket bounds in plain decimal ("0.5", "1800000"), never exponent notation.
void appendBound(std::string& out, double v) {
  char buf[32];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::fixed);
  (void)ec;
  out.append(buf, end);
}

// Names come from code, but a stray character must not break the whole scrape: anything outside
// [a-zA-Z0-9_:] becomes '_' (':' only in metric names), and a leading digit gets a '_' prefix.
void appendName(std::string& out, std::string_view name, bool metric) {
  if (!name.empty() && name[0] >= '0' && name[0] <= '9') out.push_back('_');
  for (char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || (metric && c == ':');
    out.push_back(ok ? c : '_');
  }
}

const char* typeName(MetricType t) {
  switch (t) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"` plus `extra` (the le label) and `}`; nothing when there are no labels at all.
void appendLabels(std::string& out, const std::vector<Label>& labels, const Label* extra) {
  if (labels.empty() && extra == nullptr) return;
  out.push_back('{');
  bool first = true;
  auto one = [&](const Label& l) {
    if (!first) out.push_back(',');
    first = false;
    appendName(out, l.name, false);
    out.append("=\"");
    appendEscapedLabelValue(out, l.value);
    out.push_back('"');
  };
  for (const Label& l : labels) one(l);
  if (extra != nullptr) one(*extra);
  out.push_back('}');
}

void accumulate(Totals& t, const Series& s) {
  switch (s.type()) {
    case MetricType::kCounter:
      t.counter += s.counter()->value();
      break;
    case MetricType::kGauge:
      t.gauge += s.gauge()->value();
      break;
    case MetricType::kHistogram: {
      const Histogram& h = *s.histogram();
      for (size_t i = 0; i < Histogram::kBucketCount; ++i) t.buckets[i] += h.bucket(i);
      t.sum += h.sum();
      break;
    }
  }
}

void renderFamily(std::string& out, std::string_view name, const Family& f) {
  out.append("# TYPE ");
  appendName(out, name, true);
  out.push_back(' ');
  out.append(typeName(f.type));
  out.push_back('\n');
  for (const auto& [labels, t] : f.series) {
    if (f.type != MetricType::kHistogram) {
      appendName(out, name, true);
      appendLabels(out, labels, nullptr);
      out.push_back(' ');
      if (f.type == MetricType::kCounter) {
        appendNumber(out, t.counter);
      } else {
        appendNumber(out, t.gauge);
      }
      out.push_back('\n');
      continue;
    }
    uint64_t cumulative = 0;
    for (size_t i = 0; i < Histogram::kBucketCount; ++i) {
      cumulative += t.buckets[i];
      std::string bound;
      if (i < kDefaultBuckets.size()) {
        appendBound(bound, kDefaultBuckets[i]);
      } else {
        bound = "+Inf";
      }
      const Label le{"le", bound};
      appendName(out, name, true);
      out.append("_bucket");
      appendLabels(out, labels, &le);
      out.push_back(' ');
      appendNumber(out, cumulative);
      out.push_back('\n');
    }
    appendName(out, name, true);
    out.append("_sum");
    appendLabels(out, labels, nullptr);
    out.push_back(' ');
    appendNumber(out, t.sum);
    out.push_back('\n');
    appendName(out, name, true);
    out.append("_count");
    appendLabels(out, labels, nullptr);
    out.push_back(' ');
    appendNumber(out, cumulative);
    out.push_back('\n');
  }
}

}  // namespace

void appendEscapedLabelValue(std::string& out, std::string_view value) {
  for (char c : value) {
    switch (c) {
      case '\\':
        out.append("\\\\");
        break;
      case '"':
        out.append("\\\"");
        break;
      case '\n':
        out.append("\\n");
        break;
      default:
        out.push_back(c);
    }
  }
}

std::string renderPrometheus(std::span<const WorkerStats* const> stats,
                             std::string_view build_tag) {
  std::map<std::string_view, Family> families;
  for (const WorkerStats* ws : stats) {
    ws->forEachSeries([&](const Series& s) {
      auto it = families.try_emplace(s.name(), Family{s.type(), {}}).first;
      if (it->second.type != s.type()) return;  // one name, one type (see worker_stats.h)
      std::vector<Label> labels(s.labels().begin(), s.labels().end());
      accumulate(it->second.series[std::move(labels)], s);
    });
  }
  Family build{MetricType::kGauge, {}};
  build.series[{Label{"component", "proxy"}, Label{"tag", build_tag}}].gauge = 1;
  families.insert_or_assign("istio_build", std::move(build));

  std::string out;
  for (const auto& [name, family] : families) renderFamily(out, name, family);
  return out;
}

}  // namespace halyard::telemetry
