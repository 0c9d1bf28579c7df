#include "translate/mesh_settings.h"

#include "config/yaml/loader.h"
#include "translate/model_util.h"

namespace halyard::translate {

namespace {

// A DNS-1123 label: lowercase letters, digits and '-', 1 to 63 of them, not starting or ending
// with '-'.
bool isDnsLabel(std::string_view s) {
  if (s.empty() || s.size() > 63 || s.front() == '-' || s.back() == '-') return false;
  for (char c : s) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) return false;
  }
  return true;
}

// Istio's trust domain grammar (its MeshConfig validation): dot-separated DNS-1123 labels, a
// trailing dot allowed. Anything else would make SPIFFE IDs nobody can match.
bool isTrustDomain(std::string_view s) {
  if (s.empty()) return false;
  if (s.back() == '.') s.remove_suffix(1);
  size_t start = 0;
  while (true) {
    const size_t dot = s.find('.', start);
    if (!isDnsLabel(s.substr(start, dot == std::string_view::npos ? dot : dot - start))) {
      return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

// "an object", "a string": the YAML type of a node, for sentences.
std::string typeOf(const config::Node& node) {
  const std::string name = config::toString(node.type);
  return (std::string("aeiou").find(name.front()) == std::string::npos ? "a " : "an ") + name;
}

// A string field of the mesh config: absent or empty keeps `out` (Istio's default); present with
// another type is an error.
bool readString(const config::Node& mesh, std::string_view key, std::string& out,
                std::string& error) {
  const config::Node* node = mesh.get(key);
  if (!node || node->isNull()) return true;
  if (!node->isString()) {
    error = std::string(key) + " is " + typeOf(*node) + ", a string was expected";
    return false;
  }
  if (!node->text.empty()) out = node->text;
  return true;
}

// The settings of a `mesh` value, or the sentence saying why it cannot be used.
common::Result<MeshSettings, std::string> parseMesh(const std::string& text,
                                                    const std::string& where) {
  auto root = config::parseYaml(text, where);
  if (!root.ok()) return common::unexpected("it does not parse as YAML: " + root.error());
  MeshSettings settings;
  if (root->isNull()) return settings;  // an empty mesh value: every default
  if (!root->isMap()) {
    return common::unexpected("it is " + typeOf(*root) +
                              ", a map of MeshConfig fields was expected");
  }
  std::string error;
  if (!readString(*root, "trustDomain", settings.trust_domain, error) ||
      !readString(*root, "rootNamespace", settings.root_namespace, error)) {
    return common::unexpected(std::move(error));
  }
  if (const config::Node* policy = root->get("outboundTrafficPolicy");
      policy && !policy->isNull()) {
    if (!policy->isMap()) {
      return common::unexpected("outboundTrafficPolicy is " + typeOf(*policy) +
                                ", a map with a mode was expected");
    }
    std::string mode = "ALLOW_ANY";
    if (!readString(*policy, "mode", mode, error)) {
      return common::unexpected("outboundTrafficPolicy." + std::move(error));
    }
    if (mode != "ALLOW_ANY" && mode != "REGISTRY_ONLY") {
      return common::unexpected("outboundTrafficPolicy.mode \"" + mode +
                                "\" is not ALLOW_ANY or REGISTRY_ONLY");
    }
    settings.registry_only = mode == "REGISTRY_ONLY";
  }
  if (!isTrustDomain(settings.trust_domain)) {
    return common::unexpected("trustDomain \"" + settings.trust_domain +
                              "\" is not a DNS name (dot-separated lowercase labels of letters, "
                              "digits and '-')");
  }
  if (!isDnsLabel(settings.root_namespace)) {
    return common::unexpected("rootNamespace \"" + settings.root_namespace +
                              "\" is not a namespace name (a DNS-1123 label)");
  }
  return settings;
}

}  // namespace

MeshSettingsSource readMeshSettings(const config::model::ConfigSet& config) {
  MeshSettingsSource out;
  for (const auto& m : config.config_maps) {
    if (m.meta.name == kMeshConfigName && namespaceOf(m.meta) == kMeshConfigNamespace) {
      out.config_map = &m;
      break;
    }
  }
  if (!out.config_map) return out;
  const auto mesh = out.config_map->data.find("mesh");
  if (mesh == out.config_map->data.end()) return out;
  auto parsed = parseMesh(mesh->second, "data.mesh");
  if (parsed.ok()) {
    out.settings = std::move(*parsed);
  } else {
    out.error = "the mesh config (data.mesh) is not used: " + parsed.error() +
                "; Istio's defaults apply (trust domain cluster.local, root namespace "
                "istio-system, outboundTrafficPolicy ALLOW_ANY)";
  }
  return out;
}

MeshSettings meshSettings(const config::model::ConfigSet& config) {
  return readMeshSettings(config).settings;
}

}  // namespace halyard::translate
