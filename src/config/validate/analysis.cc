#include "config/validate/analysis.h"

#include <fstream>
#include <sstream>

#include "config/yaml/loader.h"

namespace halyard::config {

namespace {

std::string key(std::string_view kind, std::string_view ns, std::string_view name) {
  std::string k;
  k.reserve(kind.size() + ns.size() + name.size() + 2);
  k.append(kind).append("/").append(ns).append("/").append(name);
  return k;
}

}  // namespace

AnalysisContext::AnalysisContext(const std::vector<Object>& objects, const model::ConfigSet& config,
                                 MeshConfig mesh)
    : objects_(objects), config_(config), mesh_(std::move(mesh)) {
  for (const auto& o : objects_) by_key_.emplace(key(o.kind, o.namespace_, o.name), &o);
}

const std::string& AnalysisContext::namespaceOf(const model::ObjectMeta& meta) {
  static const std::string kDefault = "default";
  return meta.namespace_.empty() ? kDefault : meta.namespace_;
}

const Object* AnalysisContext::sourceOf(const model::ObjectMeta& meta) const {
  auto it = by_key_.find(key(meta.kind, meta.namespace_, meta.name));
  return it == by_key_.end() ? nullptr : it->second;
}

void AnalysisContext::report(Diagnostics& out, const msg::MessageType& type,
                             const model::ObjectMeta& meta, std::string_view field_path,
                             std::string message) const {
  Diagnostic d;
  d.code = std::string(type.code);
  d.type = std::string(type.name);
  d.level = type.level;
  d.resource = meta.ref();
  d.field_path = std::string(field_path);
  d.message = std::move(message);
  if (const Object* src = sourceOf(meta)) {
    d.pos = field_path.empty() ? src->pos : src->posOf(field_path);
  } else {
    d.pos = meta.pos;
  }
  out.push_back(std::move(d));
}

common::Result<MeshConfig, std::string> loadMeshConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return common::unexpected("cannot read mesh config " + path);
  std::ostringstream text;
  text << in.rdbuf();
  auto root = parseYaml(text.str(), path);
  if (!root.ok()) return common::unexpected(root.error());
  Node mesh_node = std::move(*root);
  // The istio ConfigMap carries the MeshConfig as YAML text in data.mesh.
  if (const Node* kind = mesh_node.get("kind"); kind && kind->str() == "ConfigMap") {
    const Node* data = mesh_node.get("data");
    const Node* embedded = data ? data->get("mesh") : nullptr;
    if (!embedded || !embedded->isString()) {
      return common::unexpected(path + ": ConfigMap has no data.mesh");
    }
    auto inner = parseYaml(embedded->text, path);
    if (!inner.ok()) return common::unexpected(inner.error());
    mesh_node = std::move(*inner);
  }
  MeshConfig mesh;
  if (const Node* rn = mesh_node.get("rootNamespace"); rn && rn->isString()) {
    mesh.root_namespace = rn->text;
  }
  if (const Node* dc = mesh_node.get("defaultConfig")) {
    if (const Node* pm = dc->get("proxyMetadata"); pm && pm->isMap()) {
      for (const auto& e : pm->fields) mesh.proxy_metadata[e.key] = e.value.text;
    }
  }
  return mesh;
}

}  // namespace halyard::config
