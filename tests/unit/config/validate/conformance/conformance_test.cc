#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <map>

#include "config/validate/analyze.h"
#include "config/validate/schema_validator.h"
#include "config/yaml/loader.h"
#include "expected_cases.h"
#include "shared_corpus.h"

namespace halyard::config {
namespace {

namespace fs = std::filesystem;
using conformance::AnalyzerCase;

// Every test here reads the external corpus, so the fixture skips them all without it.
class Conformance : public ::testing::Test {
 protected:
  void SetUp() override { HALYARD_REQUIRE_SHARED_CORPUS(); }

  const std::string shared_ = corpus::sharedDir();
  const std::string analyze_dir_ = shared_ + "/conformance/istio-analyze";
  const std::string analyzers_dir_ = analyze_dir_ + "/pkg/config/analysis/analyzers/";
};

// Why an analyzer of Istio's test grid is not part of Halyard: everything that is not about the
// networking and security resources Halyard serves.
std::string unsupportedReason(const std::string& analyzer) {
  static const std::vector<std::pair<std::string, std::string>> kReasons = {
      {"annotations.", "Kubernetes annotations on Pods/Services: no pods to inject here"},
      {"maturity.", "Kubernetes annotation maturity: not a routing or security concern"},
      {"externalcontrolplane.", "istiod webhook deployment topology: no Kubernetes webhooks"},
      {"injection.", "sidecar injection into Kubernetes pods: Halyard starts sidecars itself"},
      {"deployment.", "Kubernetes Deployment/Pod checks: no Kubernetes workloads here"},
      {"multicluster.", "multi-cluster registries: single cluster only"},
      {"webhook.", "Kubernetes admission webhooks: not used by Halyard"},
      {"envoyfilter.", "EnvoyFilter patches Envoy's own config: not applicable to halyard-proxy"},
      {"telemetry.", "Telemetry API: not modeled yet"},
      {"k8sgateway.CRDVersionAnalyzer", "Gateway API CRD versions: Gateway API not supported yet"},
  };
  for (const auto& [prefix, reason] : kReasons) {
    if (analyzer.starts_with(prefix)) return reason;
  }
  return {};
}

bool implemented(const std::string& analyzer) {
  if (analyzer == kValidationAnalyzerName) return true;
  for (const auto& a : allAnalyzers()) {
    if (a->name() == analyzer) return true;
  }
  return false;
}

std::vector<std::string> messageKeys(const Diagnostics& diags) {
  std::vector<std::string> keys;
  for (const auto& d : diags) keys.push_back(d.code + " " + d.type + " -> " + d.resource.str());
  std::sort(keys.begin(), keys.end());
  return keys;
}

TEST_F(Conformance, AnalyzerCasesOfExpectedMd) {
  auto cases = conformance::readAnalyzerCases(analyze_dir_ + "/EXPECTED.md");
  ASSERT_GE(cases.size(), 100u) << "could not read the case table of EXPECTED.md";
  int passed = 0, ran = 0;
  std::vector<std::string> unsupported, failures;
  for (const AnalyzerCase& c : cases) {
    const std::string label =
        "#" + std::to_string(c.number) + " " + c.name + " (" + c.analyzer + ")";
    if (c.extra.find("multi-cluster") != std::string::npos ||
        c.extra.find("mesh networks") != std::string::npos || !implemented(c.analyzer)) {
      std::string reason = unsupportedReason(c.analyzer);
      if (reason.empty()) reason = "analyzer not implemented yet";
      unsupported.push_back(label + ": " + reason);
      continue;
    }
    ++ran;
    std::vector<std::string> paths;
    for (const auto& in : c.inputs) paths.push_back(analyzers_dir_ + in);
    LoadResult loaded = loadPaths(paths);
    AnalyzeOptions options;
    options.analyzers = {c.analyzer};
    if (!c.mesh_config.empty()) {
      auto mesh = loadMeshConfig(analyzers_dir_ + c.mesh_config);
      ASSERT_TRUE(mesh.ok()) << mesh.error();
      options.mesh = *mesh;
    }
    Diagnostics got = analyzeObjects(std::move(loaded.objects), options);
    std::vector<std::string> want;
    for (const auto& m : c.expected) want.push_back(m.code + " " + m.type + " -> " + m.resource);
    std::sort(want.begin(), want.end());
    auto have = messageKeys(got);
    if (have == want) {
      ++passed;
      continue;
    }
    std::string detail = label + "\n  expected:";
    for (const auto& w : want) detail += "\n    " + w;
    detail += "\n  got:";
    for (const auto& d : got) {
      detail += "\n    " + d.code + " " + d.type + " -> " + d.resource.str() + "  [" + d.pos.str() +
                "] " + d.message;
    }
    failures.push_back(detail);
  }
  std::cout << passed << " of " << cases.size() << " analyzer cases pass (" << ran << " run, "
            << unsupported.size() << " not supported)\n";
  for (const auto& u : unsupported) std::cout << "  not supported: " << u << "\n";
  for (const auto& f : failures) ADD_FAILURE() << f;
}

// Documents of pkg/config/validation/testdata/crds: those with `_err` must be rejected, the
// others accepted.
TEST_F(Conformance, CrdValidationCases) {
  const fs::path dir = analyze_dir_ + "/pkg/config/validation/testdata/crds";
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  int total = 0, passed = 0;
  for (const auto& f : files) {
    // Load twice: once to see each document's `_err`, once stripped as Istio's test does.
    LoadResult raw = loadPaths({f.string()});
    LoadOptions strip;
    strip.strip_test_error_key = true;
    LoadResult docs = loadPaths({f.string()}, strip);
    ASSERT_EQ(raw.objects.size(), docs.objects.size());
    EXPECT_TRUE(docs.diagnostics.empty()) << f;
    for (size_t i = 0; i < docs.objects.size(); ++i) {
      const Node* err = raw.objects[i].root.get("_err");
      Diagnostics out;
      validateOne(docs.objects[i], out);
      bool rejected = std::any_of(out.begin(), out.end(),
                                  [](const Diagnostic& d) { return d.level == Level::kError; });
      ++total;
      const std::string where = f.filename().string() + " " + docs.objects[i].kind + " " +
                                docs.objects[i].name + " (" + docs.objects[i].pos.str() + ")";
      if (err && !rejected) {
        ADD_FAILURE() << where << ": accepted, but Istio rejects it: " << err->text;
      } else if (!err && rejected) {
        std::string msgs;
        for (const auto& d : out) msgs += "\n  " + d.message;
        ADD_FAILURE() << where << ": rejected, but Istio accepts it:" << msgs;
      } else {
        ++passed;
      }
    }
  }
  std::cout << passed << " of " << total << " CRD validation cases pass\n";
}

// Every real Istio configuration in shared/conformance/istio loads with no schema or validation
// error. Go templates are skipped and counted; documents that are not Istio objects (the Envoy and
// ztunnel outputs next to the inputs) are skipped by kind.
TEST_F(Conformance, IstioCorpusLoadsWithoutErrors) {
  LoadResult loaded = loadPaths({shared_ + "/conformance/istio"});
  EXPECT_TRUE(loaded.io_errors.empty());
  int invalid_yaml = 0;
  std::map<std::string, int> non_objects;
  for (const auto& d : loaded.diagnostics) {
    if (d.type == "NotAnObject") {
      ++non_objects[d.pos.fileName()];
    } else {
      ++invalid_yaml;
      ADD_FAILURE() << d.pos.str() << ": " << d.message;
    }
  }
  // Inputs of Istio's own negative tests: rejected by Istio too, so they must be rejected here
  // with the reason given.
  const std::map<std::string, std::string> kKnownInvalid = {
      {"tests/integration/pilot/testdata/some-dir/missing-gateway.yaml",
       "VirtualService without routes"},  // the file says it causes a schema validation error
  };
  int istio_objects = 0, other_objects = 0, known_invalid = 0;
  for (const auto& obj : loaded.objects) {
    if (!isCrdKind(obj.group, obj.kind)) {
      ++other_objects;
      continue;
    }
    ++istio_objects;
    Diagnostics out;
    validateOne(obj, out);
    const std::string rel =
        obj.pos.fileName().substr(shared_.size() + sizeof("/conformance/istio"));
    if (auto it = kKnownInvalid.find(rel); it != kKnownInvalid.end()) {
      ++known_invalid;
      EXPECT_TRUE(std::any_of(out.begin(), out.end(),
                              [&](const Diagnostic& d) {
                                return d.level == Level::kError &&
                                       d.message.find(it->second) != std::string::npos;
                              }))
          << rel << " should be rejected: " << it->second;
      continue;
    }
    for (const auto& d : out) {
      if (d.level == Level::kError) {
        ADD_FAILURE() << d.pos.str() << " " << d.resource.str() << ": " << d.message;
      }
    }
  }
  EXPECT_EQ(known_invalid, static_cast<int>(kKnownInvalid.size()));
  std::cout << loaded.files.size() << " files: " << istio_objects - known_invalid
            << " Istio objects valid, " << known_invalid << " known-invalid test inputs rejected, "
            << other_objects << " other Kubernetes objects, " << loaded.skipped_templates
            << " Go templates skipped, " << non_objects.size()
            << " files of non-object documents (Envoy/ztunnel outputs) skipped\n";
  EXPECT_EQ(invalid_yaml, 0);
  EXPECT_GT(istio_objects, 200);
}

}  // namespace
}  // namespace halyard::config
