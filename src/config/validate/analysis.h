// Cross-resource analysis in the manner of `istioctl analyze`: analyzers read the whole typed
// configuration and report Istio's messages (messages.h) against resources, with file:line.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "config/model/config_set.h"
#include "config/model/diagnostic.h"
#include "config/model/object.h"
#include "config/validate/messages.h"

namespace halyard::config {

// The parts of Istio's MeshConfig the analyzers consult (istioctl's --meshConfigFile).
struct MeshConfig {
  std::string root_namespace = "istio-system";
  std::map<std::string, std::string> proxy_metadata;  // defaultConfig.proxyMetadata
};

// Reads a MeshConfig YAML file (the `mesh` value of the istio ConfigMap, or that ConfigMap).
common::Result<MeshConfig, std::string> loadMeshConfig(const std::string& path);

class AnalysisContext {
 public:
  AnalysisContext(const std::vector<Object>& objects, const model::ConfigSet& config,
                  MeshConfig mesh);

  const model::ConfigSet& config() const { return config_; }
  const MeshConfig& mesh() const { return mesh_; }
  const std::vector<Object>& objects() const { return objects_; }

  // The namespace a resource lives in: as written, or "default" when the YAML gives none
  // (as istioctl analyze does for local files).
  static const std::string& namespaceOf(const model::ObjectMeta& meta);

  // The loaded object behind a typed resource (same kind, namespace and name), or null.
  const Object* sourceOf(const model::ObjectMeta& meta) const;

  // Appends a message about `meta`. `field_path` ("spec.http[0].route[1].destination.host") picks
  // the line; empty means the object's own line.
  void report(Diagnostics& out, const msg::MessageType& type, const model::ObjectMeta& meta,
              std::string_view field_path, std::string message) const;

 private:
  const std::vector<Object>& objects_;
  const model::ConfigSet& config_;
  MeshConfig mesh_;
  std::map<std::string, const Object*> by_key_;  // "Kind/namespace/name"
};

class Analyzer {
 public:
  virtual ~Analyzer() = default;
  // Istio's analyzer name, e.g. "virtualservice.GatewayAnalyzer".
  virtual std::string_view name() const = 0;
  virtual void analyze(const AnalysisContext& ctx, Diagnostics& out) const = 0;
};

using AnalyzerList = std::vector<std::unique_ptr<Analyzer>>;

// Every analyzer Halyard implements, in a fixed order.
const AnalyzerList& allAnalyzers();

// Filled by the analyzer groups (analyzers/*.cc).
void registerNetworkingAnalyzers(AnalyzerList& list);  // VirtualService, Gateway
void registerPolicyAnalyzers(AnalyzerList& list);      // DestinationRule, ServiceEntry, Sidecar,
                                                       // security, deprecation, conditions

}  // namespace halyard::config
