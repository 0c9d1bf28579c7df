// One metric series (a name, its labels and one value cell), as a WorkerStats creates it and a
// scraper reads it.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "telemetry/metrics.h"

namespace halyard::telemetry {

// Label names and values copied once, immutable afterwards. Istio's four request series of one
// label combination share one set.
class LabelSet {
 public:
  explicit LabelSet(std::span<const Label> labels);
  LabelSet(const LabelSet&) = delete;
  LabelSet& operator=(const LabelSet&) = delete;

  std::span<const Label> labels() const { return labels_; }

 private:
  std::string chars_;          // every name and value, back to back
  std::vector<Label> labels_;  // views into chars_
};

class Series {
 public:
  Series(MetricType type, std::string_view name, std::shared_ptr<const LabelSet> labels,
         const Series* next);
  Series(const Series&) = delete;
  Series& operator=(const Series&) = delete;

  MetricType type() const { return type_; }
  std::string_view name() const { return name_; }
  std::span<const Label> labels() const { return labels_->labels(); }
  // The cell of this series' type; the others are null.
  Counter* counter() { return std::get_if<Counter>(&cell_); }
  Gauge* gauge() { return std::get_if<Gauge>(&cell_); }
  Histogram* histogram() { return std::get_if<Histogram>(&cell_); }
  const Counter* counter() const { return std::get_if<Counter>(&cell_); }
  const Gauge* gauge() const { return std::get_if<Gauge>(&cell_); }
  const Histogram* histogram() const { return std::get_if<Histogram>(&cell_); }
  // The series created before this one by the same WorkerStats.
  const Series* next() const { return next_; }

 private:
  MetricType type_;
  std::string name_;
  std::shared_ptr<const LabelSet> labels_;
  std::variant<Counter, Gauge, Histogram> cell_;
  const Series* next_;
};

}  // namespace halyard::telemetry
