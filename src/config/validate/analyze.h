// The `halyard analyze` pipeline: load, validate every object (schema + Istio's webhook rules),
// then run the cross-resource analyzers, reporting everything in one run.
#pragma once

#include <string>
#include <vector>

#include "config/model/diagnostic.h"
#include "config/model/object.h"
#include "config/validate/analysis.h"

namespace halyard::config {

struct AnalyzeOptions {
  std::vector<std::string> analyzers;  // Istio analyzer names to run; empty = all
  MeshConfig mesh;
  // istioctl analyze adds a synthetic ingress gateway (Pod + Service labelled
  // istio=ingressgateway in istio-system) so Gateways selecting it are not reported as orphans.
  bool add_ingress_defaults = true;
  bool strip_test_error_key = false;  // for Istio's CRD test documents (`_err`)
};

struct AnalyzeResult {
  Diagnostics diagnostics;  // sorted by file, line
  std::vector<std::string> io_errors;
  size_t files = 0;
  size_t objects = 0;
  int skipped_templates = 0;
};

// Name of the analyzer that runs schema and per-object validation.
inline constexpr std::string_view kValidationAnalyzerName = "schema.ValidationAnalyzer";

AnalyzeResult analyzePaths(const std::vector<std::string>& paths, const AnalyzeOptions& options);

// Same, over objects already loaded (their load diagnostics are the caller's).
Diagnostics analyzeObjects(std::vector<Object> objects, const AnalyzeOptions& options);

// Schema + per-object validation of one object (what the validation analyzer does per object).
void validateOne(const Object& obj, Diagnostics& out);

}  // namespace halyard::config
