#include "translate/service_registry.h"

#include <algorithm>

#include "config/model/host_name.h"
#include "translate/model_util.h"
#include "translate/peer_workloads.h"
#include "translate/translate.h"

namespace halyard::translate {

namespace model = config::model;

namespace {

constexpr std::string_view kExportToAnnotation = "networking.istio.io/exportTo";

uint16_t toPort(int64_t n) {
  return n > 0 && n <= 65535 ? static_cast<uint16_t>(n) : 0;
}

std::vector<std::string> splitList(std::string_view s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string_view::npos) end = s.size();
    std::string_view item = s.substr(start, end - start);
    while (!item.empty() && item.front() == ' ') item.remove_prefix(1);
    while (!item.empty() && item.back() == ' ') item.remove_suffix(1);
    if (!item.empty()) out.emplace_back(item);
    start = end + 1;
  }
  return out;
}

RegistryService fromKube(const model::Service& svc) {
  RegistryService s;
  s.namespace_ = namespaceOf(svc.meta);
  s.name = svc.meta.name;
  s.host = toLower(svc.meta.name + "." + s.namespace_ + ".svc." +
                   std::string(model::kDefaultClusterDomain));
  s.kube = &svc;
  s.resolve_dns = svc.type == "ExternalName";
  s.mesh_external = svc.type == "ExternalName";  // Istio's conversion marks these external
  if (auto it = svc.meta.annotations.find(std::string(kExportToAnnotation));
      it != svc.meta.annotations.end()) {
    s.export_to = splitList(it->second);
  }
  for (const auto& p : svc.ports) {
    RegistryPort rp;
    rp.number = toPort(p.port);
    rp.name = p.name;
    rp.protocol = p.app_protocol.empty() ? p.protocol : p.app_protocol;
    if (p.target_port_number) {
      rp.target_port = toPort(*p.target_port_number);
    } else if (!p.target_port.empty()) {
      rp.target_port_name = p.target_port;
    }
    if (rp.number != 0) s.ports.push_back(std::move(rp));
  }
  return s;
}

// The endpoint port of a WorkloadEntry-style endpoint for a service port: its `ports` entry for
// the port name, else the service's targetPort, else the port number (§4, §5).
uint16_t workloadPort(const std::map<std::string, int64_t>& ports, const RegistryPort& port) {
  if (auto it = ports.find(port.name); it != ports.end() && toPort(it->second) != 0) {
    return toPort(it->second);
  }
  return port.target_port != 0 ? port.target_port : port.number;
}

// A port number annotation of a WorkloadEntry (kInboundPortAnnotation, kAppPortAnnotation), 0
// when absent or not a port number.
uint16_t portAnnotation(const model::ObjectMeta& meta, const char* key) {
  auto it = meta.annotations.find(key);
  if (it == meta.annotations.end() || it->second.empty() || it->second.size() > 5) return 0;
  int64_t n = 0;
  for (char c : it->second) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + (c - '0');
  }
  return toPort(n);
}

// The port a WorkloadEntry's own workload listens on for a service port, which PeerAuthentication's
// portLevelMtls speaks of: the app port its sidecar forwards to (kAppPortAnnotation), else the
// port the entry maps the service port to.
uint16_t workloadAppPort(const model::WorkloadEntry& we, const RegistryPort& port) {
  const uint16_t app = portAnnotation(we.meta, kAppPortAnnotation);
  return app != 0 ? app : workloadPort(we.spec.ports, port);
}

bool runsSidecar(const std::map<std::string, std::string>& labels) {
  auto it = labels.find(kTlsModeLabel);
  return it != labels.end() && it->second == kIstioTlsMode;
}

}  // namespace

const RegistryPort* RegistryService::port(uint16_t number) const {
  for (const auto& p : ports) {
    if (p.number == number) return &p;
  }
  return nullptr;
}

template <typename T>
void ServiceRegistry::indexLabels(const T& workload,
                                  const std::map<std::string, std::string>& labels,
                                  LabelIndex<T>& index) {
  const std::string prefix = namespaceOf(workload.meta) + "\n";
  index[prefix].push_back(&workload);
  for (const auto& [key, value] : labels) index[prefix + key + "=" + value].push_back(&workload);
}

template <typename T>
const std::vector<const T*>& ServiceRegistry::selected(
    const LabelIndex<T>& index, const std::map<std::string, std::string>& selector,
    const std::string& namespace_) {
  static const std::vector<const T*> kNone;
  std::string key = namespace_ + "\n";
  if (!selector.empty()) key += selector.begin()->first + "=" + selector.begin()->second;
  auto it = index.find(key);
  return it == index.end() ? kNone : it->second;
}

ServiceRegistry::ServiceRegistry(const model::ConfigSet& config)
    : ServiceRegistry(config, meshSettings(config)) {}

ServiceRegistry::ServiceRegistry(const model::ConfigSet& config, const MeshSettings& mesh)
    : peer_auth_(config, mesh.root_namespace),
      config_(config),
      peer_workloads_(buildPeerWorkloads(config)),
      mesh_(mesh) {
  for (const auto& e : config.endpoints) endpoints_[namespaceOf(e.meta) + "/" + e.meta.name] = &e;
  for (const auto& pod : config.pods) {
    pods_by_name_.emplace(namespaceOf(pod.meta) + "/" + pod.meta.name, &pod);
    if (!pod.pod_ip.empty()) pods_by_ip_.emplace(namespaceOf(pod.meta) + "/" + pod.pod_ip, &pod);
    indexLabels(pod, pod.meta.labels, pods_by_label_);
  }
  for (const auto& we : config.workload_entries)
    indexLabels(we, we.spec.labels, workloads_by_label_);
  for (const auto& svc : config.services) {
    RegistryService s = fromKube(svc);
    std::string host = s.host;
    by_host_.emplace(std::move(host), std::move(s));
  }
  std::vector<const model::ServiceEntry*> entries;
  for (const auto& se : config.service_entries) entries.push_back(&se);
  std::stable_sort(entries.begin(), entries.end(),
                   [](const auto* a, const auto* b) { return createdBefore(a->meta, b->meta); });
  for (const auto* se : entries) {
    const std::string& ns = namespaceOf(se->meta);
    const std::string resolution = se->spec.resolution.value_or("NONE");
    for (const auto& h : se->spec.hosts) {
      RegistryService s;
      s.host = toLower(model::resolveShortName(h, ns));
      s.name = s.host;
      s.namespace_ = ns;
      s.entry = se;
      s.export_to = se->spec.export_to;
      s.resolve_dns = resolution == "DNS" || resolution == "DNS_ROUND_ROBIN";
      s.mesh_external = se->spec.location.value_or("MESH_EXTERNAL") != "MESH_INTERNAL";
      for (const auto& p : se->spec.ports) {
        RegistryPort rp;
        rp.number = toPort(p.number.value_or(0));
        rp.name = p.name.value_or("");
        rp.protocol = p.protocol.value_or("");
        rp.target_port = toPort(p.target_port.value_or(0));
        if (rp.number != 0) s.ports.push_back(std::move(rp));
      }
      std::string host = s.host;
      by_host_.emplace(std::move(host), std::move(s));
    }
  }
}

const RegistryService* ServiceRegistry::find(std::string_view host,
                                             std::string_view route_namespace,
                                             std::string_view proxy_namespace) const {
  const RegistryService* kube = nullptr;
  const RegistryService* same_namespace = nullptr;
  const RegistryService* first = nullptr;
  auto [begin, end] = by_host_.equal_range(host);
  for (auto it = begin; it != end; ++it) {
    const RegistryService& s = it->second;
    if (!model::isVisible(s.export_to, s.namespace_, proxy_namespace)) continue;
    if (s.kube && !kube) kube = &s;
    if (s.entry && s.namespace_ == route_namespace && !same_namespace) same_namespace = &s;
    if (s.entry && !first) first = &s;
  }
  if (kube) return kube;
  return same_namespace ? same_namespace : first;
}

std::vector<const RegistryService*> ServiceRegistry::visibleIn(
    std::string_view proxy_namespace) const {
  std::vector<const RegistryService*> out;
  for (auto it = by_host_.begin(); it != by_host_.end(); it = by_host_.upper_bound(it->first)) {
    if (const RegistryService* s = find(it->first, proxy_namespace, proxy_namespace)) {
      out.push_back(s);
    }
  }
  return out;
}

const RegistryService* ServiceRegistry::selecting(const std::map<std::string, std::string>& labels,
                                                  std::string_view namespace_) const {
  for (const auto& [host, s] : by_host_) {
    if (s.namespace_ != namespace_) continue;
    const std::map<std::string, std::string>* selector = nullptr;
    if (s.kube) selector = &s.kube->selector;
    if (s.entry && s.entry->spec.workload_selector)
      selector = &s.entry->spec.workload_selector->labels;
    // An empty selector selects nothing here: a Service without one has no pods of its own.
    if (selector && !selector->empty() && model::selectorMatches(*selector, labels)) return &s;
  }
  return nullptr;
}

std::vector<Endpoint> ServiceRegistry::endpoints(const RegistryService& service,
                                                 const RegistryPort& port,
                                                 DiagnosticSink& sink) const {
  return service.kube ? kubeEndpoints(service, port) : entryEndpoints(service, port, sink);
}

std::vector<Endpoint> ServiceRegistry::kubeEndpoints(const RegistryService& service,
                                                     const RegistryPort& port) const {
  const model::Service& svc = *service.kube;
  std::vector<Endpoint> out;
  if (svc.type == "ExternalName") {
    // An alias: the proxy resolves the external name and dials the service port.
    Endpoint e;
    e.address = svc.external_name;
    e.port = port.number;
    e.namespace_ = service.namespace_;
    out.push_back(std::move(e));
    return out;
  }
  auto found = endpoints_.find(service.namespace_ + "/" + svc.meta.name);
  const model::Endpoints* eps = found == endpoints_.end() ? nullptr : found->second;
  // The pod behind an address: its targetRef, else the pod with that IP.
  auto podOf = [&](const model::Endpoints::Address& a) -> const model::Pod* {
    const auto& index = a.target_ref_name.empty() ? pods_by_ip_ : pods_by_name_;
    auto it = index.find(service.namespace_ + "/" +
                         (a.target_ref_name.empty() ? a.ip : a.target_ref_name));
    return it == index.end() ? nullptr : it->second;
  };
  if (eps) {
    for (const auto& subset : eps->subsets) {
      // The Endpoints controller names each endpoint port after the service port it serves.
      uint16_t target = 0;
      for (const auto& p : subset.ports) {
        if (p.name == port.name || (port.name.empty() && subset.ports.size() == 1)) {
          target = toPort(p.port);
        }
      }
      if (target == 0) continue;
      for (const auto& a : subset.addresses) {
        if (a.ip.empty()) continue;
        Endpoint e;
        e.address = a.ip;
        e.port = target;
        e.namespace_ = service.namespace_;
        if (const model::Pod* pod = podOf(a)) {
          e.labels = pod->meta.labels;
          e.workload = pod->meta.name;
          // Kubernetes gives every pod a service account; "default" when none is named.
          e.service_account = pod->service_account.empty() ? "default" : pod->service_account;
        } else {
          e.workload = a.target_ref_name;
        }
        markMesh(e, target);
        out.push_back(std::move(e));
      }
    }
  }
  if (!svc.selector.empty()) {
    // Without an Endpoints object the selected pods are the endpoints (what the Endpoints
    // controller would write); WorkloadEntries are selected by Service selectors too (§5).
    selectWorkloads(svc.selector, service.namespace_, port, eps == nullptr, out);
  }
  return out;
}

void ServiceRegistry::selectWorkloads(const std::map<std::string, std::string>& selector,
                                      const std::string& namespace_, const RegistryPort& port,
                                      bool include_pods, std::vector<Endpoint>& out) const {
  if (include_pods) {
    for (const model::Pod* p : selected(pods_by_label_, selector, namespace_)) {
      const model::Pod& pod = *p;
      if (pod.pod_ip.empty() || !model::selectorMatches(selector, pod.meta.labels)) continue;
      uint16_t target = port.target_port != 0 ? port.target_port : port.number;
      if (!port.target_port_name.empty()) {
        target = 0;
        for (const auto& c : pod.containers) {
          for (const auto& cp : c.ports) {
            if (cp.name == port.target_port_name) target = toPort(cp.container_port);
          }
        }
      }
      if (target == 0) continue;
      Endpoint e;
      e.address = pod.pod_ip;
      e.port = target;
      e.labels = pod.meta.labels;
      e.workload = pod.meta.name;
      e.namespace_ = namespace_;
      e.service_account = pod.service_account.empty() ? "default" : pod.service_account;
      markMesh(e, target);
      out.push_back(std::move(e));
    }
  }
  for (const model::WorkloadEntry* w : selected(workloads_by_label_, selector, namespace_)) {
    const model::WorkloadEntry& we = *w;
    if (!model::selectorMatches(selector, we.spec.labels)) continue;
    const std::string address = we.spec.address.value_or("");
    if (address.empty() || address.starts_with("unix://")) continue;
    Endpoint e;
    e.address = address;
    // A workload with a sidecar receives every service port on the sidecar's inbound port.
    const uint16_t inbound = portAnnotation(we.meta, kInboundPortAnnotation);
    e.port = inbound != 0 ? inbound : workloadPort(we.spec.ports, port);
    e.weight = static_cast<uint32_t>(std::max<int64_t>(we.spec.weight.value_or(1), 1));
    e.labels = we.spec.labels;
    e.workload = we.meta.name;
    e.namespace_ = namespace_;
    e.service_account = we.spec.service_account.value_or("");
    e.locality = we.spec.locality.value_or("");
    markMesh(e, workloadAppPort(we, port));
    out.push_back(std::move(e));
  }
}

std::vector<Endpoint> ServiceRegistry::entryEndpoints(const RegistryService& service,
                                                      const RegistryPort& port,
                                                      DiagnosticSink& sink) const {
  const model::ServiceEntry& se = *service.entry;
  const std::string resolution = se.spec.resolution.value_or("NONE");
  std::vector<Endpoint> out;
  if (resolution == "NONE" || resolution == "DYNAMIC_DNS") {
    sink.report(kNotServed, se.meta, se.spec.line, "spec.resolution",
                "resolution " + resolution + " is not served yet (it forwards to the address the " +
                    "client dialled, which this proxy does not track); requests to " +
                    service.host + " get 503");
    return out;
  }
  if (se.spec.workload_selector) {
    selectWorkloads(se.spec.workload_selector->labels, service.namespace_, port, true, out);
  } else if (!se.spec.endpoints.empty()) {
    for (size_t i = 0; i < se.spec.endpoints.size(); ++i) {
      const auto& ep = se.spec.endpoints[i];
      const std::string address = ep.address.value_or("");
      if (address.starts_with("unix://")) {
        sink.report(kNotServed, se.meta, ep.line, "spec.endpoints[" + std::to_string(i) + "]",
                    "unix domain socket endpoint " + address + " is not served yet");
        continue;
      }
      if (address.empty()) continue;  // a network-gateway endpoint (only `network` set)
      Endpoint e;
      e.address = address;
      e.port = workloadPort(ep.ports, port);
      e.weight = static_cast<uint32_t>(std::max<int64_t>(ep.weight.value_or(1), 1));
      e.labels = ep.labels;
      e.namespace_ = service.namespace_;
      e.service_account = ep.service_account.value_or("");
      e.locality = ep.locality.value_or("");
      // An inline endpoint is a WorkloadEntry too: labelled as running a sidecar, it is one.
      markMesh(e, e.port);
      out.push_back(std::move(e));
    }
  } else if (service.resolve_dns && !service.host.starts_with("*")) {
    // DNS with no endpoints: the host itself is resolved.
    Endpoint e;
    e.address = service.host;
    e.port = port.target_port != 0 ? port.target_port : port.number;
    e.namespace_ = service.namespace_;
    out.push_back(std::move(e));
  }
  if (resolution == "DNS_ROUND_ROBIN" && out.size() > 1) out.resize(1);
  return out;
}

void ServiceRegistry::markMesh(Endpoint& e, uint16_t workload_port) const {
  if (!runsSidecar(e.labels)) return;
  const PeerAuthMode mode = peer_auth_.effective(e.namespace_, e.labels, workload_port).mode;
  e.mesh_mtls = mode != PeerAuthMode::kDisable;
  e.requires_mtls = mode == PeerAuthMode::kStrict;
}

std::vector<std::string> ServiceRegistry::subjectAltNames(const RegistryService& service) const {
  if (service.entry) return service.entry->spec.subject_alt_names;
  std::vector<std::string> out;
  auto [begin, end] = by_host_.equal_range(service.host);
  for (auto it = begin; it != end; ++it) {
    if (!it->second.entry) continue;
    const auto& names = it->second.entry->spec.subject_alt_names;
    out.insert(out.end(), names.begin(), names.end());
  }
  return out;
}

}  // namespace halyard::translate
