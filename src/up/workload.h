// The Halyard `Workload` kind (apiVersion halyard.dev/v1alpha1): what `halyard up` runs with a
// sidecar in front of it — its identity (name, namespace, service account, labels), the Service
// it backs, the command, environment and port of the app. Reference: docs/halyard-up.md.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "common/source_pos.h"
#include "config/model/object.h"

namespace halyard::up {

inline constexpr const char* kWorkloadApiVersion = "halyard.dev/v1alpha1";
inline constexpr const char* kWorkloadKind = "Workload";

struct Workload {
  std::string name;
  std::string namespace_ = "default";
  std::string service_account;  // spec.serviceAccount; defaults to the name
  std::map<std::string, std::string> labels;
  std::string service;               // spec.service: the Service it backs ("" when not said)
  std::vector<std::string> command;  // spec.command: argv; command[0] is the program
  std::vector<std::pair<std::string, std::string>> env;  // spec.env, in document order
  std::string working_dir;  // absolute: spec.workingDir resolved against the file's directory
  uint16_t port = 0;        // spec.port: where the app listens on 127.0.0.1
  common::SourcePos pos;    // the document's first line
  // Where fields are written, for the checks that come after decoding (the object's line when
  // absent).
  common::SourcePos name_pos, service_pos, command_pos, working_dir_pos, port_pos;
};

// One problem with a declaration: "workloads.yaml:12: spec.port: must be ..."
struct WorkloadProblem {
  common::SourcePos pos;
  std::string field;  // "spec.port"; "" for the whole object
  std::string message;
  std::string str() const;
};

struct WorkloadSet {
  std::vector<Workload> workloads;
  std::vector<WorkloadProblem> problems;
};

bool isWorkload(const config::Object& obj);

// Decodes and checks every Workload among `objects` (others are ignored): required fields,
// types, unknown fields, duplicate names and ports.
WorkloadSet decodeWorkloads(const std::vector<config::Object>& objects);

}  // namespace halyard::up
