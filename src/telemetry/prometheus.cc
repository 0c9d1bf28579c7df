#include "telemetry/prometheus.h"

#include <charconv>
#include <map>
#include <vector>

#include "common/hex.h"

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

std::string renderPrometheus(std::span<const WorkerStats* const> stats, std::string_view build_tag,
                             const re2::RE2* filter) {
  std::map<std::string_view, Family> families;
  // The filter's verdict per name, so each family's name is matched once per render.
  std::map<std::string_view, bool> wanted;
  auto keep = [&](std::string_view name) {
    if (!filter) return true;
    auto [it, fresh] = wanted.try_emplace(name, false);
    if (fresh) it->second = re2::RE2::PartialMatch(name, *filter);
    return it->second;
  };
  for (const WorkerStats* ws : stats) {
    ws->forEachSeries([&](const Series& s) {
      if (!keep(s.name())) return;
      auto it = families.try_emplace(s.name(), Family{s.type(), {}}).first;
      if (it->second.type != s.type()) return;  // one name, one type (see worker_stats.h)
      std::vector<Label> labels(s.labels().begin(), s.labels().end());
      accumulate(it->second.series[std::move(labels)], s);
    });
  }
  Family build{MetricType::kGauge, {}};
  build.series[{Label{"component", "proxy"}, Label{"tag", build_tag}}].gauge = 1;
  if (keep("istio_build")) families.insert_or_assign("istio_build", std::move(build));

  std::string out;
  for (const auto& [name, family] : families) renderFamily(out, name, family);
  return out;
}

namespace {

// %XX sequences decoded; '+' stays a '+' (a regular expression's quantifier), as Envoy reads it.
std::string percentDecoded(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && common::hexValue(text[i + 1]) >= 0 &&
        common::hexValue(text[i + 2]) >= 0) {
      out.push_back(
          static_cast<char>(common::hexValue(text[i + 1]) * 16 + common::hexValue(text[i + 2])));
      i += 2;
    } else {
      out.push_back(text[i]);
    }
  }
  return out;
}

}  // namespace

common::Expected<std::unique_ptr<const re2::RE2>> prometheusFilter(std::string_view query) {
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view param = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (!param.starts_with("filter=")) continue;
    const std::string expression = percentDecoded(param.substr(7));
    if (expression.empty()) break;
    re2::RE2::Options options;
    options.set_log_errors(false);
    auto regex = std::make_unique<const re2::RE2>(expression, options);
    if (!regex->ok()) {
      return common::fail(common::ErrorKind::kInvalidArgument,
                          "filter \"" + expression + "\" is not a valid regular expression (" +
                              regex->error() + "); expected one such as ^istio_requests_total$");
    }
    return std::unique_ptr<const re2::RE2>(std::move(regex));
  }
  return std::unique_ptr<const re2::RE2>();
}

}  // namespace halyard::telemetry
