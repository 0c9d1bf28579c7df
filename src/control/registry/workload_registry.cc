#include "control/registry/workload_registry.h"

#include <arpa/inet.h>

#include <memory>

#include "translate/translate.h"

namespace halyard::control {

namespace {

bool isIpAddress(const std::string& s) {
  unsigned char buf[16];
  return inet_pton(AF_INET, s.c_str(), buf) == 1 || inet_pton(AF_INET6, s.c_str(), buf) == 1;
}

bool sameWorkload(const Workload& a, const Workload& b) {
  return a.name == b.name && a.namespace_ == b.namespace_ &&
         a.service_account == b.service_account && a.address == b.address && a.labels == b.labels &&
         a.ports == b.ports && a.inbound_port == b.inbound_port && a.app_port == b.app_port;
}

}  // namespace

common::Expected<void> WorkloadRegistry::check(const Workload& w) {
  using common::ErrorKind;
  if (w.name.empty()) return common::fail(ErrorKind::kInvalidArgument, "workload has no name");
  if (!isIpAddress(w.address)) {
    return common::fail(ErrorKind::kInvalidArgument,
                        "workload address \"" + w.address + "\" is not an IP address");
  }
  for (const auto& [name, number] : w.ports) {
    if (name.empty() || number == 0) {
      return common::fail(ErrorKind::kInvalidArgument,
                          "workload port \"" + name + "\" needs a name and a number");
    }
  }
  return common::Ok{};
}

bool WorkloadRegistry::add(uint64_t id, Workload workload) {
  auto it = workloads_.find(id);
  if (it != workloads_.end() && sameWorkload(it->second, workload)) return false;
  workloads_[id] = std::move(workload);
  return true;
}

bool WorkloadRegistry::remove(uint64_t id) {
  return workloads_.erase(id) > 0;
}

void WorkloadRegistry::appendTo(config::model::ConfigSet& config) const {
  for (const auto& [id, w] : workloads_) {
    config::model::WorkloadEntry entry;
    entry.meta.api_version = "networking.istio.io/v1";
    entry.meta.kind = "WorkloadEntry";
    entry.meta.name = w.name;
    entry.meta.namespace_ = w.namespace_;
    entry.meta.labels = w.labels;
    std::string service_account = w.service_account;
    if (w.inbound_port != 0) {
      // Behind a sidecar: reached on its inbound port, which takes Istio mutual TLS.
      entry.meta.annotations[translate::kInboundPortAnnotation] = std::to_string(w.inbound_port);
      uint16_t app_port = w.app_port;
      if (app_port == 0 && w.ports.size() == 1) app_port = w.ports.begin()->second;
      if (app_port != 0) {
        entry.meta.annotations[translate::kAppPortAnnotation] = std::to_string(app_port);
      }
      entry.meta.labels[translate::kTlsModeLabel] = translate::kIstioTlsMode;
      // Its certificate names "default" when the hello named no service account (as Kubernetes
      // gives every pod one), so the endpoint's SPIFFE ID must too.
      if (service_account.empty()) service_account = "default";
    }
    entry.meta.pos.file = std::make_shared<const std::string>("registered by " + w.registered_by);
    entry.spec.address = w.address;
    entry.spec.labels = entry.meta.labels;
    if (!service_account.empty()) entry.spec.service_account = service_account;
    for (const auto& [name, number] : w.ports) entry.spec.ports[name] = number;
    config.workload_entries.push_back(std::move(entry));
  }
}

}  // namespace halyard::control
