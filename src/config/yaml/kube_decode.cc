#include "config/yaml/kube_decode.h"

#include <string_view>

namespace halyard::config {
namespace {

const Node kNull;

// The child `key` of a map node, or a null node, so lookups chain without checks.
const Node& at(const Node& n, std::string_view key) {
  const Node* child = n.get(key);
  return child ? *child : kNull;
}

std::string text(const Node& n, std::string_view key) {
  return std::string(at(n, key).str());
}

int64_t integer(const Node& n, std::string_view key) {
  return at(n, key).asInt().value_or(0);
}

std::map<std::string, std::string> stringMap(const Node& n) {
  std::map<std::string, std::string> out;
  if (!n.isMap()) return out;
  for (const MapEntry& e : n.fields) {
    if (e.value.isString()) out.emplace(e.key, e.value.text);
  }
  return out;
}

// Every element is decoded (a non-map one as a default) so indices match the YAML list.
template <class T, class Fn>
std::vector<T> list(const Node& n, Fn decode) {
  std::vector<T> out;
  if (!n.isList()) return out;
  out.reserve(n.items.size());
  for (const Node& item : n.items) {
    T v;
    v.line = item.line;
    if (item.isMap()) decode(item, v);
    out.push_back(std::move(v));
  }
  return out;
}

void decodeServicePort(const Node& n, model::Service::Port& p) {
  p.name = text(n, "name");
  p.port = integer(n, "port");
  const Node& target = at(n, "targetPort");
  if (target.type == NodeType::kInt) {
    p.target_port = target.text;
    p.target_port_number = target.asInt();
  } else if (target.isString()) {
    p.target_port = target.text;
  }
  p.protocol = text(n, "protocol");
  p.app_protocol = text(n, "appProtocol");
  p.node_port = integer(n, "nodePort");
}

void decodeAddress(const Node& n, model::Endpoints::Address& a) {
  a.ip = text(n, "ip");
  a.hostname = text(n, "hostname");
  a.node_name = text(n, "nodeName");
  a.target_ref_name = text(at(n, "targetRef"), "name");
}

void decodeEndpointPort(const Node& n, model::Endpoints::Port& p) {
  p.name = text(n, "name");
  p.port = integer(n, "port");
  p.protocol = text(n, "protocol");
}

void decodeSubset(const Node& n, model::Endpoints::Subset& s) {
  s.addresses = list<model::Endpoints::Address>(at(n, "addresses"), decodeAddress);
  s.not_ready_addresses =
      list<model::Endpoints::Address>(at(n, "notReadyAddresses"), decodeAddress);
  s.ports = list<model::Endpoints::Port>(at(n, "ports"), decodeEndpointPort);
}

void decodeContainerPort(const Node& n, model::Pod::ContainerPort& p) {
  p.name = text(n, "name");
  p.container_port = integer(n, "containerPort");
  p.protocol = text(n, "protocol");
}

void decodeContainer(const Node& n, model::Pod::Container& c) {
  c.name = text(n, "name");
  c.image = text(n, "image");
  c.ports = list<model::Pod::ContainerPort>(at(n, "ports"), decodeContainerPort);
}

}  // namespace

model::ObjectMeta decodeObjectMeta(const Object& obj) {
  model::ObjectMeta meta;
  meta.api_version = obj.api_version;
  meta.kind = obj.kind;
  meta.name = obj.name;
  meta.namespace_ = obj.namespace_;
  meta.labels = obj.labels;
  meta.annotations = obj.annotations;
  meta.creation_timestamp = obj.creation_timestamp;
  meta.pos = obj.pos;
  return meta;
}

model::Service decodeService(const Object& obj) {
  model::Service out;
  out.meta = decodeObjectMeta(obj);
  const Node& spec = at(obj.root, "spec");
  out.line = spec.line;
  out.type = text(spec, "type");
  out.cluster_ip = text(spec, "clusterIP");
  out.selector = stringMap(at(spec, "selector"));
  out.ports = list<model::Service::Port>(at(spec, "ports"), decodeServicePort);
  out.external_name = text(spec, "externalName");
  return out;
}

model::Endpoints decodeEndpoints(const Object& obj) {
  model::Endpoints out;
  out.meta = decodeObjectMeta(obj);
  out.subsets = list<model::Endpoints::Subset>(at(obj.root, "subsets"), decodeSubset);
  return out;
}

model::Namespace decodeNamespace(const Object& obj) {
  return model::Namespace{decodeObjectMeta(obj)};
}

model::Pod decodePod(const Object& obj) {
  model::Pod out;
  out.meta = decodeObjectMeta(obj);
  const Node& spec = at(obj.root, "spec");
  out.service_account = text(spec, "serviceAccountName");
  if (out.service_account.empty()) out.service_account = text(spec, "serviceAccount");
  out.containers = list<model::Pod::Container>(at(spec, "containers"), decodeContainer);
  const Node& status = at(obj.root, "status");
  out.pod_ip = text(status, "podIP");
  out.phase = text(status, "phase");
  return out;
}

model::Secret decodeSecret(const Object& obj) {
  model::Secret out;
  out.meta = decodeObjectMeta(obj);
  out.type = text(obj.root, "type");
  out.data = stringMap(at(obj.root, "data"));
  out.string_data = stringMap(at(obj.root, "stringData"));
  return out;
}

model::ConfigMap decodeConfigMap(const Object& obj) {
  model::ConfigMap out;
  out.meta = decodeObjectMeta(obj);
  out.data = stringMap(at(obj.root, "data"));
  return out;
}

}  // namespace halyard::config
