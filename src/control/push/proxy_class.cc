#include "control/push/proxy_class.h"

#include <algorithm>
#include <limits>

#include "control/registry/workload_registry.h"

namespace halyard::control {

namespace {

constexpr const char* kRoles[] = {"gateway", "sidecar"};

// A sidecar's listener ports (defaults for those it leaves 0) and its app's port. Its listeners
// and its app share the address, so no two of them may have the same port.
common::Expected<void> sidecarPorts(const v1::ProxyHello& hello, ProxyInfo& info) {
  using common::ErrorKind;
  const translate::ProxyIdentity defaults;
  auto listenerPort = [&](const char* field, uint32_t value,
                          uint16_t fallback) -> common::Expected<uint16_t> {
    if (value > std::numeric_limits<uint16_t>::max()) {
      return common::fail(ErrorKind::kInvalidArgument,
                          std::string(field) + " " + std::to_string(value) + " is out of range");
    }
    return value == 0 ? fallback : static_cast<uint16_t>(value);
  };
  auto inbound = listenerPort("inbound_port", hello.inbound_port(), defaults.inbound_port);
  if (!inbound) return common::unexpected(inbound.error());
  auto outbound = listenerPort("outbound_port", hello.outbound_port(), defaults.outbound_port);
  if (!outbound) return common::unexpected(outbound.error());
  if (*inbound == *outbound) {
    return common::fail(ErrorKind::kInvalidArgument,
                        "inbound_port and outbound_port are both " + std::to_string(*inbound));
  }
  for (const auto& p : hello.ports()) {
    const char* clash = p.number() == *inbound    ? "inbound_port"
                        : p.number() == *outbound ? "outbound_port"
                                                  : nullptr;
    if (clash) {
      return common::fail(ErrorKind::kInvalidArgument, "port " + p.name() + " " +
                                                           std::to_string(p.number()) +
                                                           " is also the sidecar's " + clash);
    }
  }
  info.inbound_port = *inbound;
  info.outbound_port = *outbound;
  if (!hello.ports().empty()) info.app_port = static_cast<uint16_t>(hello.ports(0).number());
  return common::Ok{};
}

// Each field length-prefixed, so no name or label value can make two identities one key.
void addField(std::string& key, const std::string& field) {
  key += std::to_string(field.size());
  key += ':';
  key += field;
}

void addLabels(std::string& key, const translate::ProxyIdentity& id) {
  addField(key, id.namespace_);
  addField(key, std::to_string(id.labels.size()));
  for (const auto& [k, v] : id.labels) {
    addField(key, k);
    addField(key, v);
  }
}

}  // namespace

common::Expected<ProxyInfo> proxyInfoFromHello(const v1::ProxyHello& hello, uint64_t stream_id,
                                               std::string peer) {
  using common::ErrorKind;
  ProxyInfo info;
  info.stream_id = stream_id;
  info.name = hello.name();
  info.namespace_ = hello.namespace_().empty() ? "default" : hello.namespace_();
  info.role = hello.role();
  info.labels.insert(hello.labels().begin(), hello.labels().end());
  // As Kubernetes does for a pod that names none; the credential and the certificate say so too.
  info.service_account = hello.service_account().empty() ? "default" : hello.service_account();
  info.address = hello.address();
  info.peer = std::move(peer);
  info.build_version = hello.build_version();
  info.admin_address = hello.admin_address();
  info.last_version = hello.last_version();
  if (info.name.empty()) return common::fail(ErrorKind::kInvalidArgument, "hello has no name");
  if (std::find(std::begin(kRoles), std::end(kRoles), info.role) == std::end(kRoles)) {
    return common::fail(ErrorKind::kInvalidArgument,
                        "unknown role \"" + info.role + "\" (gateway or sidecar)");
  }
  for (const auto& p : hello.ports()) {
    if (p.number() > std::numeric_limits<uint16_t>::max()) {
      return common::fail(
          ErrorKind::kInvalidArgument,
          "port " + p.name() + " " + std::to_string(p.number()) + " is out of range");
    }
    info.ports[p.name()] = static_cast<uint16_t>(p.number());
  }
  if (info.role == "sidecar") {
    if (auto ok = sidecarPorts(hello, info); !ok) return common::unexpected(ok.error());
  }
  if (!info.address.empty()) {
    Workload w{info.name,  info.namespace_, info.service_account, info.address, info.labels,
               info.ports, info.peer,       info.inbound_port};
    if (auto ok = WorkloadRegistry::check(w); !ok) return common::unexpected(ok.error());
  }
  return info;
}

translate::ProxyIdentity proxyIdentity(const ProxyInfo& info) {
  translate::ProxyIdentity id;
  id.role = info.role;
  id.labels = info.labels;
  id.namespace_ = info.namespace_;
  id.name = info.name;
  if (info.role != "sidecar") return id;
  id.service_account = info.service_account;
  if (!info.address.empty()) id.address = info.address;  // else the default, 127.0.0.1
  id.app_port = info.app_port;
  id.inbound_port = info.inbound_port;
  id.outbound_port = info.outbound_port;
  return id;
}

std::string proxyClassKey(const ProxyInfo& info) {
  const translate::ProxyIdentity id = proxyIdentity(info);
  std::string key;
  addField(key, id.role);
  addLabels(key, id);
  // A gateway's name is not part of its snapshot: its replicas share one class.
  if (id.role != "sidecar") return key;
  addField(key, id.name);
  addField(key, id.service_account);
  addField(key, id.address);
  addField(key, std::to_string(id.app_port));
  addField(key, std::to_string(id.inbound_port));
  addField(key, std::to_string(id.outbound_port));
  return key;
}

translate::ProxyIdentity sidecarOutboundIdentity(const translate::ProxyIdentity& sidecar,
                                                 const std::set<std::string>& label_keys) {
  translate::ProxyIdentity out;
  out.role = "sidecar";
  out.namespace_ = sidecar.namespace_;
  out.labels.clear();
  for (const auto& [k, v] : sidecar.labels) {
    if (label_keys.count(k)) out.labels.emplace(k, v);
  }
  return out;
}

std::string sidecarOutboundKey(const translate::ProxyIdentity& outbound) {
  std::string key;
  addLabels(key, outbound);
  return key;
}

}  // namespace halyard::control
