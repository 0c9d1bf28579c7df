// The Kubernetes objects Halyard reads, with only the fields the service registry, the analyzers
// and the proxy need. Hand-written (the Istio kinds are generated: istio_types.h). Absent strings
// are empty and absent numbers 0, as Kubernetes itself treats them; `line` is the line of the
// struct's node (0 when absent). Decoders: config/yaml/kube_decode.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "config/model/object_meta.h"

namespace halyard::config::model {

// core/v1 Service.
struct Service {
  struct Port {
    std::string name;
    int64_t port = 0;
    // targetPort as written: a number ("8080") or a container port name ("http"); empty when
    // absent (Kubernetes then uses `port`).
    std::string target_port;
    std::optional<int64_t> target_port_number;  // set when targetPort is a number
    std::string protocol;                       // "TCP" (default), "UDP", "SCTP"; "" when absent
    std::string app_protocol;                   // appProtocol
    int64_t node_port = 0;                      // nodePort
    int line = 0;
  };

  ObjectMeta meta;
  std::string type;        // spec.type: "ClusterIP" (default), "NodePort", "LoadBalancer", ...
  std::string cluster_ip;  // spec.clusterIP; "None" for a headless service
  std::map<std::string, std::string> selector;
  std::vector<Port> ports;
  std::string external_name;  // spec.externalName (type ExternalName)
  int line = 0;               // of spec
};

// core/v1 Endpoints.
struct Endpoints {
  struct Address {
    std::string ip;
    std::string hostname;
    std::string node_name;        // nodeName
    std::string target_ref_name;  // targetRef.name (usually the pod)
    int line = 0;
  };
  struct Port {
    std::string name;
    int64_t port = 0;
    std::string protocol;
    int line = 0;
  };
  struct Subset {
    std::vector<Address> addresses;
    std::vector<Address> not_ready_addresses;  // notReadyAddresses
    std::vector<Port> ports;
    int line = 0;
  };

  ObjectMeta meta;
  std::vector<Subset> subsets;
};

// core/v1 Namespace; its labels (istio-injection, istio.io/rev) are in meta.
struct Namespace {
  ObjectMeta meta;
};

// core/v1 Pod.
struct Pod {
  struct ContainerPort {
    std::string name;
    int64_t container_port = 0;  // containerPort
    std::string protocol;
    int line = 0;
  };
  struct Container {
    std::string name;
    std::string image;
    std::vector<ContainerPort> ports;
    int line = 0;
  };

  ObjectMeta meta;
  // spec.serviceAccountName, or the deprecated spec.serviceAccount when only that is given.
  std::string service_account;
  std::vector<Container> containers;
  std::string pod_ip;  // status.podIP
  std::string phase;   // status.phase
};

// core/v1 Secret. Values stay as written (base64 in `data`, plain text in `string_data`).
struct Secret {
  ObjectMeta meta;
  std::string type;  // "kubernetes.io/tls", "Opaque", ...
  std::map<std::string, std::string> data;
  std::map<std::string, std::string> string_data;  // stringData
};

// core/v1 ConfigMap.
struct ConfigMap {
  ObjectMeta meta;
  std::map<std::string, std::string> data;
};

}  // namespace halyard::config::model
